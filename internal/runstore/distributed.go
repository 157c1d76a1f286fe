package runstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// This file is the store's part in running tasks on several machines
// (executor: distributed, metadata on PostgreSQL): the claim of a try by a
// worker and its outcome, the tries of a dead worker, the instances of
// mapped tasks, and the workers' heartbeats. Every state change is one
// conditional UPDATE, so two processes can never both start a try, and a try
// given up as lost is never overwritten by the worker that lost it.

// TryKey names one try of one task instance.
type TryKey struct {
	RunID  string `json:"run_id"`
	TaskID string `json:"task_id"`
	// MapIndex is the instance of a mapped task; -1 for the task itself.
	MapIndex int `json:"map_index"`
	Try      int `json:"try_number"`
}

func (k TryKey) String() string {
	if k.MapIndex >= 0 {
		return fmt.Sprintf("%s %s[%d] try %d", k.RunID, k.TaskID, k.MapIndex, k.Try)
	}
	return fmt.Sprintf("%s %s try %d", k.RunID, k.TaskID, k.Try)
}

// encode is the key as one line of workers.running.
func (k TryKey) encode() string {
	return strings.Join([]string{k.RunID, k.TaskID, strconv.Itoa(k.MapIndex), strconv.Itoa(k.Try)}, "\t")
}

func decodeTryKey(s string) (TryKey, bool) {
	f := strings.Split(s, "\t")
	if len(f) != 4 {
		return TryKey{}, false
	}
	m, err1 := strconv.Atoi(f[2])
	n, err2 := strconv.Atoi(f[3])
	return TryKey{RunID: f[0], TaskID: f[1], MapIndex: m, Try: n}, err1 == nil && err2 == nil
}

// Try is one try as the executors claim and end it: of a task (MapIndex
// -1, a task_instances row) or of one instance of a mapped task (a
// mapped_instances row), with what the claim protocol needs (the error's
// kind, the output handed downstream, the log).
//
// TaskInstance is the other view of a task_instances row: the one
// `grpipe runs show --json` prints as task_tries and the UI reads (with
// the task's kind and the duration, and no map index, output or log).
// They stay two types because that JSON is stable output, while Try's
// fields follow the executor protocol; both are read from the same rows
// (see queryTasks and TryRecord), so no fact is stored twice.
type Try struct {
	TryKey
	// Label says what a mapped instance works on (a file, an entity).
	Label     string       `json:"label,omitempty"`
	State     grpipe.State `json:"state"`
	StartedAt time.Time    `json:"started_at,omitzero"`
	EndedAt   time.Time    `json:"ended_at,omitzero"`
	Error     string       `json:"error,omitempty"`
	// ErrorKind classes the error for the retry decision (see ErrorKind).
	ErrorKind string `json:"error_kind,omitempty"`
	// Worker is the name of the worker that ran the try ("" when it ran in
	// the scheduling process).
	Worker string `json:"worker,omitempty"`
	// Output is what the try hands to the tasks after it (JSON).
	Output string `json:"-"`
	// Log is the try's log (filled by TryRecord only).
	Log string `json:"-"`
}

// ErrorKind returns how an error of a try is recorded, so that a process on
// another machine can tell a retry apart from a hopeless one: "bad_input"
// and "check_failed" are never retried.
func ErrorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, grpipe.ErrBadInput):
		return "bad_input"
	case errors.Is(err, grpipe.ErrCheckFailed):
		return "check_failed"
	}
	return "error"
}

// TryError rebuilds a recorded error, wrapping the sentinel its kind names.
func TryError(msg, kind string) error {
	switch kind {
	case "bad_input":
		return fmt.Errorf("%w: %s", grpipe.ErrBadInput, msg)
	case "check_failed":
		return fmt.Errorf("%w: %s", grpipe.ErrCheckFailed, msg)
	case "":
		if msg == "" {
			return nil
		}
	}
	return errors.New(msg)
}

