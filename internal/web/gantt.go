package web

import (
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/web/chart"
)

type ganttData struct {
	Run     grpipe.Run
	Chart   template.HTML
	Tries   []TaskInstance // every try, in DAG order
	Mapped  []MappedInstance
	Started bool
}

func (d ganttData) liveRun() string { return liveID(d.Run) }
func (d ganttData) grows() bool     { return true }

// tryTitle is a try's hover text: task, try, state, start, end, duration
// and, when known, the worker and the error.
func tryTitle(ti TaskInstance, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s · try %d", ti.TaskID, ti.Try)
	if ti.MaxTries > 0 {
		fmt.Fprintf(&b, " of %d", ti.MaxTries)
	}
	fmt.Fprintf(&b, " · %s\nstart %s", ti.State, fmtTime(ti.StartedAt))
	if ti.EndedAt.IsZero() {
		fmt.Fprintf(&b, "\nrunning for %s", chart.Duration(now.Sub(ti.StartedAt).Round(time.Second)))
	} else {
		fmt.Fprintf(&b, "\nend %s\nduration %s", fmtTime(ti.EndedAt), fmtDur(ti.Duration()))
	}
	if ti.Worker != "" {
		fmt.Fprintf(&b, "\nworker %s", ti.Worker)
	}
	if ti.Error != "" {
		fmt.Fprintf(&b, "\nerror: %s", clip(ti.Error, 240))
	}
	return b.String()
}

// mappedTryTitle is the hover text of a try of a mapped instance.
func mappedTryTitle(mi MappedInstance, now time.Time) string {
	ti := mi.TaskInstance
	ti.TaskID = mappedName(mi.TaskID, mi.MapIndex)
	s := tryTitle(ti, now)
	if mi.Label != "" {
		s += "\nfile " + mi.Label
	}
	return s
}

// ganttChart draws every try of every task of a run on one time axis, each
// task's mapped instances (by map index, every try) in rows under it.
func ganttChart(run grpipe.Run, order []string, tis []TaskInstance, mis []MappedInstance, now time.Time) (template.HTML, []TaskInstance, bool) {
	byTask := map[string][]TaskInstance{}
	for _, ti := range tis {
		byTask[ti.TaskID] = append(byTask[ti.TaskID], ti)
	}
	mapped := map[string][]MappedInstance{}
	for _, mi := range mis {
		mapped[mi.TaskID] = append(mapped[mi.TaskID], mi)
	}
	var rows []chart.Row
	var sorted []TaskInstance
	started := false
	for _, id := range order {
		list := byTask[id]
		sort.Slice(list, func(i, j int) bool { return list[i].Try < list[j].Try })
		sorted = append(sorted, list...)
		row := chart.Row{Label: id, Href: taskHref(run.RunID, id, 0), Data: map[string]string{"task": id}}
		for _, ti := range list {
			if ti.StartedAt.IsZero() {
				continue
			}
			started = true
			end := ti.EndedAt
			if end.IsZero() {
				end = now
			}
			data := map[string]string{"task": id, "try": fmt.Sprint(ti.Try), "state": string(ti.State), "duration-ms": fmt.Sprint(end.Sub(ti.StartedAt).Milliseconds())}
			if ti.Worker != "" {
				data["worker"] = ti.Worker
			}
			row.Spans = append(row.Spans, chart.Span{Start: ti.StartedAt, End: end, Color: StateColor(ti.State),
				Title: tryTitle(ti, now), Href: taskHref(run.RunID, id, ti.Try), Data: data})
		}
		rows = append(rows, row)
		list2 := mapped[id]
		sort.Slice(list2, func(i, j int) bool {
			if list2[i].MapIndex != list2[j].MapIndex {
				return list2[i].MapIndex < list2[j].MapIndex
			}
			return list2[i].Try < list2[j].Try
		})
		for i, mi := range list2 {
			if i == 0 || list2[i-1].MapIndex != mi.MapIndex {
				rows = append(rows, chart.Row{Label: mappedName(id, mi.MapIndex), Href: mappedHref(mi), Data: map[string]string{"task": id, "map-index": fmt.Sprint(mi.MapIndex)}})
			}
			if mi.StartedAt.IsZero() {
				continue
			}
			started = true
			end := mi.EndedAt
			if end.IsZero() {
				end = now
			}
			data := map[string]string{"task": id, "map-index": fmt.Sprint(mi.MapIndex), "try": fmt.Sprint(mi.Try), "state": string(mi.State), "duration-ms": fmt.Sprint(end.Sub(mi.StartedAt).Milliseconds())}
			if mi.Worker != "" {
				data["worker"] = mi.Worker
			}
			r := &rows[len(rows)-1]
			r.Href = mappedHref(mi)
			r.Spans = append(r.Spans, chart.Span{Start: mi.StartedAt, End: end, Color: StateColor(mi.State),
				Title: mappedTryTitle(mi, now), Href: mappedHref(mi), Data: data})
		}
	}
	c := chart.Timeline{ID: "gantt-chart", Title: "Gantt chart of run " + run.RunID,
		Desc: fmt.Sprintf("Each try of each of the %d tasks as a bar on a time axis, coloured by its state, the instances of a mapped task (one per landed file) in rows under it; hover a bar for its start, end and duration.", len(order)),
		Rows: rows, Width: 1100}
	return c.SVG(), sorted, started
}

func (s *Server) pageGantt(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadRun(w, r)
	if !ok {
		return
	}
	var order []string
	for _, t := range p.info.Tasks {
		order = append(order, t.ID)
	}
	mis, err := s.b.MappedInstances(r.Context(), p.run.RunID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := ganttData{Run: p.run, Mapped: mis}
	d.Chart, d.Tries, d.Started = ganttChart(p.run, order, p.tis, mis, s.opts.Now())
	s.render(w, r, "gantt", "Gantt "+p.run.RunID, d)
}

// apiTries is Airflow's "list task instance tries": every try of one task.
func (s *Server) apiTries(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	run, _, err := s.run(r.Context(), r.PathValue("run"))
	if err != nil {
		s.apiFail(w, err)
		return
	}
	info, err := s.b.DAG(r.Context())
	if err != nil {
		s.apiFail(w, err)
		return
	}
	task := r.PathValue("task")
	known := false
	for _, t := range info.Tasks {
		known = known || t.ID == task
	}
	if !known {
		writeError(w, http.StatusNotFound, fmt.Sprintf("task %q not found in DAG %s", task, grpipe.DAGID))
		return
	}
	tis, err := s.b.TaskInstances(r.Context(), run.RunID)
	if err != nil {
		s.apiFail(w, err)
		return
	}
	out := []apiTaskInstance{}
	for _, ti := range tis {
		if ti.TaskID != task {
			continue
		}
		a := toAPITaskInstances(DAGInfo{Tasks: []TaskNode{{ID: task}}}, run, map[string]TaskInstance{task: ti})
		out = append(out, a...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TryNumber < out[j].TryNumber })
	writeJSON(w, http.StatusOK, map[string]any{"task_instances": out, "total_entries": len(out)})
}
