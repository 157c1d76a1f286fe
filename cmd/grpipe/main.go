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
	"maps"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/report"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // a run failed
	exitUsage  = 2 // bad input: usage, file names, settings
)

func main() {
	// The Go collector keeps GOGC's default of 100 under a soft memory
	// limit. Measured side by side on 1 M records (BENCHMARKS.md, "Round
	// 6"), GOGC=50 cost 1.5 CPU-s more of grpipe's 12-27 on average over
	// nine pairs (more in seven; the collector's own cycles, per gctrace,
	// under 0.6 CPU-s at either: the rest is the runtime returning and
	// taking back memory around a lower heap goal) for 0-60 MiB less at the
	// peak. The
	// limit bounds the heap (twice its live size at GOGC=100: about 356 MB
	// at the 11.4 GB batch's peak) without binding on the batches measured.
	// GOGC and GOMEMLIMIT in the environment win.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// DuckDB's allocator keeps freed pages for a while; near the process's
	// memory budget they are given back at once (memory.go).
	go watchResident(ctx, releaseEvery, releaseAbove, residentBytes, duckdb.ReleaseFreeMemory)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, hooks{}))
}

// defaultMemoryLimit is the Go runtime's soft memory limit when the
// environment sets no GOMEMLIMIT (README, "Memory").
const defaultMemoryLimit = 512 << 20

// hooks are behaviours only tests inject (cmd/grpipe's TestMain and
// in-process tests); the production binary passes none and reads no test
// setting.
type hooks struct {
	// options are the wiring's test hooks: a crash or slow point in the
	// ETL (app.WithCrash), observers that kill the process at a task boundary.
	options []app.Option
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

var usage = strings.NewReplacer("$SCHEDULE", orchestrator.DefaultSchedule, "$ADDR", config.SettingByKey("web.addr").Default).Replace(`grpipe: the GoodReads data pipeline in one binary.

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
                       long-running scheduler: a run per interval (default $SCHEDULE)
  worker [--concurrency N] [--name NAME]
                       run the tries of executor: distributed (see Running on several machines)
  serve [--addr $ADDR]
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
`)

// command runs one command; its error decides the exit code (see run).
type command func(ctx context.Context, e *env, args []string) error

// errUsage reports bad flags or arguments whose message is printed
// already: exit 2.
var errUsage = errors.New("usage")

// errFailed ends a command whose failure is printed already (a run that
// did not succeed): exit 1.
var errFailed = errors.New("failed")

// commands are grpipe's commands by name (dags, runs, tasks take a verb).
var commands = map[string]command{
	"demo": cmdDemo, "land": cmdLand, "run": cmdRun, "query": cmdQuery, "capture": cmdCapture, "api-replay": cmdAPIReplay,
	"fake": cmdFake, "bench": cmdBench, "scheduler": cmdScheduler, "worker": cmdWorker, "serve": cmdServe,
	"dags":  verbs("dags", map[string]command{"trigger": cmdDagsTrigger, "pause": cmdDagsPause(true), "unpause": cmdDagsPause(false), "backfill": cmdDagsBackfill}),
	"runs":  verbs("runs", map[string]command{"list": cmdRunsList, "show": cmdRunsShow, "resume": cmdRunsResume}),
	"tasks": verbs("tasks", map[string]command{"logs": cmdTasksLogs, "clear": cmdTasksClear}),
}

// verbs dispatches "NOUN VERB args" commands.
func verbs(noun string, verbs map[string]command) command {
	return func(ctx context.Context, e *env, args []string) error {
		names := strings.Join(slices.Sorted(maps.Keys(verbs)), ", ")
		if len(args) == 0 {
			return e.usageError("grpipe %s: name a subcommand: %s\n\n%s", noun, names, usage)
		}
		if f, ok := verbs[args[0]]; ok {
			return f(ctx, e, args[1:])
		}
		return e.usageError("grpipe %s: unknown subcommand %q: use %s", noun, args[0], names)
	}
}

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
	cmd, ok := commands[rest[0]]
	if !ok {
		if rest[0] == "help" {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprintf(stderr, "grpipe: unknown command %q\n\n%s", rest[0], usage)
		return exitUsage
	}
	switch err := cmd(ctx, e, rest[1:]); {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errFailed):
		return exitFailed
	default:
		fmt.Fprintf(e.stderr, "grpipe: %v\n", err)
		if errors.Is(err, grpipe.ErrBadInput) || errors.Is(err, grpipe.ErrNotFound) {
			return exitUsage
		}
		return exitFailed
	}
}

