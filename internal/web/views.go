package web

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
)

func (s *Server) routes() {
	m := s.mux
	static, _ := subFS("static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /login", s.handleLogin)
	m.HandleFunc("POST /login", s.handleLogin)
	m.HandleFunc("POST /logout", s.handleLogout)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/dags", http.StatusSeeOther) })
	m.HandleFunc("GET /dags", s.pageDAGs)
	m.HandleFunc("POST /dags/{dag}/pause", s.actionPause(true))
	m.HandleFunc("POST /dags/{dag}/unpause", s.actionPause(false))
	m.HandleFunc("POST /dags/{dag}/trigger", s.actionTrigger)
	m.HandleFunc("GET /dags/{dag}/graph", s.pageGraph)
	m.HandleFunc("GET /dags/{dag}/grid", s.pageGrid)
	m.HandleFunc("GET /dags/{dag}/runs/{run}", s.pageRun)
	m.HandleFunc("GET /dags/{dag}/runs/{run}/gantt", s.pageGantt)
	m.HandleFunc("GET /dags/{dag}/runs/{run}/quarantine", s.pageQuarantine)
	m.HandleFunc("GET /dags/{dag}/runs/{run}/tasks/{task}", s.pageTask)
	m.HandleFunc("GET /warehouse", s.pageWarehouse)
	s.chartRoutes()
	m.HandleFunc("GET /workers", s.pageWorkers)
	if s.opts.Metrics != nil {
		m.Handle("GET /metrics", s.opts.Metrics)
	}
	s.apiRoutes()
}

// page is what every page template gets.
type page struct {
	Title string
	Nav   string
	DAGID string
	CSRF  string
	Auth  bool
	// Live is the run whose progress the page follows (its scripts poll
	// the JSON API and update the page in place); "" when nothing runs.
	Live string
	// Grow marks pages whose drawing changes while the run goes on even
	// when no state changes (the Gantt's running bars).
	Grow bool
	// Refresh marks a page that follows no run but changes (the workers'
	// heartbeats): its main part is refreshed in place every few seconds.
	Refresh bool
	Data    any
}

// liver is page data that follows a running run.
type liver interface{ liveRun() string }

func (s *Server) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	t, ok := s.tmpl[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	p := page{Title: title, Nav: name, DAGID: grpipe.DAGID, CSRF: csrfToken(r), Auth: s.opts.Token != "", Data: data}
	if l, ok := data.(liver); ok {
		p.Live = l.liveRun()
	}
	if g, ok := data.(interface{ grows() bool }); ok {
		p.Grow = p.Live != "" && g.grows()
	}
	if rf, ok := data.(interface{ refresh() bool }); ok {
		p.Refresh = rf.refresh()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Error("render page", "page", name, "error", err)
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, err := buf.WriteTo(w); err != nil {
		s.log.Debug("write page", "error", err)
	}
}

// fail shows an error page: 404 for unknown ids, 400 for bad input, 500 otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, grpipe.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, grpipe.ErrBadInput):
		code = http.StatusBadRequest
	}
	s.failCode(w, r, code, err)
}

// failCode shows an error page with the given status.
func (s *Server) failCode(w http.ResponseWriter, r *http.Request, code int, err error) {
	w.WriteHeader(code)
	s.render(w, r, "error", http.StatusText(code), map[string]any{"Code": code, "Message": err.Error()})
}

// dagOK checks the {dag} path value names the one DAG.
func (s *Server) dagOK(w http.ResponseWriter, r *http.Request) bool {
	if id := r.PathValue("dag"); id != grpipe.DAGID {
		s.fail(w, r, fmt.Errorf("dag %q: %w (the one DAG is %s)", id, grpipe.ErrNotFound, grpipe.DAGID))
		return false
	}
	return true
}

type dagsData struct {
	DAG     DAGInfo
	Last    *grpipe.Run
	Running bool
}

func (d dagsData) liveRun() string {
	if d.Running {
		return d.Last.RunID
	}
	return ""
}

