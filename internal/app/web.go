package app

import (
	"context"
	"log/slog"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/web"
	"github.com/grpipe/grpipe/internal/worker"
)

// WebBackend is the web UI's view of a home: the run store for runs, tasks
// and logs, the quarantine zone for rejected rows, and the warehouse, opened
// read-only per request (the embedded DuckDB file is free between runs).
type WebBackend struct {
	Config       config.Config
	Store        *runstore.Store
	Orchestrator *orchestrator.Service
	Zones        *objstore.Store
	Log          *slog.Logger
	// Schedule is the scheduler's spec, when it runs in this process; else
	// the last heartbeat's, else the default.
	Schedule string
}

var _ web.Backend = (*WebBackend)(nil)

func (b *WebBackend) schedule(ctx context.Context) (string, bool) {
	if b.Schedule != "" {
		return b.Schedule, true
	}
	if hb, err := b.Store.LastHeartbeat(ctx); err == nil && hb.Schedule != "" {
		return hb.Schedule, hb.State == grpipe.SchedulerRunning && time.Since(hb.BeatAt) < time.Minute
	}
	return orchestrator.DefaultSchedule, false
}

// DAG describes the DAG, its schedule and its next run.
func (b *WebBackend) DAG(ctx context.Context) (web.DAGInfo, error) {
	paused, err := b.Store.Paused(ctx)
	if err != nil {
		return web.DAGInfo{}, err
	}
	spec, live := b.schedule(ctx)
	info := web.DAGInfo{DAGID: grpipe.DAGID, Paused: paused, Schedule: spec, Zones: b.Config.Zones, Warehouse: b.Config.Warehouse.URL}
	if sched, err := orchestrator.ParseSchedule(spec); err == nil && live && !paused {
		info.NextRun = sched.Next(time.Now())
	}
	for _, t := range grpipe.Tasks() {
		info.Tasks = append(info.Tasks, web.TaskNode{ID: t.ID, Upstream: t.Upstream})
	}
	return info, nil
}

// SetPaused pauses or unpauses the schedule.
func (b *WebBackend) SetPaused(ctx context.Context, paused bool) error {
	return b.Orchestrator.SetPaused(ctx, paused)
}

// Trigger queues a manual run, as `grpipe dags trigger` does, with the
// given id or a generated one.
func (b *WebBackend) Trigger(ctx context.Context, runID string) (grpipe.Run, error) {
	return b.Orchestrator.Trigger(ctx, runID)
}

// Runs returns the latest runs, newest first.
func (b *WebBackend) Runs(ctx context.Context, limit int) ([]grpipe.Run, error) {
	return b.Store.ListRuns(ctx, limit)
}

// Run returns one run and its summary (nil before the run ends).
func (b *WebBackend) Run(ctx context.Context, runID string) (grpipe.Run, *grpipe.RunSummary, error) {
	r, err := b.Store.Run(ctx, runID)
	if err != nil {
		return grpipe.Run{}, nil, err
	}
	var sum *grpipe.RunSummary
	if r.State.Ended() {
		if sum, err = b.Store.Summary(ctx, runID); err != nil {
			return grpipe.Run{}, nil, err
		}
	}
	return r, sum, nil
}

// TaskInstances returns every try of every task of a run.
func (b *WebBackend) TaskInstances(ctx context.Context, runID string) ([]web.TaskInstance, error) {
	tis, err := b.Store.TaskInstances(ctx, runID)
	if err != nil {
		return nil, err
	}
	out := make([]web.TaskInstance, 0, len(tis))
	for _, ti := range tis {
		out = append(out, web.TaskInstance{RunID: ti.RunID, TaskID: ti.TaskID, Try: ti.TryNumber, MaxTries: b.Orchestrator.MaxTries(ti.TaskID),
			State: ti.State, StartedAt: ti.StartedAt, EndedAt: ti.EndedAt, Error: ti.Error, Worker: ti.Worker})
	}
	return out, nil
}

// MappedInstances returns every try of every instance of the run's mapped tasks.
func (b *WebBackend) MappedInstances(ctx context.Context, runID string) ([]web.MappedInstance, error) {
	tries, err := b.Store.MappedInstances(ctx, runID)
	if err != nil {
		return nil, err
	}
	out := make([]web.MappedInstance, 0, len(tries))
	for _, t := range tries {
		out = append(out, web.MappedInstance{MapIndex: t.MapIndex, Label: t.Label, TaskInstance: web.TaskInstance{RunID: t.RunID, TaskID: t.TaskID,
			Try: t.Try, MaxTries: b.Orchestrator.MaxTries(t.TaskID), State: t.State, StartedAt: t.StartedAt, EndedAt: t.EndedAt, Error: t.Error, Worker: t.Worker}})
	}
	return out, nil
}

// TaskLog returns one try's log.
func (b *WebBackend) TaskLog(ctx context.Context, runID, taskID string, try int) (string, error) {
	log, _, err := b.Store.TaskLog(ctx, runID, taskID, try)
	return log, err
}

// Health reports the metadata database and the scheduler's heartbeat.
func (b *WebBackend) Health(ctx context.Context) web.Health {
	h := web.Health{MetadataOK: true}
	if err := b.Store.DB().PingContext(ctx); err != nil {
		h.MetadataOK, h.MetadataError = false, err.Error()
	}
	if hb, err := b.Store.LastHeartbeat(ctx); err == nil && hb.State != grpipe.SchedulerStopped {
		h.SchedulerHeartbeat = hb.BeatAt
	}
	return h
}

// Workers returns the grpipe worker processes the metadata knows.
func (b *WebBackend) Workers(ctx context.Context) ([]web.Worker, error) {
	ws, err := b.Store.Workers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.Worker, 0, len(ws))
	for _, w := range ws {
		v := web.Worker{Name: w.Name, Host: w.Hostname, PID: w.PID, Concurrency: w.Concurrency, State: w.State,
			Alive: time.Since(w.BeatAt) <= worker.DefaultAlive, Started: w.StartedAt, Beat: w.BeatAt, Done: w.TriesDone}
		for _, k := range w.Running {
			v.Running = append(v.Running, k.String())
		}
		out = append(out, v)
	}
	return out, nil
}
