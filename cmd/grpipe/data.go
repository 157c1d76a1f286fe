package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/bench"
	"github.com/grpipe/grpipe/internal/capture"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/httpserver"
	"github.com/grpipe/grpipe/internal/report"
	"github.com/grpipe/grpipe/internal/source"
)

// The data commands: fake, bench, capture, api-replay.

// fakeFlags registers the generator's options (grpipe fake and bench) and
// returns them, with --size, once parsed.
func fakeFlags(fs *flag.FlagSet) (*fake.Options, *string) {
	o := &fake.Options{}
	fs.Int64Var(&o.Records, "records", 0, "review records per batch, `N` (each yields one row in each of the four files)")
	size := fs.String("size", "", "bytes per batch instead of --records, e.g. 11.4GB, 500MB, 2GiB")
	fs.Uint64Var(&o.Seed, "seed", 1, "`seed`: the same seed gives byte-identical files")
	fs.Int64Var(&o.ReviewIDs, "review-ids", fake.DefaultReviewIDs, "review ids are drawn from [0, `N`)")
	fs.Int64Var(&o.UserIDs, "user-ids", fake.DefaultEntityIDs, "user ids are drawn from [0, `N`)")
	fs.Int64Var(&o.BookIDs, "book-ids", fake.DefaultEntityIDs, "book ids are drawn from [0, `N`)")
	fs.Int64Var(&o.AuthorIDs, "author-ids", fake.DefaultEntityIDs, "author ids are drawn from [0, `N`)")
	fs.Float64Var(&o.DirtyRate, "dirty", 0, "share of broken rows in each file, `RATE` (e.g. 0.001); counted in the manifest")
	return o, size
}

func cmdFake(ctx context.Context, e *env, args []string) error {
	var fo *fake.Options
	var size *string
	var format string
	var land, asJSON bool
	job := fake.Job{Progress: report.Bar(e.stderr)}
	return e.do(ctx, args, spec{name: "fake", settings: dataSettings, noConfig: true}, func(fs *flag.FlagSet) {
		fo, size = fakeFlags(fs)
		fs.StringVar(&job.Out, "out", "", "write the files into `DIR`")
		fs.BoolVar(&land, "land", false, "land the files directly in the landing zone of the home")
		fs.IntVar(&job.Count, "batches", 1, "write `K` batches (files reviews-<k>.csv ...), later batches with later timestamps")
		fs.IntVar(&job.First, "batch", 0, "number the batches from `N` (files reviews-<N>.csv ...); default: plain reviews.csv for one batch, 1.. for several")
		fs.StringVar(&job.Manifest, "manifest", "", "also write the manifests (JSON) to `FILE` (default with --out: DIR/manifest.json)")
		fs.BoolVar(&asJSON, "json", false, "print the manifests (JSON) on stdout")
		fs.IntVar(&job.Parts, "parts", 1, "write each file as `N` parts of about equal size, cut at record boundaries (<entity>-<name>-NNNN.csv, as land --split)")
		fs.StringVar(&format, "format", "csv", "`FORMAT`: csv (the four entities' CSV files) or ucsd (the UCSD Book Graph dumps, gzip JSON Lines; --records counts reviews)")
	}, func(c call) (err error) {
		if err := fake.CheckTarget(format, job.Out, land); err != nil {
			return e.usageError("%v", err)
		}
		if format == "ucsd" {
			r, err := fake.UCSDJob{Out: job.Out, Records: fo.Records, Size: *size, Seed: fo.Seed, Progress: job.Progress}.Run(ctx)
			if err == nil {
				report.UCSD(e.stdout, r, job.Out)
			}
			return err
		}
		job.Options, job.Size = *fo, *size
		human, where := e.stdout, job.Out // with --json, stdout holds only the manifests
		if asJSON {
			human = e.stderr
		}
		if land {
			if err := c.loadConfig(); err != nil {
				return err
			}
			job.Zones, where = c.cfg.Zones, "the landing zone"
		}
		job.Wrote = func(m *fake.Manifest, secs float64) { report.Batch(human, m, secs, where) }
		b, err := job.Run(ctx)
		if err == nil && asJSON {
			_, err = e.stdout.Write(b)
		}
		return err
	})
}