// QueueMapped records a queued try of an instance of a mapped task (a no-op
// when it is recorded already).
func (s *Store) QueueMapped(ctx context.Context, k TryKey, label string, at time.Time) error {
	if k.MapIndex < 0 {
		return fmt.Errorf("queue %s: not a mapped instance", k)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO mapped_instances (run_id, task_id, map_index, try_number, label, state, queued_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, task_id, map_index, try_number) DO NOTHING`,
		k.RunID, k.TaskID, k.MapIndex, k.Try, label, string(grpipe.StateQueued), ts(at))
	if err != nil {
		return fmt.Errorf("queue %s: %w", k, err)
	}
	return nil
}

// AbandonMapped fails the instances of task's mapped tries before try
// (try numbers below it) that no worker claimed: the try that mapped them
// ended without them (it failed, for one because it lost the database
// between recording an instance and queueing it), and a later try maps its
// own. It returns how many it failed; a claim of one fails from then on.
func (s *Store) AbandonMapped(ctx context.Context, runID, taskID string, before int, reason string, at time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE mapped_instances SET state = ?, ended_at = ?, error = ?, error_kind = ?
		WHERE run_id = ? AND task_id = ? AND try_number < ? AND state = ? AND worker = ''`,
		string(grpipe.StateFailed), ts(at), reason, "lost", runID, taskID, before, string(grpipe.StateQueued))
	if err != nil {
		return 0, fmt.Errorf("abandon the mapped instances of %s %s before try %d: %w", runID, taskID, before, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("abandon the mapped instances of %s %s before try %d: %w", runID, taskID, before, err)
	}
	return n, nil
}

// table returns the table holding the tries of k.
func table(k TryKey) string {
	if k.MapIndex >= 0 {
		return "mapped_instances"
	}
	return "task_instances"
}

// where is the condition selecting k in its table, and its arguments.
func where(k TryKey) (string, []any) {
	if k.MapIndex >= 0 {
		return `run_id = ? AND task_id = ? AND map_index = ? AND try_number = ?`, []any{k.RunID, k.TaskID, k.MapIndex, k.Try}
	}
	return `run_id = ? AND task_id = ? AND try_number = ?`, []any{k.RunID, k.TaskID, k.Try}
}

// ClaimTry makes worker the one that runs try k: it succeeds (ok) only when
// the try is recorded, not ended, and no worker has claimed it. A try that
// was given up (FailLostTry) or ran already is never claimed again.
func (s *Store) ClaimTry(ctx context.Context, k TryKey, worker string, at time.Time) (ok bool, err error) {
	cond, args := where(k)
	res, err := s.db.ExecContext(ctx, `UPDATE `+table(k)+` SET state = ?, worker = ?, started_at = ?, ended_at = NULL, error = '', error_kind = '' WHERE `+cond+
		` AND worker = '' AND state IN (?, ?)`,
		append(append([]any{string(grpipe.StateRunning), worker, ts(at)}, args...), string(grpipe.StateQueued), string(grpipe.StateRunning))...)
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", k, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", k, err)
	}
	return n == 1, nil
}

// Outcome is how a try ended.
type Outcome struct {
	State     grpipe.State
	EndedAt   time.Time
	Err       error
	Log       string
	Output    string
	ErrorKind string
}

