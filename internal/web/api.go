package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

func subFS(dir string) (fs.FS, error) { return fs.Sub(assets, dir) }

func (s *Server) apiRoutes() {
	m := s.mux
	m.HandleFunc("GET /health", s.apiHealth)
	m.HandleFunc("GET /api/v1/dags", s.apiDAGs)
	m.HandleFunc("GET /api/v1/dags/{dag}", s.apiDAG)
	m.HandleFunc("PATCH /api/v1/dags/{dag}", s.apiPatchDAG)
	m.HandleFunc("GET /api/v1/dags/{dag}/dagRuns", s.apiRuns)
	m.HandleFunc("POST /api/v1/dags/{dag}/dagRuns", s.apiTrigger)
	m.HandleFunc("GET /api/v1/dags/{dag}/dagRuns/{run}", s.apiRun)
	m.HandleFunc("GET /api/v1/dags/{dag}/dagRuns/{run}/taskInstances", s.apiTaskInstances)
	m.HandleFunc("GET /api/v1/dags/{dag}/dagRuns/{run}/taskInstances/{task}/logs/{try}", s.apiLog)
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no API endpoint "+r.Method+" "+r.URL.Path)
	})
}

// apiError is the JSON body of an error, as in Airflow's API (problem details).
type apiError struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Type   string `json:"type"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Status: code, Title: http.StatusText(code), Detail: msg, Type: "about:blank"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) apiFail(w http.ResponseWriter, err error) {
	if errors.Is(err, grpipe.ErrNotFound) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if errors.Is(err, grpipe.ErrBadInput) || errors.Is(err, grpipe.ErrBusy) {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	s.log.Error("api", "error", err)
	writeError(w, http.StatusInternalServerError, err.Error())
}

func (s *Server) apiDAGOK(w http.ResponseWriter, r *http.Request) bool {
	if id := r.PathValue("dag"); id != grpipe.DAGID {
		writeError(w, http.StatusNotFound, fmt.Sprintf("DAG %q not found (the one DAG is %s)", id, grpipe.DAGID))
		return false
	}
	return true
}

func timePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

type apiDAG struct {
	DAGID            string        `json:"dag_id"`
	IsPaused         bool          `json:"is_paused"`
	IsActive         bool          `json:"is_active"`
	Description      string        `json:"description"`
	ScheduleInterval apiSchedule   `json:"schedule_interval"`
	NextDagrun       *string       `json:"next_dagrun"`
	Tags             []apiTag      `json:"tags"`
	MaxActiveRuns    int           `json:"max_active_runs"`
	Tasks            []apiTaskNode `json:"tasks,omitempty"`
}

type apiSchedule struct {
	Type  string `json:"__type"`
	Value string `json:"value"`
}

type apiTag struct {
	Name string `json:"name"`
}

type apiTaskNode struct {
	TaskID             string   `json:"task_id"`
	DownstreamTaskIDs  []string `json:"downstream_task_ids"`
	UpstreamTaskIDsExt []string `json:"upstream_task_ids"`
}

func toAPIDAG(d DAGInfo, withTasks bool) apiDAG {
	out := apiDAG{DAGID: d.DAGID, IsPaused: d.Paused, IsActive: true, MaxActiveRuns: 1,
		Description:      "GoodReads reviews: land, claim, transform, stage, upsert, quality, analytics",
		ScheduleInterval: apiSchedule{Type: "CronExpression", Value: d.Schedule}, NextDagrun: timePtr(d.NextRun),
		Tags: []apiTag{{Name: "goodreads"}}}
	if withTasks {
		down := map[string][]string{}
		for _, t := range d.Tasks {
			for _, u := range t.Upstream {
				down[u] = append(down[u], t.ID)
			}
		}
		for _, t := range d.Tasks {
			out.Tasks = append(out.Tasks, apiTaskNode{TaskID: t.ID, DownstreamTaskIDs: nonNil(down[t.ID]), UpstreamTaskIDsExt: nonNil(t.Upstream)})
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) apiDAGs(w http.ResponseWriter, r *http.Request) {
	d, err := s.b.DAG(r.Context())
	if err != nil {
		s.apiFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"dags": []apiDAG{toAPIDAG(d, false)}, "total_entries": 1})
}

func (s *Server) apiDAG(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	d, err := s.b.DAG(r.Context())
	if err != nil {
		s.apiFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIDAG(d, true))
}

func (s *Server) apiPatchDAG(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	var body struct {
		IsPaused *bool `json:"is_paused"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.IsPaused == nil {
		writeError(w, http.StatusBadRequest, `the body must be JSON like {"is_paused": true}`)
		return
	}
	if err := s.b.SetPaused(r.Context(), *body.IsPaused); err != nil {
		s.apiFail(w, err)
		return
	}
	s.apiDAG(w, r)
}

