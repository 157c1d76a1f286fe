package runstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// This file is the store's API for the orchestrator and the web UI: runs and
// their queue, task instances per try, ledgers and checks, the paused flag
// and the scheduler heartbeat. Every method takes a context and is safe for
// concurrent use, also from several processes (SQLite WAL, busy timeout).

// TaskInstance is one try of one task of a run (the task_instances table,
// without the log; see Store.TaskLog): the stable JSON of `grpipe runs
// show --json` (task_tries) and what the UI shows. The executors' view of
// the same rows is Try (why two types: see Try).
type TaskInstance struct {
	RunID     string          `json:"run_id"`
	TaskID    string          `json:"task_id"`
	TryNumber int             `json:"try_number"`
	Kind      grpipe.TaskKind `json:"kind,omitempty"`
	State     grpipe.State    `json:"state"`
	StartedAt time.Time       `json:"started_at,omitzero"`
	EndedAt   time.Time       `json:"ended_at,omitzero"`
	// DurationSeconds is EndedAt - StartedAt (0 while the try runs).
	DurationSeconds float64 `json:"duration_seconds"`
	Error           string  `json:"error,omitempty"`
	// Worker is the grpipe worker that ran the try (executor distributed);
	// empty when it ran in the process that executed the run.
	Worker string `json:"worker,omitempty"`
}

const runColumns = `run_id, dag_id, run_type, state, logical_date, data_interval_start, data_interval_end, queued_at, started_at, ended_at, error`

func scanRun(sc interface{ Scan(...any) error }) (grpipe.Run, error) {
	var r grpipe.Run
	var state, runType string
	var ld, ds, de, q, st, en sql.NullString
	if err := sc.Scan(&r.RunID, &r.DAGID, &runType, &state, &ld, &ds, &de, &q, &st, &en, &r.Error); err != nil {
		return r, err
	}
	r.State, r.RunType = grpipe.State(state), grpipe.RunType(runType)
	r.LogicalDate, r.DataIntervalStart, r.DataIntervalEnd = parseTS(ld), parseTS(ds), parseTS(de)
	r.QueuedAt, r.StartedAt, r.EndedAt = parseTS(q), parseTS(st), parseTS(en)
	return r, nil
}

func (s *Store) queryRuns(ctx context.Context, q string, args ...any) ([]grpipe.Run, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []grpipe.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Run returns one run (without its summary: see Summary); the error wraps
// grpipe.ErrNotFound for an unknown id.
func (s *Store) Run(ctx context.Context, runID string) (grpipe.Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM dag_runs WHERE run_id = ?`, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %s: %w (grpipe runs list shows the run ids)", runID, grpipe.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("run %s: %w", runID, err)
	}
	return r, nil
}

// ListRuns returns the most recent runs first (by logical date), at most
// limit (0: 100), in the given states (all when none).
func (s *Store) ListRuns(ctx context.Context, limit int, states ...grpipe.State) ([]grpipe.Run, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + runColumns + ` FROM dag_runs`
	var args []any
	if len(states) > 0 {
		ph := make([]string, len(states))
		for i, st := range states {
			ph[i] = "?"
			args = append(args, string(st))
		}
		q += ` WHERE state IN (` + strings.Join(ph, ",") + `)`
	}
	q += ` ORDER BY logical_date DESC, run_id DESC LIMIT ?`
	return s.queryRuns(ctx, q, append(args, limit)...)
}

// QueuedRuns returns the runs waiting to be executed (triggered, cleared,
// resumed after a crash or a shutdown, or waiting on depends_on_past), in
// the order the scheduler takes them: oldest logical date first.
func (s *Store) QueuedRuns(ctx context.Context) ([]grpipe.Run, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM dag_runs WHERE state = ? ORDER BY logical_date, queued_at, run_id`, string(grpipe.StateQueued))
}

// LastScheduledRun returns the scheduled run with the latest data interval;
// ok is false when there is none.
func (s *Store) LastScheduledRun(ctx context.Context) (r grpipe.Run, ok bool, err error) {
	r, err = scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM dag_runs WHERE run_type = 'scheduled' ORDER BY data_interval_end DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("last scheduled run: %w", err)
	}
	return r, true, nil
}

