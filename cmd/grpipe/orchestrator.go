package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/flock"
	"github.com/grpipe/grpipe/internal/metrics"
	"github.com/grpipe/grpipe/internal/pipeline"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/scheduler"
)

// The orchestration commands: scheduler, dags, runs, tasks.

const orchestratorUsage = `
Orchestration:
  scheduler [--schedule SPEC] [--catchup] [--start-date T] [--end-date T] [--metrics-addr ADDR] [--grace D]
                       long-running: a run per interval of SPEC (cron or @every 30s; default */10 * * * *)
  dags trigger         queue a manual run for the scheduler
  dags pause|unpause   stop / resume scheduling (queued runs wait while paused)
  dags backfill --start-date T --end-date T [--schedule SPEC] [--now]
                       queue a backfill run per interval (the scheduler runs them; --now runs them here)
  runs list [--json] [--limit N]
  runs show RUN_ID [--json]
                       a run's summary with its tasks and tries
  runs resume RUN_ID   execute a queued (cleared) run now, without the scheduler
  tasks logs RUN_ID TASK_ID [--try N]
  tasks clear RUN_ID TASK_ID [--downstream]
                       set a task (and what follows) back to run again in the same run
`

// subcommand dispatches "NOUN VERB args" commands.
func subcommand(noun string, verbs map[string]func(context.Context, *env, []string) int) func(context.Context, *env, []string) int {
	return func(ctx context.Context, e *env, args []string) int {
		names := make([]string, 0, len(verbs))
		for v := range verbs {
			names = append(names, v)
		}
		sort.Strings(names)
		if len(args) == 0 {
			fmt.Fprintf(e.stderr, "grpipe %s: name a subcommand: %s\n%s", noun, strings.Join(names, ", "), orchestratorUsage)
			return exitUsage
		}
		f, ok := verbs[args[0]]
		if !ok {
			fmt.Fprintf(e.stderr, "grpipe %s: unknown subcommand %q: use %s\n", noun, args[0], strings.Join(names, ", "))
			return exitUsage
		}
		return f(ctx, e, args[1:])
	}
}

var (
	cmdDags = subcommand("dags", map[string]func(context.Context, *env, []string) int{
		"trigger": cmdDagsTrigger, "pause": cmdDagsPause(true), "unpause": cmdDagsPause(false), "backfill": cmdDagsBackfill,
	})
	cmdRuns = subcommand("runs", map[string]func(context.Context, *env, []string) int{
		"list": cmdRunsList, "show": cmdRunsShow, "resume": cmdRunsResume,
	})
	cmdTasks = subcommand("tasks", map[string]func(context.Context, *env, []string) int{
		"logs": cmdTasksLogs, "clear": cmdTasksClear,
	})
)

// parseArgs parses flags that may come before, between or after the
// positional arguments (`runs show RUN_ID --json`) and returns the latter.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// store opens the run store of the home after parsing the command's flags.
func (e *env) store(ctx context.Context) (*runstore.Store, config.Config, error) {
	cfg, err := e.config(nil)
	if err != nil {
		return nil, cfg, err
	}
	st, err := app.OpenStore(ctx, cfg)
	return st, cfg, err
}

// parseDate reads --start-date/--end-date: RFC 3339, or a date (UTC midnight).
func parseDate(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s %q must be a date (2026-01-31) or an RFC 3339 time (2026-01-31T10:00:00Z)", grpipe.ErrBadInput, flag, s)
}

