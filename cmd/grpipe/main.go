// Command grpipe is the GoodReads data pipeline in one binary: land files,
// run the DAG, query the warehouse, and a zero-set-up demo.
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

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/pipeline"
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
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// env is what every command gets: its streams, the environment and the global flags.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	home           string
}

const usage = `grpipe: the GoodReads data pipeline in one binary.

Usage: grpipe [--home DIR] COMMAND [flags] [args]

Commands:
  demo                 land the bundled sample rows, run the pipeline once, print the tables
  land FILE...         put CSV files into the landing zone (reviews.csv, user.csv, author.csv,
                       book.csv, or batch variants such as reviews-<batch>.csv)
  run [--json]         one run of the whole DAG now; exit 1 if it fails
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
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
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
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv, home: *home}
	cmds := map[string]func(context.Context, *env, []string) int{
		"demo":  cmdDemo,
		"land":  cmdLand,
		"run":   cmdRun,
		"query": cmdQuery,

		"capture":    cmdCapture,
		"api-replay": cmdAPIReplay,
		// Orchestration (orchestrator.go).
		"scheduler": cmdScheduler,
		"dags":      cmdDags,
		"runs":      cmdRuns,
		"tasks":     cmdTasks,
		// Web UI (web.go).
		"serve": cmdServe,
		"fake":  cmdFake,
		"bench": cmdBench,
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

// config loads the configuration; flagValues are settings given as flags.
func (e *env) config(flagValues map[string]string) (config.Config, error) {
	home, err := config.HomeFrom(e.home, e.getenv)
	if err != nil {
		return config.Config{}, err
	}
	return config.Load(home, e.getenv, flagValues)
}

// logger returns the process logger: text on stderr at the configured level.
func (e *env) logger(cfg config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
}

// fail prints err and returns the exit code it calls for.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "grpipe: %v\n", err)
	if errors.Is(err, grpipe.ErrBadInput) || errors.Is(err, grpipe.ErrNotFound) {
		return exitUsage
	}
	return exitFailed
}

// crashHook returns the pipeline option that kills this process with SIGKILL
// at the ETL point named by GRPIPE_CRASHPOINT (claim, transform, stage,
// upsert, cleanup): a testing aid for crash-recovery tests, inert when unset.
func (e *env) crashHook() app.Option {
	point := e.getenv("GRPIPE_CRASHPOINT")
	return func(o *pipeline.Options) {
		if point == "" {
			return
		}
		o.Crash = func(at string) {
			if at == point {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal ends the process
			}
		}
	}
}