type apiRun struct {
	DagRunID          string         `json:"dag_run_id"`
	DAGID             string         `json:"dag_id"`
	LogicalDate       *string        `json:"logical_date"`
	ExecutionDate     *string        `json:"execution_date"`
	StartDate         *string        `json:"start_date"`
	EndDate           *string        `json:"end_date"`
	DataIntervalStart *string        `json:"data_interval_start"`
	DataIntervalEnd   *string        `json:"data_interval_end"`
	State             string         `json:"state"`
	RunType           string         `json:"run_type"`
	ExternalTrigger   bool           `json:"external_trigger"`
	Conf              map[string]any `json:"conf"`
	Note              string         `json:"note"`
}

func toAPIRun(r grpipe.Run) apiRun {
	return apiRun{DagRunID: r.RunID, DAGID: grpipe.DAGID, LogicalDate: timePtr(r.LogicalDate), ExecutionDate: timePtr(r.LogicalDate),
		StartDate: timePtr(r.StartedAt), EndDate: timePtr(r.EndedAt), DataIntervalStart: timePtr(r.DataIntervalStart),
		DataIntervalEnd: timePtr(r.DataIntervalEnd), State: string(r.State), RunType: string(r.RunType),
		ExternalTrigger: r.RunType == grpipe.RunManual, Conf: map[string]any{}, Note: r.Error}
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit must be a number between 1 and 10000")
			return
		}
		limit = n
	}
	runs, err := s.b.Runs(r.Context(), limit)
	if err != nil {
		s.apiFail(w, err)
		return
	}
	out := make([]apiRun, 0, len(runs))
	for _, run := range runs {
		out = append(out, toAPIRun(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"dag_runs": out, "total_entries": len(out)})
}