func cmdScheduler(ctx context.Context, e *env, args []string) int {
	fs := e.flags("scheduler")
	sf := settingFlags(fs)
	spec := fs.String("schedule", scheduler.DefaultSchedule, "cron `SPEC` (\"*/10 * * * *\") or \"@every 30s\"")
	catchup := fs.Bool("catchup", false, "create runs for the intervals missed since --start-date (or the last run), oldest first")
	startS := fs.String("start-date", "", "first logical `DATE` (2026-01-31 or RFC 3339)")
	endS := fs.String("end-date", "", "last logical `DATE`")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9108)")
	webAddr := fs.String("web", "", "also serve the web UI and API on `ADDR` (e.g. 127.0.0.1:8080), in this process")
	grace := fs.Duration("grace", 0, "how long the running task may finish after SIGTERM (default orchestrator.grace_period, 30s)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "grpipe scheduler: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	start, err := parseDate("--start-date", *startS)
	if err != nil {
		return e.fail(err)
	}
	end, err := parseDate("--end-date", *endS)
	if err != nil {
		return e.fail(err)
	}
	if _, err := scheduler.ParseSchedule(*spec); err != nil {
		return e.fail(err)
	}
	cfg, err := e.config(values(sf))
	if err != nil {
		return e.fail(err)
	}
	log := e.logger(cfg)
	dur, _ := cfg.Durations()
	if *grace < 0 {
		return e.fail(fmt.Errorf("%w: --grace %s must not be negative", grpipe.ErrBadInput, *grace))
	}
	if *grace == 0 {
		*grace = dur.GracePeriod
	}
	opts := []app.Option{app.WithObservers(app.Notifier(cfg, log)), e.crashHook(), e.slowHook()}
	var m *metrics.Metrics
	if *metricsAddr != "" {
		m = metrics.New()
		opts = append(opts, app.WithObservers(m))
	}
	// The scheduler keeps only the run store open; each run opens the rest
	// (app.Executor), so settings only a run would read are checked now.
	if err := app.CheckSettings(cfg); err != nil {
		return e.fail(err)
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	if m != nil {
		if ok, _ := st.ListRuns(ctx, 1, grpipe.StateSuccess); len(ok) == 1 {
			m.SetLastSuccess(&grpipe.RunSummary{Run: ok[0]})
		}
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return e.fail(fmt.Errorf("%w: --metrics-addr %s: %v", grpipe.ErrBadInput, *metricsAddr, err))
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", m.Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("metrics served", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	if *webAddr != "" {
		stopWeb, err := startWeb(ctx, e, cfg, st, *webAddr, *spec, log)
		if err != nil {
			return e.fail(err)
		}
		defer stopWeb()
	}
	dependsOnPast := cfg.Orchestrator.DependsOnPast == nil || *cfg.Orchestrator.DependsOnPast
	sch, err := scheduler.New(scheduler.Options{Schedule: *spec, Catchup: *catchup, StartDate: start, EndDate: end,
		RunLock: app.RunLockPath(cfg), SchedulerLock: app.SchedulerLockPath(cfg), DependsOnPast: dependsOnPast, Grace: *grace,
		Poll: pollEvery(e), HeartbeatEvery: pollEvery(e)}, st, &app.Executor{Config: cfg, Log: log, Options: opts}, log)
	if err != nil {
		return e.fail(err)
	}
	if err := sch.Run(ctx); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// pollEvery is how often the scheduler looks at its queue and beats:
// GRPIPE_SCHEDULER_POLL (a Go duration, for tests), else 5s.
func pollEvery(e *env) time.Duration {
	if d, err := time.ParseDuration(e.getenv("GRPIPE_SCHEDULER_POLL")); err == nil && d > 0 {
		return d
	}
	return 5 * time.Second
}

func cmdDagsTrigger(ctx context.Context, e *env, args []string) int {
	fs := e.flags("dags trigger")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	st, _, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	id := grpipe.NewRunID(grpipe.RunManual, now)
	if _, err := st.EnqueueRun(ctx, grpipe.Run{RunID: id, RunType: grpipe.RunManual, LogicalDate: now, StartedAt: now}); err != nil {
		return e.fail(err)
	}
	paused, _ := st.Paused(ctx)
	fmt.Fprintf(e.stdout, "queued run %s\n", id)
	if paused {
		fmt.Fprintln(e.stderr, "grpipe: note: the DAG is paused; the run waits until `grpipe dags unpause`")
	}
	return exitOK
}

func cmdDagsPause(pause bool) func(context.Context, *env, []string) int {
	return func(ctx context.Context, e *env, args []string) int {
		name := map[bool]string{true: "pause", false: "unpause"}[pause]
		fs := e.flags("dags " + name)
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		st, _, err := e.store(ctx)
		if err != nil {
			return e.fail(err)
		}
		defer st.Close()
		if err := st.SetPaused(ctx, pause, time.Now()); err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "%s %sd\n", grpipe.DAGID, name)
		return exitOK
	}
}

func cmdRunsList(ctx context.Context, e *env, args []string) int {
	fs := e.flags("runs list")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 25, "show at most `N` runs")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *limit < 1 {
		fmt.Fprintf(e.stderr, "grpipe runs list: --limit %d: give a number of runs, 1 or more\n", *limit)
		return exitUsage
	}
	st, _, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(ctx, *limit)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		if runs == nil {
			runs = []grpipe.Run{}
		}
		return e.printJSON(runs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run_id\trun_type\tstate\tlogical_date\tstarted_at\tduration\terror")
	for _, r := range runs {
		dur := ""
		if !r.StartedAt.IsZero() && !r.EndedAt.IsZero() {
			dur = r.EndedAt.Sub(r.StartedAt).Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RunID, r.RunType, r.State, fmtTime(r.LogicalDate), fmtTime(r.StartedAt), dur, clipCell(r.Error))
	}
	tw.Flush()
	return exitOK
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (e *env) printJSON(v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// runArg parses the one RUN_ID of a runs command; on false it has printed usage.
func runArg(e *env, fs *flag.FlagSet, args []string, usage string) (string, bool) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", false
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, usage)
		return "", false
	}
	return pos[0], true
}

