package web

import (
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/web/chart"
)

// The quarantine view: a run's rejected rows grouped by reason and by file,
// with counts and bar charts, the rows page by page (raw text escaped), and
// a CSV download.

// reasonKind groups reasons that differ only in their values: quoted values
// become "…" and numbers N, except inside brackets ("review_rating 7 out of
// range [0, 5]" and "... 9 out of range [0, 5]" are one kind).
func reasonKind(reason string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(reason); {
		c := reason[i]
		switch {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case c == '"' && depth == 0:
			j := i + 1
			for j < len(reason) && reason[j] != '"' {
				if reason[j] == '\\' {
					j++
				}
				j++
			}
			b.WriteString(`"…"`)
			i = j + 1
			continue
		case depth == 0 && (isDigit(c) || c == '-' && i+1 < len(reason) && isDigit(reason[i+1])) && (i == 0 || !isWord(reason[i-1])):
			j := i + 1
			for j < len(reason) && (isDigit(reason[j]) || reason[j] == '.' && j+1 < len(reason) && isDigit(reason[j+1])) {
				j++
			}
			if j == len(reason) || !isWord(reason[j]) {
				b.WriteByte('N')
				i = j
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isWord(c byte) bool {
	return c == '_' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// quarantineFilter narrows the rows shown and downloaded.
type quarantineFilter struct {
	Entity, Reason, File string
}

func (f quarantineFilter) match(r quarantine.EntityRow) bool {
	return (f.Entity == "" || r.Entity == f.Entity) && (f.File == "" || r.SourceFile == f.File) &&
		(f.Reason == "" || reasonKind(r.Reason) == f.Reason)
}

func (f quarantineFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"entity": f.Entity, "reason": f.Reason, "file": f.File} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

func readFilter(r *http.Request) (quarantineFilter, error) {
	v := r.URL.Query()
	f := quarantineFilter{Entity: v.Get("entity"), Reason: v.Get("reason"), File: v.Get("file")}
	if f.Entity != "" {
		if _, ok := grpipe.EntityByName(f.Entity); !ok {
			return f, fmt.Errorf("entity %q: %w (reviews, users, authors or books)", f.Entity, grpipe.ErrNotFound)
		}
	}
	return f, nil
}

// group is a count of rejected rows sharing a reason kind, a file or an entity.
type group struct {
	Key     string
	Example string // a reason of the kind, as written
	Rows    int64
	Href    string // the view filtered to this group
}

// quarantineStats is what one pass over a run's rejected rows finds.
type quarantineStats struct {
	Total    int64 // every rejected row of the run
	Matched  int64 // the rows the filter keeps
	ByReason []group
	ByFile   []group
	ByEntity []group
	Rows     []quarantine.EntityRow // the page asked for
}

// scanQuarantine reads the run's rejected rows once: it counts them by
// reason kind, file and entity (each under the filter's other conditions,
// so the groups stay meaningful when filtered) without building them, and
// builds only rows [offset, offset+limit) of those the filter keeps: a page
// holds only its rows, whatever the size of the quarantine files.
func (s *Server) scanQuarantine(r *http.Request, runID string, f quarantineFilter, offset, limit int) (quarantineStats, error) {
	var st quarantineStats
	reasons, files, entities := map[string]*group{}, map[string]*group{}, map[string]*group{}
	kinds := map[string]string{} // reason -> its kind, each computed once
	// (Map lookups with string(b) do not allocate: a row allocates nothing
	// unless it opens a group.)
	add := func(m map[string]*group, key []byte) {
		if g, ok := m[string(key)]; ok {
			g.Rows++
			return
		}
		m[string(key)] = &group{Key: string(key), Rows: 1}
	}
	err := s.b.ScanRejected(r.Context(), runID, func(entity string, v RejectedView) error {
		file, reason := v.SourceFile(), v.Reason()
		st.Total++
		kind, ok := kinds[string(reason)]
		if !ok {
			kind = reasonKind(string(reason))
			kinds[string(reason)] = kind
		}
		entityOK := f.Entity == "" || entity == f.Entity
		fileOK := f.File == "" || string(file) == f.File
		reasonOK := f.Reason == "" || kind == f.Reason
		if entityOK && fileOK {
			if g, ok := reasons[kind]; ok {
				g.Rows++
			} else {
				reasons[kind] = &group{Key: kind, Example: string(reason), Rows: 1}
			}
		}
		if entityOK && reasonOK {
			add(files, file)
		}
		if fileOK && reasonOK {
			if g, ok := entities[entity]; ok {
				g.Rows++
			} else {
				entities[entity] = &group{Key: entity, Rows: 1}
			}
		}
		if !(entityOK && fileOK && reasonOK) {
			return nil
		}
		st.Matched++
		if st.Matched > int64(offset) && len(st.Rows) < limit {
			row, err := v.Row()
			if err != nil {
				return err
			}
			st.Rows = append(st.Rows, quarantine.EntityRow{Entity: entity, Row: row})
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	sorted := func(m map[string]*group, set func(*quarantineFilter, string)) []group {
		out := make([]group, 0, len(m))
		for _, g := range m {
			nf := f
			set(&nf, g.Key)
			g.Href = "?" + nf.values().Encode()
			out = append(out, *g)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Rows != out[j].Rows {
				return out[i].Rows > out[j].Rows
			}
			return out[i].Key < out[j].Key
		})
		return out
	}
	st.ByReason = sorted(reasons, func(f *quarantineFilter, k string) { f.Reason = k })
	st.ByFile = sorted(files, func(f *quarantineFilter, k string) { f.File = k })
	st.ByEntity = sorted(entities, func(f *quarantineFilter, k string) { f.Entity = k })
	return st, nil
}

type quarantineData struct {
	Run           grpipe.Run
	Filter        quarantineFilter
	Entities      []string
	Stats         quarantineStats
	ReasonChart   template.HTML
	FileChart     template.HTML
	PageNo, Pages int64
	Prev, Next    string
	CSV           string
	First, Last   int64
	Clear         string
}

// maxGroupBars bounds a chart's bars; the rest are summed into one.
const maxGroupBars = 12

func groupChart(id, title, desc string, groups []group, color string) template.HTML {
	var bars []chart.Bar
	var other int64
	for i, g := range groups {
		if i >= maxGroupBars {
			other += g.Rows
			continue
		}
		label := g.Key
		if label == "" {
			label = "(none)"
		}
		bars = append(bars, chart.Bar{Label: label, Value: float64(g.Rows), Href: g.Href,
			Title: fmt.Sprintf("%s: %s rows (click to show only these)", firstNonEmpty(g.Example, label), chart.Number(float64(g.Rows)))})
	}
	if other > 0 {
		bars = append(bars, chart.Bar{Label: fmt.Sprintf("%d others", len(groups)-maxGroupBars), Value: float64(other), Color: "#bab0ac"})
	}
	return chart.HBar{ID: id, Title: title, Desc: desc, Bars: bars, Width: 900, LabelWidth: 420, Color: color}.SVG()
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func (s *Server) pageQuarantine(w http.ResponseWriter, r *http.Request) {
	if !s.dagOK(w, r) {
		return
	}
	run, _, err := s.run(r.Context(), r.PathValue("run"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := readFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := intParam(r.URL.Query(), "page", 1, 1, 1<<30)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.scanQuarantine(r, run.RunID, f, (page-1)*pageRows, pageRows)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := quarantineData{Run: run, Filter: f, Stats: st, PageNo: int64(page), First: int64((page-1)*pageRows + 1)}
	for _, e := range grpipe.Entities() {
		d.Entities = append(d.Entities, e.Name)
	}
	d.Pages = (st.Matched + pageRows - 1) / pageRows
	d.Last = d.First + int64(len(st.Rows)) - 1
	link := func(p int64) string {
		v := f.values()
		if p > 1 {
			v.Set("page", strconv.FormatInt(p, 10))
		}
		return "?" + v.Encode()
	}
	if page > 1 {
		d.Prev = link(int64(page) - 1)
	}
	if int64(page) < d.Pages {
		d.Next = link(int64(page) + 1)
	}
	d.CSV = "/dags/" + grpipe.DAGID + "/runs/" + url.PathEscape(run.RunID) + "/quarantine/csv"
	if q := f.values().Encode(); q != "" {
		d.CSV += "?" + q
	}
	if f != (quarantineFilter{}) {
		d.Clear = "/dags/" + grpipe.DAGID + "/runs/" + url.PathEscape(run.RunID) + "/quarantine"
	}
	if st.Total > 0 {
		d.ReasonChart = groupChart("chart-reasons", "Rejected rows by reason",
			"Horizontal bars: the number of rejected rows of each kind of reason, most frequent first.", st.ByReason, "#e15759")
		d.FileChart = groupChart("chart-files", "Rejected rows by file",
			"Horizontal bars: the number of rejected rows of each input file.", st.ByFile, "#f28e2b")
	}
	s.render(w, r, "quarantine", "Quarantine "+run.RunID, d)
}

// quarantineCSVHeader is the download's header: the quarantine file's
// columns, with the entity first.
var quarantineCSVHeader = append([]string{"entity"}, quarantine.ColumnNames()...)

func (s *Server) pageQuarantineCSV(w http.ResponseWriter, r *http.Request) {
	if !s.dagOK(w, r) {
		return
	}
	run, _, err := s.run(r.Context(), r.PathValue("run"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := readFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cw := csv.NewWriter(w)
	started := false
	start := func() error {
		if started {
			return nil
		}
		started = true
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+csvName("quarantine_"+run.RunID)+`"`)
		return cw.Write(quarantineCSVHeader)
	}
	err = s.b.ScanRejected(r.Context(), run.RunID, func(entity string, v RejectedView) error {
		if err := start(); err != nil {
			return err
		}
		if (f.Entity != "" && entity != f.Entity) || (f.File != "" && string(v.SourceFile()) != f.File) ||
			(f.Reason != "" && reasonKind(string(v.Reason())) != f.Reason) {
			return nil
		}
		row, err := v.Row()
		if err != nil {
			return err
		}
		return cw.Write(append([]string{entity}, row.Record()...))
	})
	if err != nil && !started {
		s.fail(w, r, err)
		return
	}
	if err == nil {
		err = start()
	}
	cw.Flush()
	if err != nil && !errors.Is(err, ErrStop) {
		s.log.Warn("quarantine download cut short", "run_id", run.RunID, "error", err)
	}
}

func (s *Server) apiQuarantine(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	run, _, err := s.run(r.Context(), r.PathValue("run"))
	if err != nil {
		s.apiFail(w, err)
		return
	}
	f, err := readFilter(r)
	if err != nil {
		s.apiFail(w, err)
		return
	}
	v := r.URL.Query()
	offset, err := intParam(v, "offset", 0, 0, 1<<40)
	var limit int
	if err == nil {
		limit, err = intParam(v, "limit", pageRows, 1, maxAPIRows)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	st, err := s.scanQuarantine(r, run.RunID, f, offset, limit)
	if err != nil {
		s.apiFail(w, err)
		return
	}
	type grp struct {
		Key     string `json:"key"`
		Example string `json:"example,omitempty"`
		Rows    int64  `json:"rows"`
	}
	groups := func(gs []group) []grp {
		out := []grp{}
		for _, g := range gs {
			out = append(out, grp{g.Key, g.Example, g.Rows})
		}
		return out
	}
	rows := append([]quarantine.EntityRow{}, st.Rows...) // the columns of package quarantine, entity first; [] when none
	writeJSON(w, http.StatusOK, map[string]any{"dag_run_id": run.RunID, "total_rejected": st.Total, "total_entries": st.Matched,
		"offset": offset, "by_reason": groups(st.ByReason), "by_file": groups(st.ByFile), "by_entity": groups(st.ByEntity), "rows": rows})
}
