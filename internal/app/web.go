package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/pipeline"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/scheduler"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/web"
)

// WebBackend is the web UI's view of a home: the run store for runs, tasks
// and logs, the quarantine zone for rejected rows, and the warehouse, opened
// read-only per request (the embedded DuckDB file is free between runs).
type WebBackend struct {
	Config config.Config
	Store  *runstore.Store
	Zones  *objstore.Store
	Log    *slog.Logger
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
		return hb.Schedule, hb.State == "running" && time.Since(hb.BeatAt) < time.Minute
	}
	return scheduler.DefaultSchedule, false
}

// DAG describes the DAG, its schedule and its next run.
func (b *WebBackend) DAG(ctx context.Context) (web.DAGInfo, error) {
	paused, err := b.Store.Paused(ctx)
	if err != nil {
		return web.DAGInfo{}, err
	}
	spec, live := b.schedule(ctx)
	info := web.DAGInfo{DAGID: grpipe.DAGID, Paused: paused, Schedule: spec, Zones: b.Config.Zones, Warehouse: b.Config.Warehouse}
	if sched, err := scheduler.ParseSchedule(spec); err == nil && live && !paused {
		info.NextRun = sched.Next(time.Now())
	}
	for _, t := range pipeline.Graph() {
		info.Tasks = append(info.Tasks, web.TaskNode{ID: t.ID, Upstream: t.Upstream})
	}
	return info, nil
}

// SetPaused pauses or unpauses the schedule.
func (b *WebBackend) SetPaused(ctx context.Context, paused bool) error {
	return b.Store.SetPaused(ctx, paused, time.Now())
}

// Trigger queues a manual run, as `grpipe dags trigger` does, with the
// given id or a generated one.
func (b *WebBackend) Trigger(ctx context.Context, runID string) (web.RunRow, error) {
	now := time.Now().UTC()
	if runID == "" {
		runID = grpipe.NewRunID("manual", now, "")
	}
	created, err := b.Store.EnqueueRun(ctx, runstore.RunInfo{RunID: runID, RunType: "manual", LogicalDate: now, StartedAt: now})
	if err != nil {
		return web.RunRow{}, err
	}
	if !created {
		return web.RunRow{}, fmt.Errorf("%w: a run with id %s exists already", grpipe.ErrBadInput, runID)
	}
	r, err := b.Store.RunRecord(ctx, runID)
	if err != nil {
		return web.RunRow{}, err
	}
	return runRow(r), nil
}

func runRow(r runstore.RunRecord) web.RunRow {
	return web.RunRow{RunID: r.RunID, RunType: r.RunType, State: r.State, LogicalDate: r.LogicalDate,
		DataIntervalStart: r.DataIntervalStart, DataIntervalEnd: r.DataIntervalEnd, QueuedAt: r.QueuedAt,
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, Error: r.Error}
}

// Runs returns the latest runs, newest first.
func (b *WebBackend) Runs(ctx context.Context, limit int) ([]web.RunRow, error) {
	rs, err := b.Store.ListRuns(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]web.RunRow, 0, len(rs))
	for _, r := range rs {
		out = append(out, runRow(r))
	}
	return out, nil
}

// Run returns one run and its summary (nil before the run ends).
func (b *WebBackend) Run(ctx context.Context, runID string) (web.RunRow, *grpipe.RunSummary, error) {
	r, err := b.Store.RunRecord(ctx, runID)
	if err != nil {
		return web.RunRow{}, nil, err
	}
	var sum *grpipe.RunSummary
	if r.State == grpipe.StateSuccess || r.State == grpipe.StateFailed {
		if sum, err = b.Store.Run(ctx, runID); err != nil {
			return web.RunRow{}, nil, err
		}
	}
	return runRow(r), sum, nil
}

// maxTries is how many tries a task gets: its retries plus one.
func (b *WebBackend) maxTries(task string) int {
	retries := 2
	if b.Config.Orchestrator.Retries != nil {
		retries = *b.Config.Orchestrator.Retries
	}
	if t, ok := b.Config.Orchestrator.Tasks[task]; ok && t.Retries != nil {
		retries = *t.Retries
	}
	return retries + 1
}