// usageError prints a command's usage complaint and returns errUsage.
func (e *env) usageError(format string, args ...any) error {
	fmt.Fprintf(e.stderr, format+"\n", args...)
	return errUsage
}

// spec declares a command for do.
type spec struct {
	// name is the command as typed: "runs show".
	name string
	// nargs is how many positional arguments it takes (-1: one or more),
	// usage what to say when they are wrong.
	nargs int
	usage string
	// settings are the settings it takes as flags (keys of the config table).
	settings []string
	// noConfig: it reads no configuration unless it calls loadConfig;
	// service: it calls the orchestrator (call.svc).
	noConfig, service bool
}

// call is a parsed command line: its positional arguments and the
// configuration with its logger.
type call struct {
	*env
	args  []string
	flags map[string]string // the settings given as flags
	cfg   config.Config
	log   *slog.Logger
	svc   *orchestrator.Service
}

// do parses a command's flags (--home, the settings of s, and those flags
// registers), which may come before, between or after its positional
// arguments, loads the configuration and runs action.
func (e *env) do(ctx context.Context, args []string, s spec, flags func(*flag.FlagSet), action func(call) error) error {
	fs := flag.NewFlagSet("grpipe "+s.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Func("home", "home `DIR` (also accepted before the command)", func(h string) error { e.home = h; return nil })
	values := map[string]*string{}
	for _, k := range s.settings {
		st := config.SettingByKey(k)
		values[k] = fs.String(st.Flag, "", st.FlagUsage())
	}
	if flags != nil {
		flags(fs)
	}
	c := &call{env: e, flags: map[string]string{}}
	for {
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		c.args, args = append(c.args, fs.Arg(0)), fs.Args()[1:]
	}
	switch {
	case s.nargs == 0 && len(c.args) > 0:
		return e.usageError("grpipe %s: unexpected argument %q", s.name, c.args[0])
	case s.nargs > 0 && len(c.args) != s.nargs, s.nargs < 0 && len(c.args) == 0:
		return e.usageError("%s", s.usage)
	}
	for k, v := range values {
		c.flags[k] = *v
	}
	if !s.noConfig {
		if err := c.loadConfig(); err != nil {
			return err
		}
	}
	if s.service {
		svc, st, err := app.OpenOrchestrator(ctx, c.cfg, c.log, e.hooks.options...)
		if err != nil {
			return err
		}
		defer st.Close()
		c.svc = svc
	}
	return action(*c)
}

// loadConfig loads the configuration of the home and its logger: text on
// stderr at the configured level.
func (c *call) loadConfig() error {
	home, err := config.HomeFrom(c.home, c.getenv)
	if err != nil {
		return err
	}
	if c.cfg, err = config.Load(home, c.getenv, c.flags); err != nil {
		return err
	}
	c.log = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: c.cfg.LogLevel}))
	return nil
}

// The settings the commands that touch the data accept as flags.
var dataSettings = []string{"zones", "warehouse", "metadata", "max_reject_ratio"}

// ended returns what prints the outcome of a run (or the error of starting
// it): a run that did not succeed is exit 1.
func (e *env) ended(asJSON bool) func(*grpipe.RunSummary, error) error {
	return func(sum *grpipe.RunSummary, err error) error {
		if err != nil {
			return err
		}
		if ok, err := report.Ended(e.stdout, e.stderr, sum, asJSON); err != nil || ok {
			return err
		}
		return errFailed
	}
}

// print prints v as JSON, or as text, unless err.
func (e *env) print(err error, asJSON bool, v any, text func()) error {
	switch {
	case err != nil:
		return err
	case asJSON:
		return report.JSON(e.stdout, v)
	}
	text()
	return nil
}