func cmdBench(ctx context.Context, e *env, args []string) error {
	var fo *fake.Options
	var size *string
	var asJSON bool
	o := bench.Options{Getenv: e.getenv, LogOutput: e.stderr, CompareOut: e.stderr, Progress: report.Bar(e.stderr)}
	return e.do(ctx, args, spec{name: "bench", noConfig: true}, func(fs *flag.FlagSet) {
		fo, size = fakeFlags(fs)
		fs.StringVar(&o.Dir, "dir", "", "scratch `DIR` for the run's home (default: a new temporary folder, removed at the end)")
		fs.StringVar(&o.DataDir, "data", "", "keep the generated batch in `DIR` and reuse it when it matches (implies --keep)")
		fs.BoolVar(&o.KeepData, "keep", false, "keep the generated batch (its folder is printed) so that the next bench with --data reuses it")
		fs.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
		fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a Go CPU profile of the benchmark to `FILE`")
		fs.StringVar(&o.ProfileDir, "profile", "", "write Go CPU and heap profiles of the run (cpu.pprof, heap.pprof) into `DIR`")
		fs.BoolVar(&o.Reference, "reference", false, "also run a bare-DuckDB reference of the core work on the same files and print the ratio")
		fs.StringVar(&o.Compare, "compare", "", "compare the result with the last recorded one in `FILE` (BENCHMARKS.md); exit 1 on a regression")
	}, func(c call) error {
		o.Fake, o.Size = *fo, *size
		res, err := bench.Run(ctx, o)
		if errors.Is(err, bench.ErrRegressed) { // the result, then the verdict
			return errors.Join(e.print(nil, asJSON, res, func() { res.WriteText(e.stdout) }), err)
		}
		return e.print(err, asJSON, res, func() { res.WriteText(e.stdout) })
	})
}

func cmdCapture(ctx context.Context, e *env, args []string) error {
	var s capture.Settings
	var until, rate string
	return e.do(ctx, args, spec{name: "capture", settings: []string{"zones", "metadata"}}, func(fs *flag.FlagSet) { // the zones, and the metadata for its state
		fs.StringVar(&s.APIURL, "api-url", e.getenv("GRPIPE_API_URL"), "the Goodreads API's base `URL` (env GRPIPE_API_URL)")
		fs.StringVar(&s.APIKey, "api-key", e.getenv("GRPIPE_API_KEY"), "the API `KEY` (env GRPIPE_API_KEY, better: a flag shows in the process list)")
		fs.BoolVar(&s.Once, "once", false, "poll once, land what was captured, exit")
		fs.DurationVar(&s.Every, "every", 0, "poll every `PERIOD` until stopped (default 60s)")
		fs.StringVar(&until, "until", "", "stop at `T` (RFC 3339, or a duration from now such as 30m), after a flush")
		fs.StringVar(&rate, "rate", "1/s", "at most `N/s` calls to the API (or N/m, N/h)")
		fs.DurationVar(&s.FlushEvery, "flush-every", 10*time.Minute, "land the spool when its oldest row is `AGE` old")
		fs.IntVar(&s.FlushRows, "flush-rows", 0, "land the spool when it holds `N` reviews (0: no bound)")
	}, func(c call) error {
		s, err := capture.ParseSettings(s, rate, until, time.Now())
		if err != nil {
			return err
		}
		store, lock, err := app.CaptureState(ctx, c.cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		st, err := capture.RunSettings(ctx, c.cfg.Zones, filepath.Join(c.cfg.Home, "capture"), store, lock, s, c.log)
		fmt.Fprintln(e.stdout, st)
		return err
	})
}

func cmdAPIReplay(ctx context.Context, e *env, args []string) error {
	var addr, from, rateLimit string
	o := source.ReplayOptions{Log: slog.New(slog.NewTextHandler(e.stderr, nil))}
	return e.do(ctx, args, spec{name: "api-replay", noConfig: true}, func(fs *flag.FlagSet) {
		fs.StringVar(&addr, "addr", "127.0.0.1:8090", "listen on `HOST:PORT` (loopback by default)")
		fs.StringVar(&from, "from", "", "`DIR` holding reviews.csv, user.csv, author.csv and book.csv (the sample, or `grpipe fake` output)")
		fs.StringVar(&o.Key, "key", "", "accept only this `KEY` (default: any non-empty key)")
		fs.StringVar(&rateLimit, "rate-limit", "0", "answer 429 past `N/s` calls (0: no limit)")
		fs.IntVar(&o.Recent, "recent", 20, "reviews per recent_reviews answer")
		fs.IntVar(&o.Step, "step", 0, "new reviews arriving between two recent_reviews calls (default: a quarter of --recent)")
	}, func(c call) error {
		switch {
		case from == "":
			return e.usageError("grpipe api-replay: give --from DIR (a folder with reviews.csv, user.csv, author.csv, book.csv)")
		case o.Recent <= 0 || o.Step < 0:
			return e.usageError("grpipe api-replay: --recent must be positive and --step not negative")
		}
		var err error
		if o.RateLimit, err = source.ParseRateLimit(rateLimit); err != nil {
			return err
		}
		return source.ServeReplay(ctx, addr, from, &o, httpserver.Options{Log: o.Log}, func(a net.Addr, n int) { report.Serving(e.stdout, n, from, a) })
	})
}
