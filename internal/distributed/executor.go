// Package distributed is the distributed executor (executor: distributed):
// a dag.Executor that puts each try on the River queue in the PostgreSQL
// metadata database, where `grpipe worker` processes on any machine take it
// (internal/worker), and waits for the try's end as the worker records it in
// the run store. The DAG's semantics stay above it, in internal/dag and
// internal/orchestrator, the same for the local executor and this one.
//
// A try whose worker dies is found by the heartbeats: a worker silent for
// Alive (15s), or alive but no longer listing the try, loses it; the executor
// records the try failed with the reason, and the runner retries it like any
// failed try (on whichever worker takes it). The bound from a worker's death
// to the retry being on the queue is Alive + Check (15s + 2s by default),
// plus the task's retry delay.
package distributed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/queue"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/worker"
)

// Options tune the executor.
type Options struct {
	// Poll is how often a try's state is read while it runs (0: 100ms).
	Poll time.Duration
	// Check is how often the workers' heartbeats are checked for lost tries (0: 2s).
	Check time.Duration
	// Alive is how long a silent worker counts as alive (0: worker.DefaultAlive).
	Alive time.Duration
	// Beat is the workers' heartbeat interval (0: worker.DefaultBeat).
	Beat time.Duration
	Log  *slog.Logger
}

// Executor runs tries on the workers.
type Executor struct {
	store *runstore.Store
	q     *queue.Queue
	opts  Options

	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

var _ dag.Executor = (*Executor)(nil)

// New returns an executor over the run store (on PostgreSQL) and the queue in it.
func New(store *runstore.Store, q *queue.Queue, opts Options) *Executor {
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.Check <= 0 {
		opts.Check = 2 * time.Second
	}
	if opts.Alive <= 0 {
		opts.Alive = worker.DefaultAlive
	}
	if opts.Beat <= 0 {
		opts.Beat = worker.DefaultBeat
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Executor{store: store, q: q, opts: opts}
}

// Job is what a worker needs of a try: the dag.Try, as JSON in the job's payload.
func Job(t dag.Try) (queue.TaskArgs, error) {
	payload, err := json.Marshal(t)
	if err != nil {
		return queue.TaskArgs{}, fmt.Errorf("job of %s try %d: %w", t.TaskID, t.Number, err)
	}
	return queue.TaskArgs{RunID: t.Run.RunID, TaskID: t.TaskID, MapIndex: -1, Try: t.Number, Timeout: t.Timeout, Payload: payload}, nil
}

// Run puts the try on the queue (once: a try enqueued again, by a scheduler
// that took over, is the same job) and waits until a worker recorded its
// end, or the try was lost.
func (x *Executor) Run(ctx context.Context, t dag.Try) dag.Result {
	x.once.Do(x.startMonitor)
	k := runstore.TryKey{RunID: t.Run.RunID, TaskID: t.TaskID, MapIndex: -1, Try: t.Number}
	args, err := Job(t)
	if err == nil {
		_, err = x.q.Enqueue(ctx, args)
	}
	if err != nil {
		now := time.Now().UTC()
		return dag.Result{Started: now, Ended: now, Err: err}
	}
	tick := time.NewTicker(x.opts.Poll)
	defer tick.Stop()
	for {
		rec, err := x.store.TryRecord(ctx, k)
		if err == nil && (rec.State == grpipe.StateSuccess || rec.State == grpipe.StateFailed) {
			return result(rec)
		}
		if err != nil && ctx.Err() == nil {
			x.opts.Log.Warn("cannot read the try's state; retrying", "try", k.String(), "error", err)
		}
		select {
		case <-ctx.Done():
			now := time.Now().UTC()
			return dag.Result{Started: now, Ended: now, Err: fmt.Errorf("%w: %w", dag.ErrDetached, ctx.Err())}
		case <-tick.C:
		}
	}
}

func result(rec runstore.Try) dag.Result {
	r := dag.Result{Started: rec.StartedAt, Ended: rec.EndedAt, Log: rec.Log}
	if rec.State == grpipe.StateFailed {
		r.Err = runstore.TryError(rec.Error, rec.ErrorKind)
		if r.Err == nil {
			r.Err = errors.New("failed")
		}
		if rec.ErrorKind == "handed_back" || rec.ErrorKind == "lost" {
			r.Err = fmt.Errorf("%w: %w", ErrLost, r.Err)
		}
	}
	if rec.Output != "" {
		if err := json.Unmarshal([]byte(rec.Output), &r.Output); err != nil && r.Err == nil {
			r.Err = fmt.Errorf("the try's output cannot be read: %w", err)
		}
	}
	return r
}

// ErrLost marks a try lost with its worker (dead, disconnected, or stopping
// and handing it back): it did not fail on its own, and is retried.
var ErrLost = errors.New("lost with its worker")

// startMonitor starts the loop that gives up the tries of dead workers.
func (x *Executor) startMonitor() {
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel, x.done = cancel, make(chan struct{})
	go func() {
		defer close(x.done)
		t := time.NewTicker(x.opts.Check)
		defer t.Stop()
		for {
			x.giveUpLost(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// giveUpLost records the tries lost with their workers as failed.
func (x *Executor) giveUpLost(ctx context.Context) {
	now := time.Now().UTC()
	lost, err := x.store.LostTries(ctx, now, x.opts.Alive, x.opts.Beat)
	if err != nil {
		if ctx.Err() == nil {
			x.opts.Log.Warn("cannot check the workers' heartbeats", "error", err)
		}
		return
	}
	for _, l := range lost {
		ok, err := x.store.FailLostTry(ctx, l.TryKey, l.Worker, l.Reason, now)
		if err != nil {
			x.opts.Log.Warn("cannot give up a lost try", "try", l.TryKey.String(), "error", err)
			continue
		}
		if ok {
			x.opts.Log.Warn("try lost with its worker: it will be retried", "try", l.TryKey.String(), "worker", l.Worker, "reason", l.Reason)
		}
	}
}

// Close stops the monitor.
func (x *Executor) Close() error {
	if x.cancel != nil {
		x.cancel()
		<-x.done
	}
	return nil
}
