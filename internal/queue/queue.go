// Package queue is the distributed executor's queue: River
// (github.com/riverqueue/river, driver riverpgxv5) in the PostgreSQL metadata
// database. One River job is one try of one task instance (TaskArgs: run id,
// task id, map index, try number); a scheduler puts it on the queue, and any
// `grpipe worker` process, on any machine, takes it and runs it.
//
// River carries jobs, and nothing of the DAG's semantics: every job is
// inserted with MaxAttempts 1 and unique by its arguments, so River never
// retries a try and never runs the same try twice; grpipe's orchestrator owns
// tries, retries with backoff, timeouts and the run's state in the run store.
// River's own job timeout is off (grpipe's per-task timeout applies inside
// the task).
//
// The package also holds the schedulers' leader election (Elector): a
// PostgreSQL session advisory lock on a dedicated connection.
package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Name is the River queue grpipe's jobs go to.
const Name = "grpipe"

// TaskArgs is one try of one task instance: River's job arguments. A job
// is unique by run, task, map index and try.
type TaskArgs struct {
	RunID  string `json:"run_id" river:"unique"`
	TaskID string `json:"task_id" river:"unique"`
	// MapIndex is the instance of a mapped task (-1: the task is not mapped).
	MapIndex int `json:"map_index" river:"unique"`
	// Try is the try number (1 for the first).
	Try int `json:"try" river:"unique"`
	// Timeout bounds the try (0: no bound); the scheduler decides it.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Payload is what else the worker needs to run the try (JSON).
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Kind is River's job kind.
func (TaskArgs) Kind() string { return "grpipe_task" }

// InsertOpts makes every job a single attempt, unique by its arguments:
// grpipe's orchestrator owns retries, and a scheduler that takes over from
// another may enqueue a try again without it running twice.
func (TaskArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Name, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// String names the try as logs show it.
func (a TaskArgs) String() string {
	if a.MapIndex >= 0 {
		return fmt.Sprintf("%s %s[%d] try %d", a.RunID, a.TaskID, a.MapIndex, a.Try)
	}
	return fmt.Sprintf("%s %s try %d", a.RunID, a.TaskID, a.Try)
}

// Migrate creates or upgrades River's tables in the database of pool (River's
// own numbered migrations, rivermigrate), in schema (empty: the search path).
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	// Processes starting together migrate one at a time.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("queue migrations: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("queue migrations: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey) //nolint:errcheck // the session's end releases it too
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue migrations: %w", err)
	}
	return nil
}

// migrationLockKey is the advisory lock taken while migrating (the bytes of "grpipe-Q").
const migrationLockKey int64 = 0x67727069_70652d51

// Queue puts tries on the queue (a scheduler's side: it works no job).
type Queue struct {
	client *river.Client[pgx.Tx]
}

// Open returns a queue that inserts into the River tables of pool's database.
func Open(pool *pgxpool.Pool, schema string, log *slog.Logger) (*Queue, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// River's inserting client sends a job's NOTIFY only when it sent none
	// in the last FetchCooldown (default 100ms); a job inserted within that
	// window was then taken at the workers' next poll, up to a second later
	// (the DAG's tasks of one level, the ETL's mapped instances). With the
	// least cooldown every insert notifies, and a worker's own cooldown
	// (fetchCooldown) coalesces a burst of them into one fetch.
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: schema, Logger: log, SkipUnknownJobCheck: true,
		FetchCooldown: river.FetchCooldownMin})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return &Queue{client: c}, nil
}

// Enqueue puts one try on the queue; inserted is false when that try was on
// it already (queued, running or done), which is not an error.
func (q *Queue) Enqueue(ctx context.Context, a TaskArgs) (inserted bool, err error) {
	res, err := q.client.Insert(ctx, a, nil)
	if err != nil {
		return false, fmt.Errorf("enqueue %s: %w", a, err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// Handler runs one try. Its error is the try's outcome for River only: the
// handler records the try's state in the run store itself; a non-nil error
// means it could not (River then discards the job, and the orchestrator sees
// the try was lost).
type Handler func(ctx context.Context, a TaskArgs) error

// WorkerOptions configure a worker.
type WorkerOptions struct {
	// ID names the worker among all clients of the database (River's client
	// id); it must be unique among running workers.
	ID string
	// Concurrency is how many tries run at once (0: 1).
	Concurrency int
	// Grace is how long a stopping worker lets running tries finish before
	// cancelling their contexts (0: cancel at once).
	Grace time.Duration
	// Poll is how often the queue is polled besides LISTEN/NOTIFY (0: 1s).
	Poll time.Duration
	// Schema holds River's tables (empty: the search path).
	Schema string
	Log    *slog.Logger
}

// Worker takes tries from the queue and runs them with its handler.
type Worker struct {
	client *river.Client[pgx.Tx]
	mu     sync.Mutex
	active map[string]time.Time
	done   int64
}

// rescueAfter is when River's rescuer (run by the River leader among the
// workers) takes a job still running for a stuck one. Being single-attempt,
// such a job is discarded, never run again: grpipe's heartbeats find a dead
// worker's tries much sooner, and grpipe retries them.
const rescueAfter = 7 * time.Hour

// fetchCooldown is the least time between two fetches of a worker: River's
// default (100ms) is every try's latency when tries come one by one, as the
// DAG's tasks do.
const fetchCooldown = 20 * time.Millisecond

// NewWorker returns a worker of the queue in pool's database.
func NewWorker(pool *pgxpool.Pool, opts WorkerOptions, h Handler) (*Worker, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{active: map[string]time.Time{}}
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[TaskArgs]) error {
		name := job.Args.String()
		w.mu.Lock()
		w.active[name] = time.Now()
		w.mu.Unlock()
		defer func() {
			w.mu.Lock()
			delete(w.active, name)
			w.done++
			w.mu.Unlock()
		}()
		return h(ctx, job.Args)
	}))
	soft := opts.Grace
	if soft <= 0 {
		soft = time.Millisecond
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                   opts.ID,
		Schema:               opts.Schema,
		Logger:               opts.Log,
		Queues:               map[string]river.QueueConfig{Name: {MaxWorkers: opts.Concurrency}},
		Workers:              workers,
		JobTimeout:           -1, // grpipe's per-task timeout applies inside the task
		RescueStuckJobsAfter: rescueAfter,
		FetchPollInterval:    opts.Poll,
		FetchCooldown:        min(opts.Poll, fetchCooldown),
		SoftStopTimeout:      soft,
		MaxAttempts:          1,
	})
	if err != nil {
		return nil, fmt.Errorf("queue worker: %w", err)
	}
	w.client = c
	return w, nil
}

// Run works tries until ctx ends, then stops: it takes no new try, lets the
// running ones finish within the grace period, then cancels their contexts
// and waits for them to return. It returns nil after such a stop.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.client.Start(ctx); err != nil {
		return fmt.Errorf("queue worker: %w", err)
	}
	<-w.client.Stopped()
	return nil
}

// Running returns the tries running now (by TaskArgs.String), with their start times.
func (w *Worker) Running() map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]time.Time, len(w.active))
	for k, v := range w.active {
		out[k] = v
	}
	return out
}

// Done returns how many tries this worker has finished.
func (w *Worker) Done() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}
