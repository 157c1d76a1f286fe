package main

import (
	"context"
	"flag"
	"net"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/report"
)

// The orchestration commands: scheduler, serve, dags, runs, tasks. Each is
// one call of the orchestrator service, or of app, which wires it.

func cmdScheduler(ctx context.Context, e *env, args []string) error {
	s := app.Scheduler{WebStarted: e.webStarted}
	s.Options.Poll, s.Options.HeartbeatEvery = e.hooks.poll, e.hooks.poll
	var start, end string
	return e.do(ctx, args, spec{name: "scheduler", settings: dataSettings}, func(fs *flag.FlagSet) {
		fs.StringVar(&s.Options.Schedule, "schedule", orchestrator.DefaultSchedule, "cron `SPEC` (\"*/10 * * * *\") or \"@every 30s\"")
		fs.BoolVar(&s.Options.Catchup, "catchup", false, "create runs for the intervals missed since --start-date (or the last run), oldest first")
		fs.StringVar(&start, "start-date", "", "first logical `DATE` (2026-01-31 or RFC 3339)")
		fs.StringVar(&end, "end-date", "", "last logical `DATE`")
		fs.StringVar(&s.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9108)")
		fs.StringVar(&s.WebAddr, "web", "", "also serve the web UI and API (and /metrics) on `ADDR` (e.g. 127.0.0.1:8080), in this process")
		fs.DurationVar(&s.Grace, "grace", 0, "how long the running task may finish after SIGTERM (default orchestrator.grace_period, "+config.SettingByKey("orchestrator.grace_period").Default+")")
	}, func(c call) (err error) {
		if s.Options.StartDate, s.Options.EndDate, err = orchestrator.ParseDates(start, end); err != nil {
			return err
		}
		return app.RunScheduler(ctx, c.cfg, c.log, s, e.hooks.options...)
	})
}

func cmdWorker(ctx context.Context, e *env, args []string) error {
	var o app.WorkerOptions
	return e.do(ctx, args, spec{name: "worker", settings: dataSettings}, func(fs *flag.FlagSet) {
		fs.IntVar(&o.Concurrency, "concurrency", 1, "how many tries run at once, `N`")
		fs.StringVar(&o.Name, "name", "", "the worker's `NAME` in the UI and the logs (default host:pid); unique among live workers")
	}, func(c call) error { return app.RunWorker(ctx, c.cfg, o, c.log, e.hooks.options...) })
}

func cmdServe(ctx context.Context, e *env, args []string) error {
	var addr string
	return e.do(ctx, args, spec{name: "serve", settings: dataSettings}, func(fs *flag.FlagSet) {
		fs.StringVar(&addr, "addr", "", "listen `ADDR` (config web.addr, default "+config.SettingByKey("web.addr").Default+")")
	}, func(c call) error { return app.Serve(ctx, c.cfg, addr, c.log, e.webStarted) })
}

func (e *env) webStarted(addr net.Addr) { report.WebUI(e.stderr, addr) }

func cmdDagsTrigger(ctx context.Context, e *env, args []string) error {
	return e.do(ctx, args, spec{name: "dags trigger", service: true}, nil, func(c call) error {
		run, err := c.svc.Trigger(ctx, "")
		if err != nil {
			return err
		}
		paused, err := c.svc.Paused(ctx) // the run is queued whatever this says
		report.Triggered(e.stdout, e.stderr, run, paused)
		return err
	})
}

func cmdDagsPause(pause bool) command {
	name := map[bool]string{true: "pause", false: "unpause"}[pause]
	return func(ctx context.Context, e *env, args []string) error {
		return e.do(ctx, args, spec{name: "dags " + name, service: true}, nil, func(c call) error {
			if err := c.svc.SetPaused(ctx, pause); err != nil {
				return err
			}
			_, err := e.stdout.Write([]byte(grpipe.DAGID + " " + name + "d\n"))
			return err
		})
	}
}

func cmdDagsBackfill(ctx context.Context, e *env, args []string) error {
	var schedule, start, end string
	var now bool
	return e.do(ctx, args, spec{name: "dags backfill", service: true}, func(fs *flag.FlagSet) {
		fs.StringVar(&schedule, "schedule", orchestrator.DefaultSchedule, "cron `SPEC` or \"@every 1h\" that cuts the intervals")
		fs.StringVar(&start, "start-date", "", "first logical `DATE` (required)")
		fs.StringVar(&end, "end-date", "", "last logical `DATE` (required)")
		fs.BoolVar(&now, "now", false, "execute the queued runs here, oldest first, instead of leaving them to the scheduler")
	}, func(c call) error {
		plan, err := orchestrator.PlanBackfill(schedule, start, end)
		if err != nil {
			return err
		}
		queued, err := c.svc.Backfill(ctx, plan)
		report.Queued(e.stdout, queued, len(plan.Intervals))
		if err != nil || !now {
			return err
		}
		sums, err := c.svc.ExecuteRuns(ctx, queued)
		if !report.Executed(e.stdout, e.stderr, sums) {
			return errFailed
		}
		return err
	})
}

func cmdRunsList(ctx context.Context, e *env, args []string) error {
	var asJSON bool
	var limit int
	return e.do(ctx, args, spec{name: "runs list", service: true}, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.IntVar(&limit, "limit", 25, "show at most `N` runs")
	}, func(c call) error {
		runs, err := c.svc.Runs(ctx, limit)
		return e.print(err, asJSON, runs, func() { report.Runs(e.stdout, runs) })
	})
}

func cmdRunsShow(ctx context.Context, e *env, args []string) error {
	var asJSON bool
	return e.do(ctx, args, spec{name: "runs show", nargs: 1, usage: "grpipe runs show: give one RUN_ID (grpipe runs list shows them)", service: true},
		func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print the run's JSON summary") },
		func(c call) error {
			d, err := c.svc.Detail(ctx, c.args[0])
			return e.print(err, asJSON, d, func() { report.Run(e.stdout, d.RunSummary, d.TaskTries) })
		})
}

func cmdRunsResume(ctx context.Context, e *env, args []string) error {
	var asJSON bool
	return e.do(ctx, args, spec{name: "runs resume", nargs: 1, usage: "grpipe runs resume: give one RUN_ID", service: true},
		func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print the run's JSON summary on stdout") },
		func(c call) error {
			return e.ended(asJSON)(c.svc.Resume(ctx, c.args[0]))
		})
}

func cmdTasksLogs(ctx context.Context, e *env, args []string) error {
	var try int
	return e.do(ctx, args, spec{name: "tasks logs", nargs: 2, usage: "grpipe tasks logs: give RUN_ID TASK_ID [--try N]", service: true},
		func(fs *flag.FlagSet) { fs.IntVar(&try, "try", 0, "show try `N` (default: the latest)") },
		func(c call) error {
			log, n, err := c.svc.TaskLog(ctx, c.args[0], c.args[1], try)
			if err == nil {
				report.Log(e.stdout, e.stderr, c.args[0], c.args[1], n, log)
			}
			return err
		})
}

func cmdTasksClear(ctx context.Context, e *env, args []string) error {
	var downstream bool
	return e.do(ctx, args, spec{name: "tasks clear", nargs: 2, usage: "grpipe tasks clear: give RUN_ID TASK_ID [--downstream]", service: true},
		func(fs *flag.FlagSet) {
			fs.BoolVar(&downstream, "downstream", false, "also clear every task downstream of TASK_ID")
		},
		func(c call) error {
			ids, err := c.svc.Clear(ctx, c.args[0], c.args[1], downstream)
			if err == nil {
				report.Cleared(e.stdout, c.args[0], ids)
			}
			return err
		})
}
