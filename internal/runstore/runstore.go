// Package runstore keeps the run metadata in SQLite (modernc.org/sqlite, WAL):
// DAG runs with their JSON summaries (ledger and check results included),
// task instances with their tries and logs, the DAG's paused flag, the queue
// of runs waiting to be executed, the scheduler's heartbeat, and the capture's
// state (capture.go: the reviews landed, in their versions). The schema
// is created and upgraded by numbered migrations (migrations/NNNN_*.sql,
// never edited once released), so a newer grpipe can open an older home.
//
// Reading (for the CLI and a web UI): ListRuns, QueuedRuns, Run (a grpipe.Run), Summary (the JSON summary), TaskInstances
// and LatestTaskInstances (one row per try), TaskLog (per try), Paused,
// LastHeartbeat, PreviousRun. Unknown ids give errors wrapping
// grpipe.ErrNotFound. Writing is the orchestrator's (internal/orchestrator):
// StartRun, EnqueueRun, MarkRunning, TaskStarted, TaskEnded, FinishRun,
// ClearTasks, QueueTasks, RequeueInterrupted, FailInterrupted, SetPaused, Beat.
//
// A second store (PostgreSQL, for several machines) implements the same
// methods over the same migrations.
package runstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // registers "sqlite"

	grpipe "github.com/grpipe/grpipe"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the run metadata database.
type Store struct {
	db *sql.DB
	// postgres is whether the store is on PostgreSQL (see postgres.go).
	postgres bool
}

// busyTimeout is how long a statement waits for a lock another connection
// or process holds before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Open opens (creating and migrating if needed) the store at path. Many
// processes may open one store at once (the scheduler writing, `grpipe runs
// list`, the web UI reading): every connection waits up to busyTimeout for
// a lock, set before anything else it does (journal_mode(WAL) itself takes
// a lock), and a store whose schema is current is only read at open.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()) +
		"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open run store %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open run store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying database (for tests and later migrations).
func (s *Store) DB() *sql.DB { return s.db }

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	body    string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", name)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, body: string(body)})
	}
	return out, nil
}

// version returns the schema's version: 0 for a new database.
func version(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, postgres bool) (int, error) {
	exists := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if postgres {
		exists = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	var n int
	if err := q.QueryRowContext(ctx, exists).Scan(&n); err != nil || n == 0 {
		return 0, err
	}
	var v int
	err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// migrate brings the schema up to date. A current schema is only read (no
// write lock, so a reader opening the store never waits for a writer's
// transaction, nor makes it wait); otherwise the migrations run in one
// BEGIN IMMEDIATE transaction that reads the version again, so that two
// processes upgrading a home at once apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
	all, err := loadMigrations()
	if err != nil {
		return err
	}
	latest := all[len(all)-1].version
	current, err := version(ctx, s.db, s.postgres)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current >= latest {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	// On PostgreSQL the processes that open the store migrate under an
	// advisory lock (OpenMetadata); a plain transaction suffices.
	begin := `BEGIN IMMEDIATE`
	if s.postgres {
		begin = `BEGIN`
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current, err = version(ctx, conn, s.postgres); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range all {
		if m.version <= current {
			continue
		}
		if _, err := conn.ExecContext(ctx, m.body); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.version, ts(time.Now())); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	done = true
	return nil
}

// sqliteFull is SQLite's result code for a write that found no room.
const sqliteFull = 13

// full names a full disk in SQLite's error, which says only "database or
// disk is full".
func full(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqliteFull {
		return fmt.Errorf("%w: no space left on device for the run store", err)
	}
	return err
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTS(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s.String)
	return t
}

// StartRun records a run in state running.
// Its StartedAt is also its QueuedAt.
func (s *Store) StartRun(ctx context.Context, r grpipe.Run) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO dag_runs (run_id, dag_id, run_type, state, logical_date, data_interval_start, data_interval_end, queued_at, started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.RunID, grpipe.DAGID, string(r.RunType), string(grpipe.StateRunning), ts(r.LogicalDate), ts(r.DataIntervalStart), ts(r.DataIntervalEnd), ts(r.StartedAt), ts(r.StartedAt))
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.RunID, full(err))
	}
	return nil
}

// TaskStarted records the start of a try of a task.
func (s *Store) TaskStarted(ctx context.Context, runID, taskID string, kind grpipe.TaskKind, try int, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO task_instances (run_id, task_id, try_number, state, started_at, kind) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, kind = excluded.kind, error = '', log = ''`,
		runID, taskID, try, string(grpipe.StateRunning), ts(at), string(kind))
	if err != nil {
		return fmt.Errorf("record task %s: %w", taskID, full(err))
	}
	return nil
}

// TaskEnded records the end of a try of a task, with its log.
func (s *Store) TaskEnded(ctx context.Context, runID string, t grpipe.TaskSummary, try int, log string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO task_instances (run_id, task_id, try_number, state, started_at, ended_at, error, log, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, ended_at = excluded.ended_at,
		error = excluded.error, log = excluded.log, kind = excluded.kind`,
		runID, t.TaskID, try, string(t.State), ts(t.StartedAt), ts(t.EndedAt), t.Error, log, string(t.Kind))
	if err != nil {
		return fmt.Errorf("record task %s: %w", t.TaskID, full(err))
	}
	return nil
}