// EndTry records the outcome of try k run by worker; ok is false when the
// try is no longer that worker's running try (it was given up as lost), in
// which case nothing is written.
func (s *Store) EndTry(ctx context.Context, k TryKey, worker string, o Outcome) (ok bool, err error) {
	msg := ""
	if o.Err != nil {
		msg = o.Err.Error()
	}
	kind := o.ErrorKind
	if kind == "" {
		kind = ErrorKind(o.Err)
	}
	cond, args := where(k)
	res, err := s.db.ExecContext(ctx, `UPDATE `+table(k)+` SET state = ?, ended_at = ?, error = ?, error_kind = ?, log = ?, output = ? WHERE `+cond+
		` AND worker = ? AND state = ?`,
		append(append([]any{string(o.State), ts(o.EndedAt), msg, kind, o.Log, o.Output}, args...), worker, string(grpipe.StateRunning))...)
	if err != nil {
		return false, fmt.Errorf("record the end of %s: %w", k, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record the end of %s: %w", k, err)
	}
	return n == 1, nil
}

// FailLostTry gives up try k, which worker was running, as failed with
// reason (the worker stopped beating, or no longer runs it); ok is false when
// the try had ended or is not that worker's.
func (s *Store) FailLostTry(ctx context.Context, k TryKey, worker, reason string, at time.Time) (ok bool, err error) {
	cond, args := where(k)
	res, err := s.db.ExecContext(ctx, `UPDATE `+table(k)+` SET state = ?, ended_at = ?, error = ?, error_kind = ? WHERE `+cond+
		` AND worker = ? AND state = ?`,
		append(append([]any{string(grpipe.StateFailed), ts(at), reason, "lost"}, args...), worker, string(grpipe.StateRunning))...)
	if err != nil {
		return false, fmt.Errorf("give up %s: %w", k, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("give up %s: %w", k, err)
	}
	return n == 1, nil
}

// TryRecord returns try k; the error wraps grpipe.ErrNotFound when it is not recorded.
func (s *Store) TryRecord(ctx context.Context, k TryKey) (Try, error) {
	cond, args := where(k)
	label := `''`
	if k.MapIndex >= 0 {
		label = `label`
	}
	var t Try
	var state string
	var st, en sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT `+label+`, state, started_at, ended_at, error, error_kind, worker, output, log FROM `+table(k)+` WHERE `+cond, args...).
		Scan(&t.Label, &state, &st, &en, &t.Error, &t.ErrorKind, &t.Worker, &t.Output, &t.Log)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("%s: %w", k, grpipe.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("%s: %w", k, err)
	}
	t.TryKey, t.State = k, grpipe.State(state)
	t.StartedAt, t.EndedAt = parseTS(st), parseTS(en)
	return t, nil
}

// MappedInstances returns every try of every mapped instance of a run, by
// task, map index and try.
func (s *Store) MappedInstances(ctx context.Context, runID string) ([]Try, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT run_id, task_id, map_index, try_number, label, state, started_at, ended_at, error, error_kind, worker, output
		FROM mapped_instances WHERE run_id = ? ORDER BY task_id, map_index, try_number`, runID)
	if err != nil {
		return nil, fmt.Errorf("mapped instances of %s: %w", runID, err)
	}
	defer rows.Close()
	out := []Try{}
	for rows.Next() {
		var t Try
		var state string
		var st, en sql.NullString
		if err := rows.Scan(&t.RunID, &t.TaskID, &t.MapIndex, &t.Try, &t.Label, &state, &st, &en, &t.Error, &t.ErrorKind, &t.Worker, &t.Output); err != nil {
			return nil, fmt.Errorf("mapped instances of %s: %w", runID, err)
		}
		t.State, t.StartedAt, t.EndedAt = grpipe.State(state), parseTS(st), parseTS(en)
		out = append(out, t)
	}
	return out, rows.Err()
}

// Worker is one grpipe worker process as its heartbeats describe it.
type Worker struct {
	Name        string    `json:"name"`
	Hostname    string    `json:"hostname"`
	PID         int       `json:"pid"`
	Concurrency int       `json:"concurrency"`
	State       string    `json:"state"` // running, stopping, stopped
	StartedAt   time.Time `json:"started_at"`
	BeatAt      time.Time `json:"last_heartbeat"`
	// Running are the tries it ran at its last beat.
	Running []TryKey `json:"running"`
	// TriesDone counts the tries it finished since it started.
	TriesDone int64 `json:"tries_done"`
}

// Worker states.
const (
	WorkerRunning  = "running"
	WorkerStopping = "stopping"
	WorkerStopped  = "stopped"
)

// RegisterWorker records a worker starting. The error wraps grpipe.ErrBusy
// when a running worker of that name beat within alive: two workers may not
// share a name.
func (s *Store) RegisterWorker(ctx context.Context, w Worker, alive time.Duration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("register worker %s: %w", w.Name, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var host, state string
	var pid int
	var beat sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT hostname, pid, state, beat_at FROM workers WHERE name = ?`, w.Name).Scan(&host, &pid, &state, &beat)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("register worker %s: %w", w.Name, err)
	case state != WorkerStopped && w.StartedAt.Sub(parseTS(beat)) < alive:
		return fmt.Errorf("%w: a worker named %s is running on %s (process %d, last heartbeat %s): give this one another --name, or start it again once that one has been silent for %s",
			grpipe.ErrBusy, w.Name, host, pid, parseTS(beat).Format(time.RFC3339), alive)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO workers (name, hostname, pid, concurrency, state, started_at, beat_at, running, tries_done)
		VALUES (?, ?, ?, ?, ?, ?, ?, '', 0)
		ON CONFLICT (name) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, concurrency = excluded.concurrency,
		state = excluded.state, started_at = excluded.started_at, beat_at = excluded.beat_at, running = '', tries_done = 0`,
		w.Name, w.Hostname, w.PID, w.Concurrency, WorkerRunning, ts(w.StartedAt), ts(w.StartedAt)); err != nil {
		return fmt.Errorf("register worker %s: %w", w.Name, err)
	}
	return tx.Commit()
}

// BeatWorker records a worker's heartbeat: its state, the tries it runs and
// how many it finished.
func (s *Store) BeatWorker(ctx context.Context, name, state string, running []TryKey, done int64, at time.Time) error {
	lines := make([]string, len(running))
	for i, k := range running {
		lines[i] = k.encode()
	}
	_, err := s.db.ExecContext(ctx, `UPDATE workers SET state = ?, beat_at = ?, running = ?, tries_done = ? WHERE name = ?`,
		state, ts(at), strings.Join(lines, "\n"), done, name)
	if err != nil {
		return fmt.Errorf("worker %s heartbeat: %w", name, err)
	}
	return nil
}

// Workers returns every worker known, by name.
func (s *Store) Workers(ctx context.Context) ([]Worker, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, hostname, pid, concurrency, state, started_at, beat_at, running, tries_done FROM workers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("workers: %w", err)
	}
	defer rows.Close()
	out := []Worker{}
	for rows.Next() {
		var w Worker
		var st, beat sql.NullString
		var running string
		if err := rows.Scan(&w.Name, &w.Hostname, &w.PID, &w.Concurrency, &w.State, &st, &beat, &running, &w.TriesDone); err != nil {
			return nil, fmt.Errorf("workers: %w", err)
		}
		w.StartedAt, w.BeatAt = parseTS(st), parseTS(beat)
		w.Running = []TryKey{}
		for _, line := range strings.Split(running, "\n") {
			if k, ok := decodeTryKey(line); ok {
				w.Running = append(w.Running, k)
			}
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// RunningTries returns the tries recorded running with a worker, in both tables.
func (s *Store) RunningTries(ctx context.Context) ([]Try, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT run_id, task_id, -1, try_number, state, started_at, worker FROM task_instances WHERE state = ? AND worker <> ''
		UNION ALL SELECT run_id, task_id, map_index, try_number, state, started_at, worker FROM mapped_instances WHERE state = ? AND worker <> ''`,
		string(grpipe.StateRunning), string(grpipe.StateRunning))
	if err != nil {
		return nil, fmt.Errorf("running tries: %w", err)
	}
	defer rows.Close()
	var out []Try
	for rows.Next() {
		var t Try
		var state string
		var st sql.NullString
		if err := rows.Scan(&t.RunID, &t.TaskID, &t.MapIndex, &t.Try, &state, &st, &t.Worker); err != nil {
			return nil, fmt.Errorf("running tries: %w", err)
		}
		t.State, t.StartedAt = grpipe.State(state), parseTS(st)
		out = append(out, t)
	}
	return out, rows.Err()
}

// LostTry is a running try whose worker no longer runs it, and why.
type LostTry struct {
	Try
	Reason string
}

// LostTries returns the running tries, at time now, whose worker is dead
// (no heartbeat within timeout, or stopped) or alive but no longer running
// them (its last heartbeat, taken at least beat after the try started, does
// not list it: the worker lost the try, e.g. its connection to the database
// broke before it could record the end).
func (s *Store) LostTries(ctx context.Context, now time.Time, timeout, beat time.Duration) ([]LostTry, error) {
	running, err := s.RunningTries(ctx)
	if err != nil || len(running) == 0 {
		return nil, err
	}
	ws, err := s.Workers(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]Worker{}
	for _, w := range ws {
		byName[w.Name] = w
	}
	var lost []LostTry
	for _, t := range running {
		w, ok := byName[t.Worker]
		switch {
		case !ok:
			lost = append(lost, LostTry{t, fmt.Sprintf("worker %s is not registered", t.Worker)})
		case w.State == WorkerStopped:
			lost = append(lost, LostTry{t, fmt.Sprintf("worker %s stopped (on %s) before the try ended", w.Name, w.Hostname)})
		case now.Sub(w.BeatAt) > timeout:
			lost = append(lost, LostTry{t, fmt.Sprintf("worker %s (on %s, process %d) stopped: no heartbeat for %s",
				w.Name, w.Hostname, w.PID, now.Sub(w.BeatAt).Round(time.Second))})
		case w.BeatAt.Sub(t.StartedAt) > beat && !containsKey(w.Running, t.TryKey):
			lost = append(lost, LostTry{t, fmt.Sprintf("worker %s no longer runs the try (it could not record its end)", w.Name)})
		}
	}
	return lost, nil
}

func containsKey(ks []TryKey, k TryKey) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}
