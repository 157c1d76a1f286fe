// Package scheduler is grpipe's long-running scheduler: it creates a run of
// the DAG for every interval of a cron schedule (with catch-up of missed
// intervals), has the orchestrator execute the queued runs (one at a time,
// also across processes; paused DAGs wait; runs a dead process left running
// resume), keeps a heartbeat in the run store, and on SIGTERM lets the
// running task finish within a grace period. What a run is and how it
// executes is internal/orchestrator's; this package decides only when.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/flock"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/runstore"
)

// Clock is the scheduler's time; tests pass a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure a scheduler.
type Options struct {
	// Schedule is a cron spec (5 fields, "*/10 * * * *") or a descriptor
	// ("@hourly", "@every 30s"); empty means DefaultSchedule.
	Schedule string
	// Catchup creates a run for every interval missed since StartDate (or
	// since the last scheduled run); without it only the latest interval runs.
	Catchup bool
	// StartDate, when set, is the first logical date; EndDate the last.
	StartDate, EndDate time.Time
	// SchedulerLock is the path of the lock that keeps a second scheduler out.
	SchedulerLock string
	// Grace is how long a running task may go on after a stop signal
	// (orchestrator.grace_period; 0: it is cancelled at once).
	Grace time.Duration
	// Poll is how often the queue is looked at for triggered runs (0: 5s).
	Poll time.Duration
	// HeartbeatEvery is how often the heartbeat is written (0: 5s).
	HeartbeatEvery time.Duration
	// Clock is the time (nil: the real one).
	Clock Clock
}

// Validate checks the schedule and the dates; the error names the flag at fault.
func (o Options) Validate() error {
	spec := o.Schedule
	if spec == "" {
		spec = orchestrator.DefaultSchedule
	}
	if _, err := orchestrator.ParseSchedule(spec); err != nil {
		return err
	}
	if !o.StartDate.IsZero() && !o.EndDate.IsZero() && o.EndDate.Before(o.StartDate) {
		return fmt.Errorf("%w: --end-date %s is before --start-date %s", grpipe.ErrBadInput,
			o.EndDate.Format(time.RFC3339), o.StartDate.Format(time.RFC3339))
	}
	return nil
}

// Scheduler creates and executes the DAG's runs.
type Scheduler struct {
	opts  Options
	sched orchestrator.Schedule
	store *runstore.Store
	svc   *orchestrator.Service
	log   *slog.Logger
	// lastWait is why the head of the queue waited at the last pass (logged once).
	lastWait string
}