func (s *Server) apiTrigger(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	// The body is optional; like Airflow's it may name the run.
	var body struct {
		DagRunID string         `json:"dag_run_id"`
		Conf     map[string]any `json:"conf"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read the body: "+err.Error())
		return
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			writeError(w, http.StatusBadRequest, `the body must be JSON like {"dag_run_id": "manual__my_run"} (or empty): `+err.Error())
			return
		}
		if len(body.Conf) > 0 {
			writeError(w, http.StatusBadRequest, "conf is not supported: the goodreads_pipeline DAG takes no parameters")
			return
		}
		if body.DagRunID != "" {
			if err := grpipe.ValidateManualRunID(body.DagRunID); err != nil {
				writeError(w, http.StatusBadRequest, "dag_run_id: "+err.Error())
				return
			}
		}
	}
	run, err := s.b.Trigger(r.Context(), body.DagRunID)
	if err != nil {
		s.apiFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIRun(run))
}

// run returns the run runID names. An id that no run can have (see
// grpipe.ValidateRunID) is not looked up: the error wraps grpipe.ErrNotFound
// and says why.
func (s *Server) run(ctx context.Context, runID string) (grpipe.Run, *grpipe.RunSummary, error) {
	if err := grpipe.ValidateRunID(runID); err != nil {
		return grpipe.Run{}, nil, fmt.Errorf("run %q: %w: %w", runID, grpipe.ErrNotFound, err)
	}
	return s.b.Run(ctx, runID)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	run, sum, err := s.run(r.Context(), r.PathValue("run"))
	if err != nil {
		s.apiFail(w, err)
		return
	}
	type withSummary struct {
		apiRun
		Summary *grpipe.RunSummary `json:"summary,omitempty"`
	}
	writeJSON(w, http.StatusOK, withSummary{toAPIRun(run), sum})
}

type apiTaskInstance struct {
	TaskID        string   `json:"task_id"`
	DAGID         string   `json:"dag_id"`
	DagRunID      string   `json:"dag_run_id"`
	ExecutionDate *string  `json:"execution_date"`
	StartDate     *string  `json:"start_date"`
	EndDate       *string  `json:"end_date"`
	Duration      *float64 `json:"duration"`
	State         *string  `json:"state"`
	TryNumber     int      `json:"try_number"`
	MaxTries      int      `json:"max_tries"`
	Note          string   `json:"note"`
	// Hostname is the worker that ran the try, as in Airflow ("" until
	// executors record one).
	Hostname string `json:"hostname"`
}

func (s *Server) apiTaskInstances(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	run, _, err := s.run(r.Context(), r.PathValue("run"))
	if err != nil {
		s.apiFail(w, err)
		return
	}
	tis, err := s.b.TaskInstances(r.Context(), run.RunID)
	if err != nil {
		s.apiFail(w, err)
		return
	}
	info, err := s.b.DAG(r.Context())
	if err != nil {
		s.apiFail(w, err)
		return
	}
	out := toAPITaskInstances(info, run, latestTries(tis))
	writeJSON(w, http.StatusOK, map[string]any{"task_instances": out, "total_entries": len(out)})
}

// toAPITaskInstances lists the run's tasks in DAG order with their last tries.
func toAPITaskInstances(info DAGInfo, run grpipe.Run, last map[string]TaskInstance) []apiTaskInstance {
	out := []apiTaskInstance{}
	for _, t := range info.Tasks {
		ti, ok := last[t.ID]
		a := apiTaskInstance{TaskID: t.ID, DAGID: grpipe.DAGID, DagRunID: run.RunID, ExecutionDate: timePtr(run.LogicalDate)}
		if ok {
			st := string(ti.State)
			a.State, a.TryNumber, a.MaxTries, a.Note, a.Hostname = &st, ti.Try, ti.MaxTries, ti.Error, ti.Worker
			a.StartDate, a.EndDate = timePtr(ti.StartedAt), timePtr(ti.EndedAt)
			if d := ti.Duration(); d > 0 {
				sec := d.Seconds()
				a.Duration = &sec
			}
		}
		out = append(out, a)
	}
	return out
}

func (s *Server) apiLog(w http.ResponseWriter, r *http.Request) {
	if !s.apiDAGOK(w, r) {
		return
	}
	try, err := strconv.Atoi(r.PathValue("try"))
	if err != nil || try < 1 {
		writeError(w, http.StatusBadRequest, "try_number must be a positive number")
		return
	}
	if _, _, err := s.run(r.Context(), r.PathValue("run")); err != nil {
		s.apiFail(w, err)
		return
	}
	log, err := s.b.TaskLog(r.Context(), r.PathValue("run"), r.PathValue("task"), try)
	if err != nil {
		s.apiFail(w, err)
		return
	}
	// One page of at most 64 KiB per response; ?token= (the previous
	// page's continuation_token, or its Link rel="next") gives the next.
	part, err := pageOf(log, r.URL.Query().Get("token"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var next any
	if part.Next >= 0 {
		next = strconv.Itoa(part.Next)
		w.Header().Set("Link", "<"+withToken(r.URL, part.Next)+`>; rel="next"`)
	}
	w.Header().Set("X-Log-Size", strconv.Itoa(part.Size))
	if r.Header.Get("Accept") == "application/json" {
		writeJSON(w, http.StatusOK, map[string]any{"content": part.Text, "continuation_token": next})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, part.Text)
}

func (s *Server) apiHealth(w http.ResponseWriter, r *http.Request) {
	h := s.b.Health(r.Context())
	meta := map[string]any{"status": "healthy"}
	if !h.MetadataOK {
		meta = map[string]any{"status": "unhealthy", "error": h.MetadataError}
	}
	sched := map[string]any{"status": "unhealthy", "latest_scheduler_heartbeat": timePtr(h.SchedulerHeartbeat)}
	if !h.SchedulerHeartbeat.IsZero() && s.opts.Now().Sub(h.SchedulerHeartbeat) < 30*time.Second {
		sched["status"] = "healthy"
	}
	code := http.StatusOK
	if !h.MetadataOK {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"metadatabase": meta, "scheduler": sched})
}