// TaskInstances returns every try of every task of a run.
func (b *WebBackend) TaskInstances(ctx context.Context, runID string) ([]web.TaskInstance, error) {
	tis, err := b.Store.TaskInstances(ctx, runID)
	if err != nil {
		return nil, err
	}
	out := make([]web.TaskInstance, 0, len(tis))
	for _, ti := range tis {
		out = append(out, web.TaskInstance{RunID: ti.RunID, TaskID: ti.TaskID, Try: ti.TryNumber, MaxTries: b.maxTries(ti.TaskID),
			State: ti.State, StartedAt: ti.StartedAt, EndedAt: ti.EndedAt, Error: ti.Error})
	}
	return out, nil
}

// TaskLog returns one try's log.
func (b *WebBackend) TaskLog(ctx context.Context, runID, taskID string, try int) (string, error) {
	log, _, err := b.Store.TaskLog(ctx, runID, taskID, try)
	return log, err
}

// Rejected reads the first limit rows of the run's quarantine files
// (quarantine/<run_id>/ and the folders of its later tries), streaming them.
func (b *WebBackend) Rejected(ctx context.Context, runID, entity string, limit int) ([]web.RejectedRow, error) {
	rows, err := quarantine.RunRows(ctx, b.Zones, runID, entity, 0, limit)
	if err != nil {
		return nil, err
	}
	out := make([]web.RejectedRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, web.RejectedRow{Entity: r.Entity, SourceFile: r.SourceFile, Line: r.Line, Column: r.Column, Reason: r.Reason, Raw: r.Raw})
	}
	return out, nil
}

// Warehouse opens the warehouse read-only and reads the row counts and the
// analytics tables; while a run holds the embedded warehouse, it says so.
func (b *WebBackend) Warehouse(ctx context.Context) (web.WarehouseView, error) {
	wh, err := OpenWarehouse(ctx, b.Config, true, b.Log)
	if err != nil {
		if errors.Is(err, grpipe.ErrNotFound) {
			return web.WarehouseView{Note: "The warehouse does not exist yet: it is created by the first run."}, nil
		}
		return web.WarehouseView{Note: "The warehouse cannot be read now (a run may be writing to it): " + err.Error()}, nil
	}
	defer wh.Close()
	var v web.WarehouseView
	for _, t := range warehouse.Tables() {
		n, err := wh.Count(ctx, t)
		if err != nil {
			continue // not created yet
		}
		v.Counts = append(v.Counts, web.TableCount{Table: t, Rows: n})
	}
	for _, t := range warehouse.AnalyticsTables() {
		order := "rank"
		if t.Kind == "best" {
			order = "count_rank"
		}
		rows, err := wh.Query(ctx, fmt.Sprintf("SELECT * FROM goodreads_analytics.%s ORDER BY %s LIMIT 10", t.Table, order))
		if err != nil {
			continue
		}
		tr := web.TableRows{Table: t.Table, Columns: rows.Columns}
		for _, r := range rows.Values {
			cells := make([]string, len(r))
			for i, c := range r {
				if c != nil {
					cells[i] = fmt.Sprint(c)
				}
			}
			tr.Rows = append(tr.Rows, cells)
		}
		v.Analytics = append(v.Analytics, tr)
	}
	return v, nil
}

// Health reports the metadata database and the scheduler's heartbeat.
func (b *WebBackend) Health(ctx context.Context) web.Health {
	h := web.Health{MetadataOK: true}
	if err := b.Store.DB().PingContext(ctx); err != nil {
		h.MetadataOK, h.MetadataError = false, err.Error()
	}
	if hb, err := b.Store.LastHeartbeat(ctx); err == nil && hb.State != "stopped" {
		h.SchedulerHeartbeat = hb.BeatAt
	}
	return h
}
