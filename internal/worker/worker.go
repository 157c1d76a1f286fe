// Package worker is the `grpipe worker` process of the distributed executor:
// it registers itself in the run store (PostgreSQL), beats every few seconds
// with the tries it runs, takes tries from the River queue (internal/queue)
// and runs them with the pipeline's task functions.
//
// A try is run only after the worker claimed it in the run store (a
// conditional update: only one worker ever runs a try, and never one that a
// scheduler gave up as lost); its end, log and output are recorded by the
// same worker, conditionally again, so an outcome that comes too late is
// dropped rather than overwriting the try's recorded fate. The scheduler
// decides everything else (retries, what runs next): a worker only runs.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/queue"
	"github.com/grpipe/grpipe/internal/runstore"
)

// Options configure a worker.
type Options struct {
	// Name identifies the worker (default host:pid); unique among live workers.
	Name string
	// Concurrency is how many tries run at once (0: 1).
	Concurrency int
	// Parts runs the instances of the mapped ETL (a part's JSON in, its
	// output's JSON out): the pipeline's RunPart. Nil: the worker runs none.
	Parts func(ctx context.Context, part json.RawMessage, log *slog.Logger) ([]byte, error)
	// Mapper, when set, is made the mapper of this worker's ETL tries.
	Mapper *Mapper
	// Grace is how long a stopping worker lets running tries finish before
	// cancelling them (their tries are then handed back to the scheduler).
	Grace time.Duration
	// Beat is the heartbeat interval (0: DefaultBeat).
	Beat time.Duration
	// Alive is how long a silent worker counts as alive (0: DefaultAlive);
	// a name is refused while a worker of that name is alive.
	Alive time.Duration
	// Poll is how often the queue is polled besides LISTEN/NOTIFY (0: 1s).
	Poll time.Duration
	// RecordTimeout bounds recording a try's claim, and then its end, each
	// from the moment it starts (0: DefaultRecordTimeout).
	RecordTimeout time.Duration
	Log           *slog.Logger
}

// Defaults of the heartbeat: a worker beats every DefaultBeat; one silent
// for DefaultAlive is dead, and its tries are given up and retried.
const (
	DefaultBeat  = 2 * time.Second
	DefaultAlive = 15 * time.Second
	// DefaultRecordTimeout bounds one write of a try's claim or end.
	DefaultRecordTimeout = 30 * time.Second
)

// DefaultName returns host:pid.
func DefaultName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// ErrHandedBack marks a try that a stopping worker cut short: it did not
// fail, the scheduler runs it again.
var ErrHandedBack = errors.New("handed back: the worker stopped before the try ended")

