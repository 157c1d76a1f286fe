// Command grpipe is the GoodReads data pipeline in one binary: land files,
// run the DAG, query the warehouse, schedule, serve the UI, and a
// zero-set-up demo. This package only parses flags into settings and wires
// the packages below (internal/app is the composition root); a new command
// is a flag set here and a call into them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/report"
	"github.com/grpipe/grpipe/internal/runstore"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // a run failed
	exitUsage  = 2 // bad input: usage, file names, settings
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, hooks{}))
}

// hooks are behaviours only tests inject (cmd/grpipe's TestMain and
// in-process tests); the production binary passes none and reads no test
// setting.
type hooks struct {
	// crash is called at the ETL's named points (claim, transform, stage,
	// upsert, cleanup): crash tests kill the process there.
	crash func(point string)
	// poll is how often the scheduler looks at its queue and beats (0: its default).
	poll time.Duration
}

// env is what every command gets: its streams, the environment, the global
// flags and the test hooks.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	home           string
	hooks          hooks
}

const usage = `grpipe: the GoodReads data pipeline in one binary.

Usage: grpipe [--home DIR] COMMAND [flags] [args]

Commands:
  demo                 land the bundled sample rows, run the pipeline once, print the tables
  land FILE...         put CSV files into the landing zone (reviews.csv, user.csv, author.csv,
                       book.csv, or batch variants such as reviews-<batch>.csv)
  run [--json] [--quiet]
                       one run of the whole DAG now (its progress on stderr); exit 1 if it fails
  query [--format table|csv|json] SQL
                       one read-only statement against the warehouse
  capture --api-url URL [--once | --every 60s] [--until T] [--rate 1/s]
          [--flush-every 10m | --flush-rows N]
                       poll the Goodreads API (key in GRPIPE_API_KEY) into the landing zone
  api-replay --from DIR [--addr 127.0.0.1:8090] [--key KEY] [--rate-limit N/s] [--recent 20]
                       serve CSV files as the Goodreads XML API, for demos and tests
  scheduler [--schedule SPEC] [--catchup] [--start-date T] [--end-date T] [--metrics-addr ADDR]
                       long-running scheduler: a run per interval (default */10 * * * *)
  serve [--addr 127.0.0.1:8080]
                       the web UI and JSON API (token: GRPIPE_WEB_TOKEN or web.token)
  dags trigger|pause|unpause
  runs list|show RUN_ID|resume RUN_ID [--json]
  tasks logs RUN_ID TASK_ID [--try N] | tasks clear RUN_ID TASK_ID [--downstream]
  fake (--records N | --size SIZE) (--out DIR | --land) [--seed S] [--batches K] [--dirty RATE]
                       generate seed-shaped fake Goodreads CSV files (deterministic per seed)
  bench [--records N | --size SIZE] [--keep] [--json] [--reference]
                       generate a batch, run the whole DAG on it, print per-stage speed and memory

Global flags:
  --home DIR           the home: config file grpipe.yaml, zones, warehouse, run metadata
                       (env GRPIPE_HOME, default ./grpipe-home)
`

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, h hooks) int {
	global := flag.NewFlagSet("grpipe", flag.ContinueOnError)
	global.SetOutput(stderr)
	home := global.String("home", "", "home `DIR`")
	global.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv, home: *home, hooks: h}
	cmds := map[string]func(context.Context, *env, []string) int{
		"demo": cmdDemo, "land": cmdLand, "run": cmdRun, "query": cmdQuery,
		"capture": cmdCapture, "api-replay": cmdAPIReplay, "fake": cmdFake, "bench": cmdBench,
		"scheduler": cmdScheduler, "dags": cmdDags, "runs": cmdRuns, "tasks": cmdTasks, "serve": cmdServe,
	}
	cmd, ok := cmds[rest[0]]
	if !ok {
		if rest[0] == "help" {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprintf(stderr, "grpipe: unknown command %q\n\n%s", rest[0], usage)
		return exitUsage
	}
	return cmd(ctx, e, rest[1:])
}

// flags returns a flag set for a command that also accepts --home after the command name.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("grpipe "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Func("home", "home `DIR` (also accepted before the command)", func(s string) error { e.home = s; return nil })
	return fs
}

// settingFlags registers the flags of the settings keys (config.Settings
// names them) and returns their values once parsed.
func settingFlags(fs *flag.FlagSet, keys ...string) func() map[string]string {
	vals := map[string]*string{}
	for _, k := range keys {
		s := config.SettingByKey(k)
		vals[k] = fs.String(s.Flag, "", s.FlagUsage())
	}
	return func() map[string]string {
		out := map[string]string{}
		for k, v := range vals {
			out[k] = *v
		}
		return out
	}
}

// config loads the configuration; flagValues are settings given as flags, by key.
func (e *env) config(flagValues map[string]string) (config.Config, error) {
	home, err := config.HomeFrom(e.home, e.getenv)
	if err != nil {
		return config.Config{}, err
	}
	return config.Load(home, e.getenv, flagValues)
}

// logger returns the process logger: text on stderr at the configured level.
func (e *env) logger(cfg config.Config) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
}

// options are the app options the test hooks call for.
func (e *env) options() []app.Option {
	if e.hooks.crash == nil {
		return nil
	}
	return []app.Option{app.WithCrash(e.hooks.crash)}
}

// orchestrator loads the configuration and opens the orchestrator of the home.
func (e *env) orchestrator(ctx context.Context, flagValues map[string]string, options ...app.Option) (*orchestrator.Service, *runstore.Store, config.Config, *slog.Logger, error) {
	cfg, err := e.config(flagValues)
	if err != nil {
		return nil, nil, cfg, nil, err
	}
	log := e.logger(cfg)
	svc, st, err := app.OpenOrchestrator(ctx, cfg, log, append(e.options(), options...)...)
	return svc, st, cfg, log, err
}

// fail prints err and returns the exit code it calls for.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "grpipe: %v\n", err)
	if errors.Is(err, grpipe.ErrBadInput) || errors.Is(err, grpipe.ErrNotFound) {
		return exitUsage
	}
	return exitFailed
}

// printJSON prints v as indented JSON on stdout.
func (e *env) printJSON(v any) int {
	if err := report.JSON(e.stdout, v); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// ended prints a run's outcome and returns its exit code.
func (e *env) ended(sum *grpipe.RunSummary, asJSON bool) int {
	if asJSON {
		e.printJSON(sum)
	} else {
		report.Summary(e.stdout, sum)
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