func (s *Server) pageDAGs(w http.ResponseWriter, r *http.Request) {
	info, err := s.b.DAG(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	info.Zones, info.Warehouse = config.Redact(info.Zones), config.Redact(info.Warehouse)
	runs, err := s.b.Runs(r.Context(), 1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := dagsData{DAG: info}
	if len(runs) > 0 {
		d.Last = &runs[0]
		d.Running = runs[0].State == grpipe.StateRunning || runs[0].State == grpipe.StateQueued
	}
	s.render(w, r, "dags", "DAGs", d)
}

func (s *Server) actionPause(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.dagOK(w, r) {
			return
		}
		if err := s.b.SetPaused(r.Context(), paused); err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/dags", http.StatusSeeOther)
	}
}

func (s *Server) actionTrigger(w http.ResponseWriter, r *http.Request) {
	if !s.dagOK(w, r) {
		return
	}
	run, err := s.b.Trigger(r.Context(), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/dags/"+grpipe.DAGID+"/grid?triggered="+url.QueryEscape(run.RunID), http.StatusSeeOther)
}

// pickRun returns the run named by ?run_id=, or the latest run (nil when there is none).
func (s *Server) pickRun(r *http.Request) (*grpipe.Run, error) {
	if id := r.URL.Query().Get("run_id"); id != "" {
		run, _, err := s.run(r.Context(), id)
		if err != nil {
			return nil, err
		}
		return &run, nil
	}
	runs, err := s.b.Runs(r.Context(), 1)
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	return &runs[0], nil
}

// latestTries keeps the last try of each task.
func latestTries(tis []TaskInstance) map[string]TaskInstance {
	out := map[string]TaskInstance{}
	for _, ti := range tis {
		if cur, ok := out[ti.TaskID]; !ok || ti.Try > cur.Try {
			out[ti.TaskID] = ti
		}
	}
	return out
}

type graphData struct {
	Run           *grpipe.Run
	Runs          []grpipe.Run
	Nodes         []graphNode
	Edges         []graphEdge
	Width, Height int
}

func (g graphData) liveRun() string {
	if g.Run != nil && (g.Run.State == grpipe.StateRunning || g.Run.State == grpipe.StateQueued) {
		return g.Run.RunID
	}
	return ""
}

func (s *Server) pageGraph(w http.ResponseWriter, r *http.Request) {
	if !s.dagOK(w, r) {
		return
	}
	info, err := s.b.DAG(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	run, err := s.pickRun(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	states := map[string]grpipe.State{}
	href := func(string) string { return "" }
	if run != nil {
		tis, err := s.b.TaskInstances(r.Context(), run.RunID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for id, ti := range latestTries(tis) {
			states[id] = ti.State
		}
		href = func(task string) string { return taskHref(run.RunID, task, 0) }
	}
	runs, err := s.b.Runs(r.Context(), 25)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	nodes, edges, width, height := graphLayout(info.Tasks, states, href)
	s.render(w, r, "graph", "Graph", graphData{Run: run, Runs: runs, Nodes: nodes, Edges: edges, Width: width, Height: height})
}

func taskHref(runID, task string, try int) string {
	h := "/dags/" + grpipe.DAGID + "/runs/" + runID + "/tasks/" + task
	if try > 0 {
		h += "?try=" + strconv.Itoa(try)
	}
	return h
}

type gridCell struct {
	State grpipe.State
	Href  string
	Title string
	Task  string
	Run   string
	// MapIndex is the instance of a mapped task a cell of MappedCells shows
	// (from it on, in the last row of a task with more than gridMapped).
	MapIndex int
	X, Y     int
}

type gridLabel struct {
	Text  string
	Title string
	X, Y  int
}

type gridData struct {
	Tasks     []string
	Labels    []gridLabel
	RunLabels []gridLabel
	Runs      []grpipe.Run
	Cells     []gridCell
	// MappedCells are the cells of the rows of mapped instances.
	MappedCells []gridCell
	RunCells    []gridCell
	Width       int
	Height      int
	Triggered   string
	Live        string
}

func (g gridData) liveRun() string { return g.Live }

// Geometry of the grid view.
const (
	gridLabelW = 250
	gridSize   = 18
	gridGap    = 4
	gridTop    = 26
	gridFoot   = 104 // room for the run labels under the grid (16 characters at 60°)
)

func (s *Server) pageGrid(w http.ResponseWriter, r *http.Request) {
	if !s.dagOK(w, r) {
		return
	}
	info, err := s.b.DAG(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	runs, err := s.b.Runs(r.Context(), 25)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Oldest on the left, newest on the right, as in Airflow's grid.
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	d := gridData{Runs: runs, Triggered: r.URL.Query().Get("triggered")}
	tis := make([]map[string]TaskInstance, len(runs))
	mapped := make([]map[string][]MappedInstance, len(runs))
	for c, run := range runs {
		all, err := s.b.TaskInstances(r.Context(), run.RunID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		mis, err := s.b.MappedInstances(r.Context(), run.RunID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		tis[c], mapped[c] = latestTries(all), latestMapped(mis)
	}
	// A task's row, then a row per map index of its mapped instances (the
	// most any shown run has), the ones past gridMapped summed up in one.
	type row struct {
		task     string
		mapIndex int // -1: the task itself
		rest     bool
	}
	var rows []row
	for _, t := range info.Tasks {
		d.Tasks = append(d.Tasks, t.ID)
		rows = append(rows, row{task: t.ID, mapIndex: -1})
		n := 0
		for _, m := range mapped {
			if list := m[t.ID]; len(list) > 0 {
				n = max(n, list[len(list)-1].MapIndex+1)
			}
		}
		for i := 0; i < min(n, gridMapped); i++ {
			rows = append(rows, row{task: t.ID, mapIndex: i})
		}
		if n > gridMapped {
			rows = append(rows, row{task: t.ID, mapIndex: gridMapped, rest: true})
		}
	}
	for i, rw := range rows {
		y := gridTop + i*(gridSize+gridGap) + 14
		switch {
		case rw.mapIndex < 0:
			d.Labels = append(d.Labels, gridLabel{Text: rw.task, X: 4, Y: y})
		case rw.rest:
			d.Labels = append(d.Labels, gridLabel{Text: fmt.Sprintf("%s[%d…]", rw.task, rw.mapIndex), Title: "the mapped instances from map index " + fmt.Sprint(rw.mapIndex) + " on; the run's Gantt chart lists each", X: 20, Y: y})
		default:
			d.Labels = append(d.Labels, gridLabel{Text: mappedName(rw.task, rw.mapIndex), Title: "mapped instance " + fmt.Sprint(rw.mapIndex) + " of " + rw.task + " (one per landed file)", X: 20, Y: y})
		}
	}
	bottom := gridTop + len(rows)*(gridSize+gridGap)
	for c, run := range runs {
		x := gridLabelW + c*(gridSize+gridGap)
		dur := ""
		if !run.StartedAt.IsZero() && !run.EndedAt.IsZero() {
			dur = ", " + fmtDur(run.EndedAt.Sub(run.StartedAt))
		}
		title := runTitle(run) + dur
		d.RunCells = append(d.RunCells, gridCell{State: run.State, Href: runHref(run.RunID), Title: title, Run: run.RunID, X: x, Y: 4})
		d.RunLabels = append(d.RunLabels, gridLabel{Text: runLabel(run), Title: title, X: x + gridSize/2 - 3, Y: bottom + 6})
		if id := liveID(run); id != "" {
			d.Live = id
		}
		for i, rw := range rows {
			cell := gridCell{State: grpipe.StateNone, Task: rw.task, Run: run.RunID, X: x, Y: gridTop + i*(gridSize+gridGap), MapIndex: rw.mapIndex}
			mis := mapped[c][rw.task]
			switch {
			case rw.mapIndex < 0:
				cell.Href, cell.Title = taskHref(run.RunID, rw.task, 0), rw.task+" in "+run.RunID+": no status"
				if ti, ok := tis[c][rw.task]; ok {
					cell.State = ti.State
					cell.Title = fmt.Sprintf("%s in %s: %s (try %d, %s)", rw.task, run.RunID, ti.State, ti.Try, fmtDur(ti.Duration()))
				}
				d.Cells = append(d.Cells, cell)
				continue
			case rw.rest:
				cell.Href = "/dags/" + grpipe.DAGID + "/runs/" + run.RunID + "/gantt"
				cell.Title = fmt.Sprintf("%s[%d…] in %s: not mapped", rw.task, rw.mapIndex, run.RunID)
				if k := sort.Search(len(mis), func(k int) bool { return mis[k].MapIndex >= rw.mapIndex }); k < len(mis) {
					rest := mis[k:]
					cell.State = groupState(rest)
					cell.Title = fmt.Sprintf("%s[%d…%d] in %s: %d instances of try %d: %s", rw.task, rw.mapIndex, rest[len(rest)-1].MapIndex, run.RunID, len(rest), rest[0].Try, countStates(rest))
				}
			default:
				cell.Href = "/dags/" + grpipe.DAGID + "/runs/" + run.RunID + "/gantt"
				cell.Title = mappedName(rw.task, rw.mapIndex) + " in " + run.RunID + ": not mapped"
				if k := sort.Search(len(mis), func(k int) bool { return mis[k].MapIndex >= rw.mapIndex }); k < len(mis) && mis[k].MapIndex == rw.mapIndex {
					mi := mis[k]
					cell.State, cell.Href, cell.Title = mi.State, mappedHref(mi), mappedTitle(mi)
				}
			}
			d.MappedCells = append(d.MappedCells, cell)
		}
	}
	d.Width = gridLabelW + len(runs)*(gridSize+gridGap) + 70
	d.Height = bottom + gridFoot
	s.render(w, r, "grid", "Grid", d)
}

type runData struct {
	Run     grpipe.Run
	Summary *grpipe.RunSummary
	Tables  []ledgerRow
	Tasks   []TaskInstance
	Failed  int
}

func (d runData) liveRun() string { return liveID(d.Run) }

// liveID is the run's id while it is queued or running, else "".
func liveID(r grpipe.Run) string {
	if r.State == grpipe.StateRunning || r.State == grpipe.StateQueued {
		return r.RunID
	}
	return ""
}

type ledgerRow struct {
	Table string
	grpipe.Ledger
}

func (s *Server) pageRun(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadRun(w, r)
	if !ok {
		return
	}
	run, sum, tis := p.run, p.sum, p.tis
	order := map[string]int{}
	for i, t := range p.info.Tasks {
		order[t.ID] = i
	}
	sort.SliceStable(tis, func(i, j int) bool {
		if order[tis[i].TaskID] != order[tis[j].TaskID] {
			return order[tis[i].TaskID] < order[tis[j].TaskID]
		}
		return tis[i].Try < tis[j].Try
	})
	d := runData{Run: run, Summary: sum, Tasks: tis}
	if sum != nil {
		for _, e := range grpipe.Entities() {
			d.Tables = append(d.Tables, ledgerRow{Table: e.Name, Ledger: sum.Tables[e.Name]})
		}
		for _, c := range sum.Checks {
			if !c.Passed {
				d.Failed++
			}
		}
	}
	s.render(w, r, "run", "Run "+run.RunID, d)
}

// runPage is what the pages of one run share.
type runPage struct {
	run  grpipe.Run
	sum  *grpipe.RunSummary
	info DAGInfo
	tis  []TaskInstance
}

// loadRun reads the run named in the path, the DAG and the run's task
// instances; on failure it has shown the error page and returns false.
func (s *Server) loadRun(w http.ResponseWriter, r *http.Request) (runPage, bool) {
	var p runPage
	if !s.dagOK(w, r) {
		return p, false
	}
	var err error
	if p.run, p.sum, err = s.run(r.Context(), r.PathValue("run")); err == nil {
		if p.info, err = s.b.DAG(r.Context()); err == nil {
			p.tis, err = s.b.TaskInstances(r.Context(), p.run.RunID)
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return p, false
	}
	return p, true
}

type taskData struct {
	Run      grpipe.Run
	TaskID   string
	Tries    []TaskInstance
	Selected TaskInstance
	// Log is the shown page of the try's log; NextHref and PrevHref link
	// the pages after and before it ("" when none).
	Log                logPart
	NextHref, PrevHref string
	LogError           string
}

func (d taskData) liveRun() string { return liveID(d.Run) }

func (s *Server) pageTask(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadRun(w, r)
	if !ok {
		return
	}
	run, task := p.run, r.PathValue("task")
	known := false
	for _, t := range p.info.Tasks {
		known = known || t.ID == task
	}
	if !known {
		s.fail(w, r, fmt.Errorf("task %q: %w", task, grpipe.ErrNotFound))
		return
	}
	var err error
	d := taskData{Run: run, TaskID: task}
	for _, ti := range p.tis {
		if ti.TaskID == task {
			d.Tries = append(d.Tries, ti)
		}
	}
	try := 0
	if v := r.URL.Query().Get("try"); v != "" {
		if try, err = strconv.Atoi(v); err != nil || try < 1 {
			s.fail(w, r, fmt.Errorf("try %q: %w", v, grpipe.ErrNotFound))
			return
		}
	}
	for _, ti := range d.Tries {
		if (try == 0 && ti.Try >= d.Selected.Try) || ti.Try == try {
			d.Selected = ti
		}
	}
	if try > 0 && d.Selected.Try != try {
		s.fail(w, r, fmt.Errorf("try %d of task %s: %w", try, task, grpipe.ErrNotFound))
		return
	}
	if d.Selected.Try > 0 {
		log, err := s.b.TaskLog(r.Context(), run.RunID, task, d.Selected.Try)
		if err != nil {
			d.LogError = err.Error()
		} else if d.Log, err = pageOf(log, r.URL.Query().Get("token")); err != nil {
			s.fail(w, r, err)
			return
		}
		if d.Log.Next >= 0 {
			d.NextHref = withToken(r.URL, d.Log.Next)
		}
		if d.Log.Prev >= 0 {
			d.PrevHref = withToken(r.URL, d.Log.Prev)
		}
	}
	s.render(w, r, "task", task, d)
}

// workersView is the workers page: each worker's heartbeat and tries.
type workersView struct {
	Workers []Worker
}

func (v workersView) refresh() bool { return len(v.Workers) > 0 }

func (s *Server) pageWorkers(w http.ResponseWriter, r *http.Request) {
	ws, err := s.b.Workers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "workers", "Workers", workersView{Workers: ws})
}