// Run runs the worker until ctx ends, then stops within the grace period
// and returns nil. It refuses to start (ErrBusy) when a live worker has the name.
func Run(ctx context.Context, store *runstore.Store, pool *pgxpool.Pool, tasks dag.Executor, opts Options) error {
	if opts.Name == "" {
		opts.Name = DefaultName()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.Beat <= 0 {
		opts.Beat = DefaultBeat
	}
	if opts.Alive <= 0 {
		opts.Alive = DefaultAlive
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.RecordTimeout <= 0 {
		opts.RecordTimeout = DefaultRecordTimeout
	}
	log := opts.Log.With("worker", opts.Name)
	host, _ := os.Hostname()
	me := runstore.Worker{Name: opts.Name, Hostname: host, PID: os.Getpid(), Concurrency: opts.Concurrency, StartedAt: time.Now().UTC()}
	if err := store.RegisterWorker(ctx, me, opts.Alive); err != nil {
		return err
	}
	h := &handler{store: store, tasks: tasks, parts: opts.Parts, name: opts.Name, host: host, log: log, recordTimeout: opts.RecordTimeout}
	q, err := queue.Open(pool, "", log)
	if err != nil {
		return err
	}
	h.q = q
	if opts.Mapper != nil {
		opts.Mapper.h = h
	}
	w, err := queue.NewWorker(pool, queue.WorkerOptions{ID: opts.Name, Concurrency: opts.Concurrency, Grace: opts.Grace, Poll: opts.Poll, Log: log}, h.run)
	if err != nil {
		return err
	}
	h.w = w

	// The heartbeat outlives ctx: it goes on through the grace period.
	bctx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	var beats sync.WaitGroup
	state := func() string {
		if ctx.Err() != nil {
			return runstore.WorkerStopping
		}
		return runstore.WorkerRunning
	}
	// A worker that cannot beat for fence stops its tries itself, before the
	// schedulers (after Alive) give them up and retry them elsewhere: a try
	// never goes on beside its own retry.
	fence := opts.Alive * 2 / 3
	beats.Add(1)
	go func() {
		defer beats.Done()
		t := time.NewTicker(opts.Beat)
		defer t.Stop()
		lastOK := time.Now()
		for {
			// A heartbeat may take until the fence is due: a database that
			// answers slowly (a machine whose cores are all taken) is not a
			// lost one. Cutting each beat at the beat period failed every
			// beat of a worker starved of CPU, which then fenced a healthy
			// try. Once fenced, each beat gets at least the beat period.
			bctx1, cancel := context.WithTimeout(bctx, max(opts.Beat, time.Until(lastOK.Add(fence))))
			err := store.BeatWorker(bctx1, opts.Name, state(), h.running(), w.Done(), time.Now().UTC())
			cancel()
			switch {
			case err == nil:
				lastOK = time.Now()
			case bctx.Err() == nil:
				log.Warn("heartbeat not recorded", "error", err)
				if silent := time.Since(lastOK); silent > fence {
					h.fence(fmt.Errorf("no heartbeat recorded for %s (the metadata database is unreachable): %w", silent.Round(time.Second), err))
				}
			}
			select {
			case <-bctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	log.Info("worker started", "concurrency", opts.Concurrency, "host", host, "pid", me.PID)
	err = w.Run(ctx)
	stopBeat()
	beats.Wait()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if berr := store.BeatWorker(fctx, opts.Name, runstore.WorkerStopped, nil, w.Done(), time.Now().UTC()); berr != nil {
		log.Warn("last heartbeat not recorded", "error", berr)
	}
	log.Info("worker stopped", "tries_done", w.Done())
	return err
}

type handler struct {
	store *runstore.Store
	tasks dag.Executor
	parts func(ctx context.Context, part json.RawMessage, log *slog.Logger) ([]byte, error)
	q     *queue.Queue
	name  string
	host  string
	log   *slog.Logger
	w     *queue.Worker
	// recordTimeout bounds each write of a claim or an end.
	recordTimeout time.Duration
	mu            sync.Mutex
	// claimed are the tries this worker claimed and has not ended, with
	// what cancels each.
	claimed map[runstore.TryKey]context.CancelCauseFunc
}

// fence cancels every running try: the worker lost the metadata database.
func (h *handler) fence(cause error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, cancel := range h.claimed {
		h.log.Error("stopping a try: the worker cannot reach the metadata database", "try", k.String(), "error", cause)
		cancel(fmt.Errorf("%w: %w", ErrFenced, cause))
	}
}

// ErrFenced marks a try a worker stopped itself because it could no longer
// record heartbeats: the schedulers give such a try up and retry it.
var ErrFenced = errors.New("stopped by its worker")

// running returns the tries this worker claimed and runs, sorted.
func (h *handler) running() []runstore.TryKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]runstore.TryKey, 0, len(h.claimed))
	for k := range h.claimed {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// list lists try k as running here, cancelled by cancel; false (and
// nothing changes) when this worker lists k already.
func (h *handler) list(k runstore.TryKey, cancel context.CancelCauseFunc) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.claimed[k]; ok {
		return false
	}
	if h.claimed == nil {
		h.claimed = map[runstore.TryKey]context.CancelCauseFunc{}
	}
	h.claimed[k] = cancel
	return true
}

func (h *handler) setClaimed(k runstore.TryKey, cancel context.CancelCauseFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.claimed == nil {
		h.claimed = map[runstore.TryKey]context.CancelCauseFunc{}
	}
	if cancel != nil {
		h.claimed[k] = cancel
	} else {
		delete(h.claimed, k)
	}
}

// run is River's handler of one job: claim the try, run it, record its end.
func (h *handler) run(ctx context.Context, a queue.TaskArgs) error {
	k := runstore.TryKey{RunID: a.RunID, TaskID: a.TaskID, MapIndex: a.MapIndex, Try: a.Try}
	log := h.log.With("run_id", a.RunID, "task", a.TaskID, "try", a.Try)
	if a.MapIndex >= 0 {
		log = log.With("map_index", a.MapIndex)
	}
	// Recording outlives the job's context: a try cut short is still
	// recorded. Each write gets its own time from when it starts: a budget
	// taken at the claim had run out when a try longer than it ended, its
	// end was never recorded, and the scheduler gave the finished try up as
	// lost (every ETL try of a 1 M-record batch).
	record := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), h.recordTimeout)
	}
	// Listed as running before the claim, so no heartbeat after the claim omits it.
	ctx, cancelTry := context.WithCancelCause(ctx)
	defer cancelTry(nil)
	if !h.list(k, cancelTry) {
		// The same try twice in this worker: its job, and the ETL's worker
		// helping with a part nobody took yet. The second must not unlist
		// the first when it finds the try taken: the heartbeats would omit a
		// try this worker runs, and the schedulers would give it up as lost.
		log.Info("try not run: this worker runs it already")
		return nil
	}
	defer h.setClaimed(k, nil)
	cctx, cancel := record()
	ok, err := h.store.ClaimTry(cctx, k, h.name, time.Now().UTC())
	cancel()
	if err != nil {
		return err
	}
	if !ok {
		log.Info("try not run: it is taken, ended, or was given up")
		return nil
	}
	o := h.execute(ctx, k, a, log)
	rctx, cancel := record()
	defer cancel()
	return h.record(rctx, k, o, log)
}