func cmdRunsShow(ctx context.Context, e *env, args []string) int {
	fs := e.flags("runs show")
	asJSON := fs.Bool("json", false, "print the run's JSON summary")
	runID, ok := runArg(e, fs, args, "grpipe runs show: give one RUN_ID (grpipe runs list shows them)")
	if !ok {
		return exitUsage
	}
	st, _, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	sum, err := st.Summary(ctx, runID)
	if err != nil {
		return e.fail(err)
	}
	tries, err := st.TaskInstances(ctx, sum.RunID)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		// The run's summary, plus every try of every task (state, times, error).
		return e.printJSON(struct {
			*grpipe.RunSummary
			TaskTries []runstore.TaskInstance `json:"task_tries"`
		}{sum, tries})
	}
	fmt.Fprintf(e.stdout, "run %s (%s): %s\n", sum.RunID, sum.RunType, sum.State)
	fmt.Fprintf(e.stdout, "logical date %s, data interval %s to %s\n", fmtTime(sum.LogicalDate), fmtTime(sum.DataIntervalStart), fmtTime(sum.DataIntervalEnd))
	if sum.Error != "" {
		fmt.Fprintf(e.stdout, "error: %s\n", sum.Error)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "task_id\tkind\tstate\ttries\tduration\terror")
	for _, t := range sum.Tasks {
		dur := ""
		if !t.StartedAt.IsZero() && !t.EndedAt.IsZero() {
			dur = t.EndedAt.Sub(t.StartedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", t.TaskID, t.Kind, t.State, t.Tries, dur, clipCell(t.Error))
	}
	tw.Flush()
	for _, ti := range tries {
		if ti.State != grpipe.StateSuccess {
			fmt.Fprintf(e.stdout, "try %d of %s: %s %s\n", ti.TryNumber, ti.TaskID, ti.State, clipCell(ti.Error))
		}
	}
	return exitOK
}

// taskArgs parses the RUN_ID TASK_ID of a tasks command, checks the task id
// and opens the run store; on failure the store is nil and code is the exit code.
func taskArgs(ctx context.Context, e *env, fs *flag.FlagSet, args []string, usage string) (*runstore.Store, string, string, int) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, "", "", exitUsage
	}
	if len(pos) != 2 {
		fmt.Fprintln(e.stderr, usage)
		return nil, "", "", exitUsage
	}
	if _, err := grpipe.TaskByID(pos[1]); err != nil {
		return nil, "", "", e.fail(err)
	}
	st, _, err := e.store(ctx)
	if err != nil {
		return nil, "", "", e.fail(err)
	}
	return st, pos[0], pos[1], exitOK
}