// PreviousRun returns the run before runID by logical date (Airflow's
// previous DAG run, for depends_on_past); ok is false for the first run.
func (s *Store) PreviousRun(ctx context.Context, runID string) (r grpipe.Run, ok bool, err error) {
	cur, err := s.Run(ctx, runID)
	if err != nil {
		return r, false, err
	}
	r, err = scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM dag_runs
		WHERE run_id <> ? AND (logical_date < ? OR (logical_date = ? AND run_id < ?)) ORDER BY logical_date DESC, run_id DESC LIMIT 1`,
		runID, ts(cur.LogicalDate), ts(cur.LogicalDate), runID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("previous run of %s: %w", runID, err)
	}
	return r, true, nil
}

// EnqueueRun records a run in state queued, for the scheduler to execute;
// created is false when a run with that id exists already (a scheduled
// run's id is its logical date, so an interval is never queued twice).
func (s *Store) EnqueueRun(ctx context.Context, r grpipe.Run) (created bool, err error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO dag_runs (run_id, dag_id, run_type, state, logical_date, data_interval_start, data_interval_end, queued_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`,
		r.RunID, grpipe.DAGID, string(r.RunType), string(grpipe.StateQueued), ts(r.LogicalDate), ts(r.DataIntervalStart), ts(r.DataIntervalEnd), ts(r.QueuedAt))
	if err != nil {
		return false, fmt.Errorf("queue run %s: %w", r.RunID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MarkRunning moves a queued run to running (its start time is kept from an
// earlier execution, if any).
func (s *Store) MarkRunning(ctx context.Context, runID string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE dag_runs SET state = ?, error = '', ended_at = NULL,
		started_at = CASE WHEN started_at IS NULL OR started_at = '' THEN ? ELSE started_at END WHERE run_id = ?`,
		string(grpipe.StateRunning), ts(at), runID)
	if err != nil {
		return fmt.Errorf("start run %s: %w", runID, err)
	}
	return nil
}

// TaskInstances returns every try of every task of a run, by task then try.
func (s *Store) TaskInstances(ctx context.Context, runID string) ([]TaskInstance, error) {
	return s.queryTasks(ctx, `SELECT run_id, task_id, try_number, kind, state, started_at, ended_at, error, worker FROM task_instances
		WHERE run_id = ? ORDER BY task_id, try_number`, runID)
}

// LatestTaskInstances returns the latest try of each task of a run, in the
// order they started.
func (s *Store) LatestTaskInstances(ctx context.Context, runID string) ([]TaskInstance, error) {
	return s.queryTasks(ctx, `SELECT t.run_id, t.task_id, t.try_number, t.kind, t.state, t.started_at, t.ended_at, t.error, t.worker FROM task_instances t
		WHERE t.run_id = ? AND t.try_number = (SELECT max(u.try_number) FROM task_instances u WHERE u.run_id = t.run_id AND u.task_id = t.task_id)
		ORDER BY coalesce(t.started_at, ''), t.task_id`, runID)
}

func (s *Store) queryTasks(ctx context.Context, q string, args ...any) ([]TaskInstance, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("task instances: %w", err)
	}
	defer rows.Close()
	var out []TaskInstance
	for rows.Next() {
		var t TaskInstance
		var state, kind string
		var st, en sql.NullString
		if err := rows.Scan(&t.RunID, &t.TaskID, &t.TryNumber, &kind, &state, &st, &en, &t.Error, &t.Worker); err != nil {
			return nil, fmt.Errorf("task instances: %w", err)
		}
		t.Kind, t.State, t.StartedAt, t.EndedAt = grpipe.TaskKind(kind), grpipe.State(state), parseTS(st), parseTS(en)
		if !t.StartedAt.IsZero() && !t.EndedAt.IsZero() {
			t.DurationSeconds = t.EndedAt.Sub(t.StartedAt).Seconds()
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ClearTasks sets tasks of a run back so they run again (Airflow's clear):
// each gets a queued instance with the next try number, and the run is
// queued for the scheduler (or `grpipe runs resume`). Earlier tries and
// their logs are kept. The error wraps grpipe.ErrNotFound for an unknown run.
func (s *Store) ClearTasks(ctx context.Context, runID string, taskIDs []string, at time.Time) error {
	rec, err := s.Run(ctx, runID)
	if err != nil {
		return err
	}
	if rec.State == grpipe.StateRunning {
		return fmt.Errorf("%w: run %s is running: clear its tasks after it ends", grpipe.ErrBusy, runID)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("clear tasks of %s: %w", runID, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, id := range taskIDs {
		if err := clearTask(ctx, tx, runID, id, "cleared"); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE dag_runs SET state = ?, ended_at = NULL, error = '', queued_at = ? WHERE run_id = ?`,
		string(grpipe.StateQueued), ts(at), runID); err != nil {
		return fmt.Errorf("clear tasks of %s: %w", runID, err)
	}
	return tx.Commit()
}

// clearTask writes a queued instance of a task at its next try number
// (tries that never ran, queued or upstream_failed, are reused).
func clearTask(ctx context.Context, tx *sql.Tx, runID, taskID, why string) error {
	var next int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(try_number), 0) + 1 FROM task_instances
		WHERE run_id = ? AND task_id = ? AND state NOT IN ('queued', 'upstream_failed')`, runID, taskID).Scan(&next); err != nil {
		return fmt.Errorf("clear task %s: %w", taskID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM task_instances WHERE run_id = ? AND task_id = ? AND try_number >= ?`, runID, taskID, next); err != nil {
		return fmt.Errorf("clear task %s: %w", taskID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO task_instances (run_id, task_id, try_number, state, error) VALUES (?, ?, ?, ?, ?)`,
		runID, taskID, next, string(grpipe.StateQueued), why); err != nil {
		return fmt.Errorf("clear task %s: %w", taskID, err)
	}
	return nil
}

// RequeueInterrupted takes back a run left running by a process that died
// (or stopped): its running tries are marked failed with reason, those
// tasks are cleared to run again, and the run is queued to resume.
func (s *Store) RequeueInterrupted(ctx context.Context, runID, reason string, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// A try running on a worker (distributed executor) is not orphaned: it
	// goes on there, and the next execution waits for it; the workers'
	// heartbeats tell when one is lost.
	rows, err := tx.QueryContext(ctx, `SELECT task_id FROM task_instances WHERE run_id = ? AND state = ? AND worker = ''`, runID, string(grpipe.StateRunning))
	if err != nil {
		return fmt.Errorf("requeue run %s: %w", runID, err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if _, err := tx.ExecContext(ctx, `UPDATE task_instances SET state = ?, ended_at = ?, error = ? WHERE run_id = ? AND state = ? AND worker = ''`,
		string(grpipe.StateFailed), ts(at), reason, runID, string(grpipe.StateRunning)); err != nil {
		return fmt.Errorf("requeue run %s: %w", runID, err)
	}
	for _, id := range ids {
		if err := clearTask(ctx, tx, runID, id, "resumed after: "+reason); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE dag_runs SET state = ?, error = ? WHERE run_id = ? AND state = ?`,
		string(grpipe.StateQueued), "resuming: "+reason, runID, string(grpipe.StateRunning)); err != nil {
		return fmt.Errorf("requeue run %s: %w", runID, err)
	}
	return tx.Commit()
}

// Paused reports whether the DAG is paused (`grpipe dags pause`): a paused
// DAG gets no scheduled runs and its queued runs wait.
func (s *Store) Paused(ctx context.Context) (bool, error) {
	var p bool
	err := s.db.QueryRowContext(ctx, `SELECT paused FROM dag_state WHERE dag_id = ?`, grpipe.DAGID).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("paused flag: %w", err)
	}
	return p, nil
}

