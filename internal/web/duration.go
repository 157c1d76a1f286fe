package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/web/chart"
)

// runStats is one run's figures for the trend charts: each task's duration
// (its last try) and the ledger summed over the four tables.
type runStats struct {
	Run      grpipe.Run
	Duration time.Duration
	// Tasks maps a task id to its last try.
	Tasks map[string]TaskInstance
	// Ledger sums the tables' ledgers; Tables holds them one by one (nil
	// while the run has no summary).
	Ledger grpipe.Ledger
	Tables map[string]grpipe.Ledger
	// Quarantined marks a failed run whose ledger is empty (a file was
	// refused whole, so nothing was staged) but whose quarantine holds
	// rejected rows: Tables and Ledger then hold only the rejected counts,
	// read from the quarantine.
	Quarantined bool
}

// Limits of the trend views' ?runs= (or the API's ?limit=).
const (
	defaultTrendRuns = 25
	maxTrendRuns     = 200
)

// runHistory reads the last n runs, oldest first, with their tasks and ledgers.
func (s *Server) runHistory(ctx context.Context, n int) ([]runStats, error) {
	runs, err := s.b.Runs(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]runStats, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		run := runs[i]
		st := runStats{Run: run}
		if !run.StartedAt.IsZero() && !run.EndedAt.IsZero() {
			st.Duration = run.EndedAt.Sub(run.StartedAt)
		}
		tis, err := s.b.TaskInstances(ctx, run.RunID)
		if err != nil {
			return nil, err
		}
		st.Tasks = latestTries(tis)
		_, sum, err := s.b.Run(ctx, run.RunID)
		if err != nil {
			return nil, err
		}
		if sum != nil {
			st.Tables = sum.Tables
			for _, l := range sum.Tables {
				st.Ledger.Read += l.Read
				st.Ledger.Rejected += l.Rejected
				st.Ledger.Superseded += l.Superseded
				st.Ledger.Staged += l.Staged
				st.Ledger.Inserted += l.Inserted
				st.Ledger.Updated += l.Updated
				st.Ledger.Stale += l.Stale
			}
		}
		if run.State == grpipe.StateFailed && st.Ledger.Read == 0 {
			s.quarantinedCounts(ctx, &st)
		}
		out = append(out, st)
	}
	return out, nil
}

// quarantinedCounts fills a failed run's rejected counts, by table, from
// its quarantine: a run that refused a file for too many rejected rows
// stages nothing, so its ledger is empty, yet that run is the one a
// data-quality drift shows in. A run without quarantined rows, or whose
// quarantine cannot be read (logged), is left as it is.
func (s *Server) quarantinedCounts(ctx context.Context, st *runStats) {
	counts := map[string]int64{}
	var total int64
	err := s.b.ScanRejected(ctx, st.Run.RunID, func(entity string, _ RejectedView) error {
		counts[entity]++
		total++
		return nil
	})
	if err != nil {
		// The chart goes without this run's rejected rows rather than fail.
		if !errors.Is(err, grpipe.ErrNotFound) {
			s.log.Warn("trend charts: rejected rows of a failed run unreadable", "run_id", st.Run.RunID, "error", err)
		}
		return
	}
	if total == 0 {
		return
	}
	st.Quarantined = true
	st.Tables = map[string]grpipe.Ledger{}
	for entity, n := range counts {
		st.Tables[entity] = grpipe.Ledger{Rejected: n}
	}
	st.Ledger = grpipe.Ledger{Rejected: total}
}