func cmdTasksLogs(ctx context.Context, e *env, args []string) int {
	fs := e.flags("tasks logs")
	try := fs.Int("try", 0, "show try `N` (default: the latest)")
	st, runID, taskID, code := taskArgs(ctx, e, fs, args, "grpipe tasks logs: give RUN_ID TASK_ID [--try N]")
	if st == nil {
		return code
	}
	defer st.Close()
	if *try < 0 {
		fmt.Fprintf(e.stderr, "grpipe tasks logs: --try %d: tries are numbered from 1\n", *try)
		return exitUsage
	}
	if _, err := st.Run(ctx, runID); err != nil {
		return e.fail(err)
	}
	log, n, err := st.TaskLog(ctx, runID, taskID, *try)
	if errors.Is(err, grpipe.ErrNotFound) {
		tis, _ := st.TaskInstances(ctx, runID)
		var tries []string
		for _, ti := range tis {
			if ti.TaskID == taskID {
				tries = append(tries, strconv.Itoa(ti.TryNumber))
			}
		}
		if len(tries) == 0 {
			return e.fail(fmt.Errorf("task %s of run %s has not run: %w", taskID, runID, grpipe.ErrNotFound))
		}
		return e.fail(fmt.Errorf("task %s of run %s has no try %d (its tries: %s): %w", taskID, runID, *try, strings.Join(tries, ", "), grpipe.ErrNotFound))
	}
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stderr, "--- %s %s try %d\n", runID, taskID, n)
	fmt.Fprint(e.stdout, log)
	return exitOK
}

func cmdTasksClear(ctx context.Context, e *env, args []string) int {
	fs := e.flags("tasks clear")
	downstream := fs.Bool("downstream", false, "also clear every task downstream of TASK_ID")
	st, runID, taskID, code := taskArgs(ctx, e, fs, args, "grpipe tasks clear: give RUN_ID TASK_ID [--downstream]")
	if st == nil {
		return code
	}
	defer st.Close()
	ids := []string{taskID}
	if *downstream {
		ids = append(ids, grpipe.Downstream(taskID)...)
	}
	if err := st.ClearTasks(ctx, runID, ids, time.Now()); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "cleared %s in run %s; the run is queued: the scheduler re-runs them, or run `grpipe runs resume %s`\n",
		strings.Join(ids, ", "), runID, runID)
	return exitOK
}

func cmdRunsResume(ctx context.Context, e *env, args []string) int {
	fs := e.flags("runs resume")
	asJSON := fs.Bool("json", false, "print the run's JSON summary on stdout")
	runID, ok := runArg(e, fs, args, "grpipe runs resume: give one RUN_ID")
	if !ok {
		return exitUsage
	}
	cfg, err := e.config(nil)
	if err != nil {
		return e.fail(err)
	}
	log := e.logger(cfg)
	a, err := app.Open(ctx, cfg, log, app.WithObservers(app.Notifier(cfg, log)))
	if err != nil {
		return e.fail(err)
	}
	defer a.Close()
	if _, err := a.Store.Run(ctx, runID); err != nil {
		return e.fail(err)
	}
	lock, err := flock.TryLock(app.RunLockPath(cfg))
	if err != nil {
		return e.fail(err)
	}
	defer lock.Unlock()
	dependsOnPast := cfg.Orchestrator.DependsOnPast == nil || *cfg.Orchestrator.DependsOnPast
	sum, err := a.Pipeline.Execute(ctx, runID, pipeline.ExecOptions{DependsOnPast: dependsOnPast})
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		e.printJSON(sum)
	} else {
		printSummary(e.stdout, sum)
	}
	switch sum.State {
	case grpipe.StateSuccess:
		return exitOK
	case grpipe.StateQueued:
		fmt.Fprintf(e.stderr, "grpipe: run %s waits: %s\n", sum.RunID, sum.Error)
	default:
		fmt.Fprintf(e.stderr, "grpipe: run %s failed: %s\n", sum.RunID, sum.Error)
	}
	return exitFailed
}

