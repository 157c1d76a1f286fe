package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/report"
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
		slices.Sort(names)
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

// positional parses flags that may come before, between or after the
// positional arguments (`runs show RUN_ID --json`) and returns the latter;
// on false, it has printed usage (when there are not n of them).
func positional(e *env, fs *flag.FlagSet, args []string, n int, usage string) ([]string, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != n {
		fmt.Fprintln(e.stderr, usage)
		return nil, false
	}
	return pos, true
}

func cmdScheduler(ctx context.Context, e *env, args []string) int {
	fs := e.flags("scheduler")
	sf := settingFlags(fs, dataSettings...)
	spec := fs.String("schedule", orchestrator.DefaultSchedule, "cron `SPEC` (\"*/10 * * * *\") or \"@every 30s\"")
	catchup := fs.Bool("catchup", false, "create runs for the intervals missed since --start-date (or the last run), oldest first")
	startS := fs.String("start-date", "", "first logical `DATE` (2026-01-31 or RFC 3339)")
	endS := fs.String("end-date", "", "last logical `DATE`")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9108)")
	webAddr := fs.String("web", "", "also serve the web UI and API (and /metrics) on `ADDR` (e.g. 127.0.0.1:8080), in this process")
	grace := fs.Duration("grace", 0, "how long the running task may finish after SIGTERM (default orchestrator.grace_period, 30s)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "grpipe scheduler: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	opts := scheduler.Options{Schedule: *spec, Catchup: *catchup, Poll: e.hooks.poll, HeartbeatEvery: e.hooks.poll}
	var err error
	if opts.StartDate, err = orchestrator.ParseDate("--start-date", *startS); err != nil {
		return e.fail(err)
	}
	if opts.EndDate, err = orchestrator.ParseDate("--end-date", *endS); err != nil {
		return e.fail(err)
	}
	if *grace < 0 {
		return e.fail(fmt.Errorf("%w: --grace %s must not be negative", grpipe.ErrBadInput, *grace))
	}
	if err := opts.Validate(); err != nil {
		return e.fail(err)
	}
	cfg, err := e.config(sf())
	if err != nil {
		return e.fail(err)
	}
	log := e.logger(cfg)
	opts.SchedulerLock, opts.Grace = app.SchedulerLockPath(cfg), cfg.Orchestrator.GracePeriod
	if *grace > 0 {
		opts.Grace = *grace
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	m := app.NewMetrics(ctx, st)
	svc, err := app.NewOrchestrator(cfg, st, log, append(e.options(), app.WithObservers(m))...)
	if err != nil {
		return e.fail(err)
	}
	if *metricsAddr != "" {
		addr, stop, err := app.ServeMetrics(ctx, *metricsAddr, m, log)
		if err != nil {
			return e.fail(err)
		}
		defer stop()
		log.Info("metrics served", "url", "http://"+addr.String()+"/metrics")
	}
	if *webAddr != "" {
		stop, err := e.startWeb(ctx, app.Web{Config: cfg, Store: st, Orchestrator: svc, Addr: *webAddr, Schedule: *spec, Metrics: m, Log: log})
		if err != nil {
			return e.fail(err)
		}
		defer stop()
	}
	sch, err := scheduler.New(opts, st, svc, log)
	if err != nil {
		return e.fail(err)
	}
	if err := sch.Run(ctx); err != nil {
		return e.fail(err)
	}
	return exitOK
}

func cmdDagsTrigger(ctx context.Context, e *env, args []string) int {
	fs := e.flags("dags trigger")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	svc, st, _, _, err := e.orchestrator(ctx, nil)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	run, err := svc.Trigger(ctx, "")
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "queued run %s\n", run.RunID)
	if paused, _ := svc.Paused(ctx); paused {
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
		svc, st, _, _, err := e.orchestrator(ctx, nil)
		if err != nil {
			return e.fail(err)
		}
		defer st.Close()
		if err := svc.SetPaused(ctx, pause); err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "%s %sd\n", grpipe.DAGID, name)
		return exitOK
	}
}