// record records the end of try k run by this worker.
func (h *handler) record(rctx context.Context, k runstore.TryKey, o runstore.Outcome, log *slog.Logger) error {
	if errors.Is(o.Err, ErrFenced) {
		// Given up by the worker itself: no heartbeat lists it any more, so
		// the schedulers find it lost even if its end cannot be recorded.
		h.setClaimed(k, nil)
	}
	recorded, err := h.store.EndTry(rctx, k, h.name, o)
	if err != nil {
		log.Error("try end not recorded", "state", o.State, "error", err)
		return err
	}
	if !recorded {
		log.Warn("try end dropped: the scheduler gave the try up as lost meanwhile", "state", o.State)
	}
	return nil
}

// Try returns the dag.Try a job carries.
func Try(a queue.TaskArgs) (dag.Try, error) {
	var t dag.Try
	if len(a.Payload) > 0 {
		if err := json.Unmarshal(a.Payload, &t); err != nil {
			return t, fmt.Errorf("job %s: its payload is not a try: %w", a, err)
		}
	}
	if t.Run.RunID != a.RunID || t.TaskID != a.TaskID || t.Number != a.Try {
		return t, fmt.Errorf("job %s: its payload is another try (%s %s try %d)", a, t.Run.RunID, t.TaskID, t.Number)
	}
	return t, nil
}

// execute runs one try with the executor of this process (the pipeline's
// work, as the local executor runs it: its own log, timeout and panics).
func (h *handler) execute(ctx context.Context, k runstore.TryKey, a queue.TaskArgs, log *slog.Logger) runstore.Outcome {
	var res dag.Result
	var raw []byte
	if a.MapIndex >= 0 {
		res, raw = h.runPart(ctx, a)
	} else if t, err := Try(a); err != nil {
		now := time.Now().UTC()
		res = dag.Result{Started: now, Ended: now, Err: err}
	} else {
		res = h.tasks.Run(ctx, t)
	}
	o := runstore.Outcome{State: grpipe.StateSuccess, EndedAt: res.Ended, Err: res.Err,
		Log: fmt.Sprintf("time=%s level=INFO msg=\"try taken by worker\" worker=%s host=%s\n", res.Started.Format(time.RFC3339Nano), h.name, h.host) + res.Log}
	if o.EndedAt.IsZero() {
		o.EndedAt = time.Now().UTC()
	}
	if raw != nil {
		o.Output = string(raw)
	} else if out, err := json.Marshal(res.Output); err == nil {
		o.Output = string(out)
	}
	switch {
	case o.Err != nil && errors.Is(context.Cause(ctx), ErrFenced):
		o.Err, o.ErrorKind = fmt.Errorf("%w: %w", context.Cause(ctx), o.Err), "lost"
	case o.Err != nil && ctx.Err() != nil:
		o.Err, o.ErrorKind = fmt.Errorf("%w (worker %s): %w", ErrHandedBack, h.name, o.Err), "handed_back"
	}
	if o.Err != nil {
		o.State = grpipe.StateFailed
		log.Error("try failed", "error", o.Err.Error())
	} else {
		log.Info("try succeeded")
	}
	return o
}
