package main

import (
	"context"
	"fmt"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
)

// cmdWorker is `grpipe worker`: a process of the distributed executor that
// runs the tries the schedulers put on the queue, until SIGTERM.
func cmdWorker(ctx context.Context, e *env, args []string) int {
	fs := e.flags("worker")
	sf := settingFlags(fs, dataSettings...)
	concurrency := fs.Int("concurrency", 1, "how many tries run at once, `N`")
	name := fs.String("name", "", "the worker's `NAME` in the UI and the logs (default host:pid); unique among live workers")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "grpipe worker: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *concurrency < 1 || *concurrency > 1024 {
		return e.fail(fmt.Errorf("%w: --concurrency %d must be between 1 and 1024", grpipe.ErrBadInput, *concurrency))
	}
	cfg, err := e.config(sf())
	if err != nil {
		return e.fail(err)
	}
	if err := app.RunWorker(ctx, cfg, app.WorkerOptions{Name: *name, Concurrency: *concurrency}, e.logger(cfg), e.options()...); err != nil {
		return e.fail(err)
	}
	return exitOK
}