func cmdDagsBackfill(ctx context.Context, e *env, args []string) int {
	fs := e.flags("dags backfill")
	spec := fs.String("schedule", orchestrator.DefaultSchedule, "cron `SPEC` or \"@every 1h\" that cuts the intervals")
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
	start, err := orchestrator.ParseDate("--start-date", *startS)
	if err != nil {
		return e.fail(err)
	}
	end, err := orchestrator.ParseDate("--end-date", *endS)
	if err != nil {
		return e.fail(err)
	}
	plan, err := orchestrator.PlanBackfill(*spec, start, end)
	if err != nil {
		return e.fail(err)
	}
	svc, st, _, _, err := e.orchestrator(ctx, nil)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	queued, err := svc.Backfill(ctx, plan)
	var ids []string
	for _, r := range queued {
		fmt.Fprintf(e.stdout, "queued %s\n", r.RunID)
		ids = append(ids, r.RunID)
	}
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "%d backfill runs queued (%d intervals)\n", len(queued), len(plan.Intervals))
	if !*now {
		return exitOK
	}
	sums, err := svc.ExecuteRuns(ctx, ids)
	for _, sum := range sums {
		fmt.Fprintf(e.stdout, "run %s: %s\n", sum.RunID, sum.State)
		if sum.State != grpipe.StateSuccess {
			fmt.Fprintf(e.stderr, "grpipe: run %s %s: %s\n", sum.RunID, sum.State, sum.Error)
			return exitFailed
		}
	}
	if err != nil {
		return e.fail(err)
	}
	return exitOK
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
	_, st, _, _, err := e.orchestrator(ctx, nil)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(ctx, *limit)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(append([]grpipe.Run{}, runs...))
	}
	report.Runs(e.stdout, runs)
	return exitOK
}

func cmdRunsShow(ctx context.Context, e *env, args []string) int {
	fs := e.flags("runs show")
	asJSON := fs.Bool("json", false, "print the run's JSON summary")
	pos, ok := positional(e, fs, args, 1, "grpipe runs show: give one RUN_ID (grpipe runs list shows them)")
	if !ok {
		return exitUsage
	}
	svc, st, _, _, err := e.orchestrator(ctx, nil)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	sum, tries, err := svc.Summary(ctx, pos[0])
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
	report.Run(e.stdout, sum, tries)
	return exitOK
}

func cmdRunsResume(ctx context.Context, e *env, args []string) int {
	fs := e.flags("runs resume")
	asJSON := fs.Bool("json", false, "print the run's JSON summary on stdout")
	pos, ok := positional(e, fs, args, 1, "grpipe runs resume: give one RUN_ID")
	if !ok {
		return exitUsage
	}
	svc, st, _, _, err := e.orchestrator(ctx, nil)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	sum, err := svc.Resume(ctx, pos[0])
	if err != nil {
		return e.fail(err)
	}
	return e.ended(sum, *asJSON)
}

func cmdTasksLogs(ctx context.Context, e *env, args []string) int {
	fs := e.flags("tasks logs")
	try := fs.Int("try", 0, "show try `N` (default: the latest)")
	pos, ok := positional(e, fs, args, 2, "grpipe tasks logs: give RUN_ID TASK_ID [--try N]")
	if !ok {
		return exitUsage
	}
	if *try < 0 {
		fmt.Fprintf(e.stderr, "grpipe tasks logs: --try %d: tries are numbered from 1\n", *try)
		return exitUsage
	}
	svc, st, _, _, err := e.orchestrator(ctx, nil)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	log, n, err := svc.TaskLog(ctx, pos[0], pos[1], *try)
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stderr, "--- %s %s try %d\n", pos[0], pos[1], n)
	fmt.Fprint(e.stdout, log)
	return exitOK
}

func cmdTasksClear(ctx context.Context, e *env, args []string) int {
	fs := e.flags("tasks clear")
	downstream := fs.Bool("downstream", false, "also clear every task downstream of TASK_ID")
	pos, ok := positional(e, fs, args, 2, "grpipe tasks clear: give RUN_ID TASK_ID [--downstream]")
	if !ok {
		return exitUsage
	}
	svc, st, _, _, err := e.orchestrator(ctx, nil)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	ids, err := svc.Clear(ctx, pos[0], pos[1], *downstream)
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "cleared %s in run %s; the run is queued: the scheduler re-runs them, or run `grpipe runs resume %s`\n",
		strings.Join(ids, ", "), pos[0], pos[0])
	return exitOK
}