// slowHook returns the option that makes the ETL sleep at the point named by
// GRPIPE_SLOWPOINT ("transform=2s"): a testing aid for the shutdown tests
// (a task still running when SIGTERM arrives), inert when unset.
func (e *env) slowHook() app.Option {
	point, d, _ := strings.Cut(e.getenv("GRPIPE_SLOWPOINT"), "=")
	wait, err := time.ParseDuration(d)
	return func(o *pipeline.Options) {
		if point == "" || err != nil {
			return
		}
		prev := o.Crash
		o.Crash = func(at string) {
			if prev != nil {
				prev(at)
			}
			if at == point {
				time.Sleep(wait)
			}
		}
	}
}

// runLockFree returns grpipe.ErrBusy, naming the holder, when another
// process holds the run lock.
func runLockFree(cfg config.Config) error {
	if err := os.MkdirAll(cfg.Home, 0o755); err != nil {
		return err
	}
	l, err := flock.TryLock(app.RunLockPath(cfg))
	if err != nil {
		return err
	}
	return l.Unlock()
}

func cmdDagsBackfill(ctx context.Context, e *env, args []string) int {
	fs := e.flags("dags backfill")
	spec := fs.String("schedule", scheduler.DefaultSchedule, "cron `SPEC` or \"@every 1h\" that cuts the intervals")
	startS := fs.String("start-date", "", "first logical `DATE` (required)")
	endS := fs.String("end-date", "", "last logical `DATE` (required)")
	now := fs.Bool("now", false, "execute the queued runs here, oldest first, instead of leaving them to the scheduler")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *startS == "" || *endS == "" {
		fmt.Fprintln(e.stderr, "grpipe dags backfill: give --start-date and --end-date")
		return exitUsage
	}
	start, err := parseDate("--start-date", *startS)
	if err != nil {
		return e.fail(err)
	}
	end, err := parseDate("--end-date", *endS)
	if err != nil {
		return e.fail(err)
	}
	ivs, err := scheduler.Intervals(*spec, start, end, 0)
	if err != nil {
		return e.fail(err)
	}
	cfg, err := e.config(nil)
	if err != nil {
		return e.fail(err)
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	var queued []string
	at := time.Now().UTC()
	for _, iv := range ivs {
		// An interval the scheduler already ran is not run again.
		if _, err := st.Run(ctx, grpipe.NewRunID(grpipe.RunScheduled, iv[0])); err == nil {
			continue
		}
		id := grpipe.NewRunID(grpipe.RunBackfill, iv[0])
		created, err := st.EnqueueRun(ctx, grpipe.Run{RunID: id, RunType: grpipe.RunBackfill, LogicalDate: iv[0],
			DataIntervalStart: iv[0], DataIntervalEnd: iv[1], StartedAt: at})
		if err != nil {
			return e.fail(err)
		}
		if created {
			queued = append(queued, id)
			fmt.Fprintf(e.stdout, "queued %s\n", id)
		}
	}
	fmt.Fprintf(e.stdout, "%d backfill runs queued (%d intervals)\n", len(queued), len(ivs))
	if !*now || len(queued) == 0 {
		return exitOK
	}
	log := e.logger(cfg)
	lock, err := flock.TryLock(app.RunLockPath(cfg))
	if err != nil {
		return e.fail(err)
	}
	defer lock.Unlock()
	a, err := app.Open(ctx, cfg, log, app.WithObservers(app.Notifier(cfg, log)))
	if err != nil {
		return e.fail(err)
	}
	defer a.Close()
	dependsOnPast := cfg.Orchestrator.DependsOnPast == nil || *cfg.Orchestrator.DependsOnPast
	code := exitOK
	for _, id := range queued {
		sum, err := a.Pipeline.Execute(ctx, id, pipeline.ExecOptions{DependsOnPast: dependsOnPast})
		if err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "run %s: %s\n", id, sum.State)
		if sum.State != grpipe.StateSuccess {
			fmt.Fprintf(e.stderr, "grpipe: run %s %s: %s\n", id, sum.State, sum.Error)
			code = exitFailed
			break
		}
	}
	return code
}