// New returns a scheduler; the error names a bad option.
func New(opts Options, store *runstore.Store, svc *orchestrator.Service, log *slog.Logger) (*Scheduler, error) {
	if opts.Schedule == "" {
		opts.Schedule = orchestrator.DefaultSchedule
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	sched, err := orchestrator.ParseSchedule(opts.Schedule)
	if err != nil {
		return nil, err
	}
	if opts.SchedulerLock == "" {
		return nil, errors.New("scheduler: the scheduler lock's path is required")
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.HeartbeatEvery <= 0 {
		opts.HeartbeatEvery = 5 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{opts: opts, sched: sched, store: store, svc: svc, log: log}, nil
}

// Run schedules and executes runs until ctx ends (SIGTERM, SIGINT). Then it
// starts no new task, lets the running one finish within the grace period
// (cancelling it after), records the run as queued to resume at the next
// start, and returns nil. It refuses (grpipe.ErrBusy) when another
// scheduler runs in the same home.
func (s *Scheduler) Run(ctx context.Context) error {
	lk, err := flock.TryLock(s.opts.SchedulerLock)
	if err != nil {
		if errors.Is(err, grpipe.ErrBusy) {
			return fmt.Errorf("%w: a scheduler already runs in this home (%v)", grpipe.ErrBusy, err)
		}
		return err
	}
	defer lk.Unlock()

	clock := s.opts.Clock
	started := clock.Now().UTC()
	beat := func(state grpipe.SchedulerState) {
		err := s.store.Beat(context.WithoutCancel(ctx), runstore.Heartbeat{PID: os.Getpid(), Schedule: s.opts.Schedule, State: state,
			StartedAt: started, BeatAt: clock.Now().UTC()})
		if err != nil {
			s.log.Error("scheduler heartbeat", "error", err)
		}
	}
	beat(grpipe.SchedulerRunning)
	s.log.Info("scheduler started", "schedule", s.opts.Schedule, "catchup", s.opts.Catchup, "depends_on_past", s.svc.DependsOnPast())

	// Work outlives the stop signal by the grace period.
	stop := make(chan struct{})
	finished := make(chan struct{})
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	go func() {
		select {
		case <-ctx.Done():
		case <-finished:
			return
		}
		s.log.Info("stop requested: no new task starts; waiting for the running one", "grace", s.opts.Grace.String())
		close(stop)
		beat(grpipe.SchedulerStopping)
		select {
		case <-clock.After(s.opts.Grace):
			s.log.Warn("grace period over: cancelling the running task")
			cancelWork()
		case <-finished:
		}
	}()
	go func() {
		for {
			select {
			case <-finished:
				return
			case <-stop:
				return
			case <-clock.After(s.opts.HeartbeatEvery):
				beat(grpipe.SchedulerRunning)
			}
		}
	}()

	for {
		if err := s.Tick(work, stop); err != nil {
			// A failing tick (the store or the warehouse unreachable) is logged
			// and tried again at the next wake-up, like Airflow's scheduler loop.
			s.log.Error("scheduler tick", "error", err)
		}
		wait := s.untilNext(clock.Now())
		select {
		case <-stop:
		case <-clock.After(wait):
			continue
		}
		break
	}
	close(finished)
	beat(grpipe.SchedulerStopped)
	s.log.Info("scheduler stopped")
	return nil
}

// untilNext returns how long to sleep: until the current interval closes,
// at most Poll (queued runs are picked up within Poll).
func (s *Scheduler) untilNext(now time.Time) time.Duration {
	d := s.sched.Next(now).Sub(now)
	if d > s.opts.Poll {
		d = s.opts.Poll
	}
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

// Tick is one pass of the scheduler: the orchestrator executes queued runs
// (resuming runs a dead process left running, and — unless the DAG is
// paused — queueing the next due interval first) until none is left, one
// waits on depends_on_past, or stop closes. While another process holds the
// run lock, Tick waits for the next pass.
func (s *Scheduler) Tick(ctx context.Context, stop <-chan struct{}) error {
	sum, err := s.svc.ExecuteQueued(ctx, stop, s.queueDue)
	if errors.Is(err, grpipe.ErrBusy) {
		s.log.Info("the run lock is held by another process (a manual grpipe run?): waiting", "detail", err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	if sum == nil {
		s.lastWait = ""
		return nil
	}
	if !dag.Stopped(stop) && sum.RunID+sum.Error != s.lastWait {
		s.log.Warn("run waits", "run_id", sum.RunID, "why", sum.Error)
		s.lastWait = sum.RunID + sum.Error
	}
	return nil
}

// queueDue queues the next interval whose end has passed, unless a run is
// queued already (max_active_runs=1: runs are created one at a time, so a
// run waiting on depends_on_past holds back the ones after it).
func (s *Scheduler) queueDue(ctx context.Context) error {
	queued, err := s.store.QueuedRuns(ctx)
	if err != nil || len(queued) > 0 {
		return err
	}
	now := s.opts.Clock.Now().UTC()
	start, end, ok, err := s.NextInterval(ctx, now)
	if err != nil || !ok {
		return err
	}
	run, created, err := s.svc.Enqueue(ctx, grpipe.RunScheduled, start, end)
	if err != nil {
		return err
	}
	if created {
		s.log.Info("queued scheduled run", "run_id", run.RunID, "data_interval_start", start, "data_interval_end", end)
	}
	return nil
}

// NextInterval returns the data interval [start, end) of the next scheduled
// run due at now: after the last scheduled run (and not before StartDate);
// without catch-up, or with no history and no start date, the latest
// interval that has ended. ok is false when nothing is due.
func (s *Scheduler) NextInterval(ctx context.Context, now time.Time) (start, end time.Time, ok bool, err error) {
	last, haveLast, err := s.store.LastScheduledRun(ctx)
	if err != nil {
		return start, end, false, err
	}
	latest, haveLatest := s.latestInterval(now)
	switch {
	case haveLast:
		start = last.DataIntervalEnd
	case !s.opts.StartDate.IsZero():
		start = s.sched.Next(s.opts.StartDate.Add(-time.Second))
	case haveLatest:
		start = latest
	default:
		return start, end, false, nil
	}
	if !s.opts.StartDate.IsZero() {
		if first := s.sched.Next(s.opts.StartDate.Add(-time.Second)); start.Before(first) {
			start = first
		}
	}
	if !s.opts.Catchup && haveLatest && latest.After(start) {
		start = latest
	}
	end = s.sched.Next(start)
	if end.After(now) {
		return start, end, false, nil
	}
	if !s.opts.EndDate.IsZero() && start.After(s.opts.EndDate) {
		return start, end, false, nil
	}
	return start, end, true, nil
}

// latestInterval returns the start of the latest interval that ended by now.
func (s *Scheduler) latestInterval(now time.Time) (time.Time, bool) {
	n1 := s.sched.Next(now)
	period := s.sched.Next(n1).Sub(n1)
	for lookback := 3 * period; lookback <= 400*24*time.Hour; lookback *= 4 {
		var p1, p2 time.Time
		for x := s.sched.Next(now.Add(-lookback)); !x.After(now); x = s.sched.Next(x) {
			p2, p1 = p1, x
		}
		if !p2.IsZero() {
			return p2, true
		}
		if lookback <= 0 {
			break
		}
	}
	return time.Time{}, false
}