// trendRuns reads ?runs= (pages) or ?limit= (API).
func trendRuns(r *http.Request, param string) (int, error) {
	v := r.URL.Query().Get(param)
	if v == "" {
		return defaultTrendRuns, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxTrendRuns {
		return 0, fmt.Errorf("%w: %s must be a number from 1 to %d", grpipe.ErrBadInput, param, maxTrendRuns)
	}
	return n, nil
}

// runTime is the time a run is shown at: its logical date, or when it
// started or was queued.
func runTime(r grpipe.Run) time.Time {
	t := r.LogicalDate
	if t.IsZero() {
		t = r.StartedAt
	}
	if t.IsZero() {
		t = r.QueuedAt
	}
	return t.UTC()
}

// runLabel is a run's short label on the grid's axis: its logical date to
// the second (runs a few seconds apart stay apart) and the first letter of
// its type (m manual, s scheduled, b backfill; the hover text names it).
func runLabel(r grpipe.Run) string {
	kind := ""
	if r.RunType != "" {
		kind = " " + string(r.RunType)[:1]
	}
	return runTime(r).Format("01-02 15:04:05") + kind
}

// runCategory is a run on the trend charts' x axis: its logical date to
// the second, its type on a second line, its full name on hover.
func runCategory(r grpipe.Run) chart.Category {
	return chart.Category{Label: runTime(r).Format("01-02 15:04:05"), Sub: string(r.RunType), Title: runTitle(r), Href: runHref(r.RunID)}
}

// runTitle names a run fully, for hover texts.
func runTitle(r grpipe.Run) string {
	s := fmt.Sprintf("%s (%s, %s", r.RunID, r.RunType, r.State)
	if !r.LogicalDate.IsZero() {
		s += ", logical date " + fmtTime(r.LogicalDate)
	}
	return s + ")"
}

func runHref(runID string) string { return "/dags/" + grpipe.DAGID + "/runs/" + runID }

func seconds(v float64) string { return chart.Duration(time.Duration(v * float64(time.Second))) }

// chartWidth is the trend charts' drawn width: a wide card on a screen
// 1400 pixels wide (narrower screens scale the picture down).
const chartWidth = 1300

type durationData struct {
	Runs    []runStats
	Tasks   []string
	N       int
	Stacked bool
	// Quarantined: a run's rejected rows were counted in its quarantine.
	Quarantined bool
	// Charts.
	Durations, Rows, Rejected template.HTML
	Live                      string
}

func (d durationData) liveRun() string { return d.Live }

func (s *Server) pageDuration(w http.ResponseWriter, r *http.Request) {
	if !s.dagOK(w, r) {
		return
	}
	n, err := trendRuns(r, "runs")
	if err != nil {
		s.failCode(w, r, http.StatusBadRequest, err)
		return
	}
	info, err := s.b.DAG(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hist, err := s.runHistory(r.Context(), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := durationData{Runs: hist, N: n, Stacked: r.URL.Query().Get("chart") == "stacked"}
	for _, t := range info.Tasks {
		d.Tasks = append(d.Tasks, t.ID)
	}
	var cats []chart.Category
	for _, h := range hist {
		cats = append(cats, runCategory(h.Run))
		d.Quarantined = d.Quarantined || h.Quarantined
		if h.Run.State == grpipe.StateRunning || h.Run.State == grpipe.StateQueued {
			d.Live = h.Run.RunID
		}
	}
	var series []chart.Series
	for i, task := range d.Tasks {
		se := chart.Series{Name: task, Color: chart.Color(i)}
		for _, h := range hist {
			v := math.NaN()
			if ti, ok := h.Tasks[task]; ok && ti.Duration() > 0 {
				v = ti.Duration().Seconds()
			}
			se.Values = append(se.Values, v)
		}
		series = append(series, se)
	}
	xy := chart.XY{ID: "chart-durations", Title: "Task duration per run",
		Desc:       fmt.Sprintf("Duration of the last try of each of the %d tasks in each of the last %d runs, oldest on the left.", len(d.Tasks), len(hist)),
		Categories: cats, Series: series, Width: chartWidth, Height: 360, Format: seconds, YLabel: "duration"}
	if d.Stacked {
		d.Durations = chart.Columns{XY: xy, Stacked: true}.SVG()
	} else {
		d.Durations = chart.Lines{XY: xy}.SVG()
	}

	ledger := []chart.Series{{Name: "rejected", Color: "#e15759"}, {Name: "superseded", Color: "#bab0ac"}, {Name: "staged", Color: "#59a14f"}}
	var rejected []chart.Series
	for i, e := range grpipe.Entities() {
		rejected = append(rejected, chart.Series{Name: e.Name, Color: chart.Color(i)})
	}
	for _, h := range hist {
		vals := []float64{float64(h.Ledger.Rejected), float64(h.Ledger.Superseded), float64(h.Ledger.Staged)}
		switch {
		case h.Tables == nil:
			vals = []float64{math.NaN(), math.NaN(), math.NaN()}
		case h.Quarantined: // only the rejected rows are known
			vals = []float64{float64(h.Ledger.Rejected), math.NaN(), math.NaN()}
		}
		for i := range ledger {
			ledger[i].Values = append(ledger[i].Values, vals[i])
		}
		for i, e := range grpipe.Entities() {
			v := math.NaN()
			if l, ok := h.Tables[e.Name]; ok {
				v = float64(l.Rejected)
			}
			rejected[i].Values = append(rejected[i].Values, v)
		}
	}
	d.Rows = chart.Columns{Stacked: true, XY: chart.XY{ID: "chart-rows", Title: "Rows per run",
		Desc:       "Stacked columns: the rows each run read, split into rejected, superseded (an older version of an id in the same batch) and staged; the stack's height is the rows read.",
		Categories: cats, Series: ledger, Width: chartWidth, Height: 280, YLabel: "rows", Counts: true}}.SVG()
	d.Rejected = chart.Columns{Stacked: true, XY: chart.XY{ID: "chart-rejected", Title: "Rejected rows per run",
		Desc:       "Stacked columns: the rows each run quarantined, by table (for a run that refused a file, counted in its quarantine); a rising column is a data-quality drift.",
		Categories: cats, Series: rejected, Width: chartWidth, Height: 240, YLabel: "rejected rows", Counts: true}}.SVG()
	s.render(w, r, "duration", "Task duration", d)
}

// apiRunHistory answers the API's trend requests' common part: the DAG
// checked, the number of runs read from ?limit= and their history loaded.
// It has written the error response when ok is false.
func (s *Server) apiRunHistory(w http.ResponseWriter, r *http.Request) (hist []runStats, ok bool) {
	if !s.apiDAGOK(w, r) {
		return nil, false
	}
	n, err := trendRuns(r, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	hist, err = s.runHistory(r.Context(), n)
	if err != nil {
		s.apiFail(w, err)
		return nil, false
	}
	return hist, true
}

// apiDuration serves the trend charts' data: per run, each task's duration
// and the ledger of each table.
func (s *Server) apiDuration(w http.ResponseWriter, r *http.Request) {
	hist, ok := s.apiRunHistory(w, r)
	if !ok {
		return
	}
	type runOut struct {
		DagRunID    string                   `json:"dag_run_id"`
		RunType     string                   `json:"run_type"`
		State       string                   `json:"state"`
		LogicalDate *string                  `json:"logical_date"`
		Duration    *float64                 `json:"duration"`
		Tasks       map[string]*float64      `json:"task_durations"`
		Tables      map[string]grpipe.Ledger `json:"tables"`
		// FromQuarantine: the run refused a file and staged nothing; its
		// tables hold only the rejected rows, counted in its quarantine.
		FromQuarantine bool `json:"rejected_from_quarantine,omitempty"`
	}
	out := []runOut{}
	for _, h := range hist {
		ro := runOut{DagRunID: h.Run.RunID, RunType: string(h.Run.RunType), State: string(h.Run.State), LogicalDate: timePtr(h.Run.LogicalDate),
			Tasks: map[string]*float64{}, Tables: h.Tables, FromQuarantine: h.Quarantined}
		if h.Duration > 0 {
			sec := h.Duration.Seconds()
			ro.Duration = &sec
		}
		for id, ti := range h.Tasks {
			if d := ti.Duration(); d > 0 {
				sec := d.Seconds()
				ro.Tasks[id] = &sec
			} else {
				ro.Tasks[id] = nil
			}
		}
		if ro.Tables == nil {
			ro.Tables = map[string]grpipe.Ledger{}
		}
		out = append(out, ro)
	}
	writeJSON(w, http.StatusOK, map[string]any{"dag_runs": out, "total_entries": len(out)})
}

// apiTaskInstancesAcrossRuns is Airflow's "list task instances" with the
// run id "~": the last try of every task in each of the last runs.
func (s *Server) apiTaskInstancesAcrossRuns(w http.ResponseWriter, r *http.Request) {
	hist, ok := s.apiRunHistory(w, r)
	if !ok {
		return
	}
	info, err := s.b.DAG(r.Context())
	if err != nil {
		s.apiFail(w, err)
		return
	}
	out := []apiTaskInstance{}
	for _, h := range hist {
		out = append(out, toAPITaskInstances(info, h.Run, h.Tasks)...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_instances": out, "total_entries": len(out)})
}