// FinishRun records a run's end (or its pause, queued): state, error and
// summary, which holds the run's ledger and check results.
func (s *Store) FinishRun(ctx context.Context, sum *grpipe.RunSummary) error {
	body, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE dag_runs SET state = ?, ended_at = nullif(?, ''), error = ?, summary = ? WHERE run_id = ?`,
		string(sum.State), ts(sum.EndedAt), sum.Error, string(body), sum.RunID); err != nil {
		return fmt.Errorf("record run %s: %w", sum.RunID, full(err))
	}
	return nil
}

// Summary returns the JSON summary of a run (what `grpipe runs show --json`
// prints). For a run that has not finished yet, its tasks are those recorded
// so far (the latest try of each). The error wraps grpipe.ErrNotFound for an
// unknown id.
func (s *Store) Summary(ctx context.Context, runID string) (*grpipe.RunSummary, error) {
	rec, err := s.Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	var body string
	if err := s.db.QueryRowContext(ctx, `SELECT summary FROM dag_runs WHERE run_id = ?`, runID).Scan(&body); err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	sum := &grpipe.RunSummary{}
	if err := json.Unmarshal([]byte(body), sum); err != nil {
		return nil, fmt.Errorf("run %s summary: %w", runID, err)
	}
	sum.Run = rec
	if sum.Tables == nil {
		sum.Tables = grpipe.NewLedgers()
	}
	if sum.Checks == nil {
		sum.Checks = []grpipe.CheckResult{}
	}
	if sum.Files == nil {
		sum.Files = []string{}
	}
	if sum.Recovered == nil {
		sum.Recovered = []string{}
	}
	if len(sum.Tasks) == 0 || rec.State == grpipe.StateRunning || rec.State == grpipe.StateQueued {
		latest, err := s.LatestTaskInstances(ctx, runID)
		if err != nil {
			return nil, err
		}
		byID := map[string]int{}
		for i, t := range sum.Tasks {
			byID[t.TaskID] = i
		}
		for _, ti := range latest {
			ts := grpipe.TaskSummary{TaskID: ti.TaskID, State: ti.State, StartedAt: ti.StartedAt, EndedAt: ti.EndedAt, Error: ti.Error, Tries: ti.TryNumber, Kind: ti.Kind}
			if i, ok := byID[ti.TaskID]; ok {
				sum.Tasks[i] = ts
			} else {
				sum.Tasks = append(sum.Tasks, ts)
			}
		}
	}
	return sum, nil
}

// RunIDs returns the ids of the most recent runs, newest first, in the given states (all when none).
func (s *Store) RunIDs(ctx context.Context, limit int, states ...grpipe.State) ([]string, error) {
	runs, err := s.ListRuns(ctx, limit, states...)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.RunID
	}
	return ids, nil
}

// FailInterrupted marks a run left running by a process that died as failed,
// with its running task instances.
func (s *Store) FailInterrupted(ctx context.Context, runID, reason string, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `UPDATE task_instances SET state = ?, ended_at = ?, error = ? WHERE run_id = ? AND state = ?`,
		string(grpipe.StateFailed), ts(at), reason, runID, string(grpipe.StateRunning)); err != nil {
		return fmt.Errorf("fail interrupted run %s: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE dag_runs SET state = ?, ended_at = ?, error = ? WHERE run_id = ? AND state = ?`,
		string(grpipe.StateFailed), ts(at), reason, runID, string(grpipe.StateRunning)); err != nil {
		return fmt.Errorf("fail interrupted run %s: %w", runID, err)
	}
	return tx.Commit()
}

// TaskLog returns the log of one try of a task (the latest try when try is 0).
func (s *Store) TaskLog(ctx context.Context, runID, taskID string, try int) (string, int, error) {
	q := `SELECT log, try_number FROM task_instances WHERE run_id = ? AND task_id = ? `
	args := []any{runID, taskID}
	if try > 0 {
		q += `AND try_number = ?`
		args = append(args, try)
	} else {
		q += `ORDER BY try_number DESC LIMIT 1`
	}
	var log string
	var n int
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&log, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, fmt.Errorf("task %s of run %s (try %d): %w", taskID, runID, try, grpipe.ErrNotFound)
	}
	return log, n, err
}