// SetPaused pauses or unpauses the DAG.
func (s *Store) SetPaused(ctx context.Context, paused bool, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO dag_state (dag_id, paused, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (dag_id) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`, grpipe.DAGID, paused, ts(at))
	if err != nil {
		return fmt.Errorf("set paused flag: %w", err)
	}
	return nil
}

// Heartbeat is the scheduler's last sign of life.
type Heartbeat struct {
	PID       int                   `json:"pid"`
	Hostname  string                `json:"hostname"`
	Schedule  string                `json:"schedule"`
	State     grpipe.SchedulerState `json:"state"`
	StartedAt time.Time             `json:"started_at"`
	BeatAt    time.Time             `json:"beat_at"`
}

// Beat records the scheduler's heartbeat (one row, overwritten).
func (s *Store) Beat(ctx context.Context, h Heartbeat) error {
	if h.Hostname == "" {
		h.Hostname, _ = os.Hostname()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO scheduler_heartbeat (id, pid, hostname, schedule, state, started_at, beat_at) VALUES (1, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname, schedule = excluded.schedule,
		state = excluded.state, started_at = excluded.started_at, beat_at = excluded.beat_at`,
		h.PID, h.Hostname, h.Schedule, string(h.State), ts(h.StartedAt), ts(h.BeatAt))
	if err != nil {
		return fmt.Errorf("scheduler heartbeat: %w", err)
	}
	return nil
}

// LastHeartbeat returns the scheduler's last heartbeat; the error wraps
// grpipe.ErrNotFound when no scheduler ever ran in this home. A /health
// endpoint compares BeatAt with the time (the scheduler beats every 5s).
func (s *Store) LastHeartbeat(ctx context.Context) (Heartbeat, error) {
	var h Heartbeat
	var st, bt sql.NullString
	var state string
	err := s.db.QueryRowContext(ctx, `SELECT pid, hostname, schedule, state, started_at, beat_at FROM scheduler_heartbeat WHERE id = 1`).
		Scan(&h.PID, &h.Hostname, &h.Schedule, &state, &st, &bt)
	if errors.Is(err, sql.ErrNoRows) {
		return h, fmt.Errorf("scheduler heartbeat: %w: no scheduler has run in this home", grpipe.ErrNotFound)
	}
	if err != nil {
		return h, fmt.Errorf("scheduler heartbeat: %w", err)
	}
	h.State, h.StartedAt, h.BeatAt = grpipe.SchedulerState(state), parseTS(st), parseTS(bt)
	return h, nil
}

// QueueTasks gives tasks of a run a queued instance at their next try, so
// that the next execution of the run runs them (tasks cut short by a
// shutdown); unlike ClearTasks it leaves the run's state alone.
func (s *Store) QueueTasks(ctx context.Context, runID string, taskIDs []string, why string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, id := range taskIDs {
		if err := clearTask(ctx, tx, runID, id, why); err != nil {
			return err
		}
	}
	return tx.Commit()
}
