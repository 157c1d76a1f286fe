package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/bench"
	"github.com/grpipe/grpipe/internal/capture"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/httpserver"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
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

func cmdFake(ctx context.Context, e *env, args []string) int {
	fs := e.flags("fake")
	sf := settingFlags(fs, dataSettings...)
	fo, size := fakeFlags(fs)
	out := fs.String("out", "", "write the files into `DIR`")
	land := fs.Bool("land", false, "land the files directly in the landing zone of the home")
	batches := fs.Int("batches", 1, "write `K` batches (files reviews-<k>.csv ...), later batches with later timestamps")
	first := fs.Int("batch", 0, "number the batches from `N` (files reviews-<N>.csv ...); default: plain reviews.csv for one batch, 1.. for several")
	manifestPath := fs.String("manifest", "", "also write the manifests (JSON) to `FILE` (default with --out: DIR/manifest.json)")
	asJSON := fs.Bool("json", false, "print the manifests (JSON) on stdout")
	format := fs.String("format", "csv", "`FORMAT`: csv (the four entities' CSV files) or ucsd (the UCSD Book Graph dumps, gzip JSON Lines; --records counts reviews)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(e.stderr, "grpipe fake: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	case *format == "ucsd":
		return fakeUCSD(ctx, e, fo, *size, *out, *land)
	case *format != "csv":
		fmt.Fprintf(e.stderr, "grpipe fake: --format %q: give csv or ucsd\n", *format)
		return exitUsage
	case (*out == "") == !*land:
		fmt.Fprintln(e.stderr, "grpipe fake: give --out DIR or --land (one of them)")
		return exitUsage
	case *batches < 1 || *first < 0:
		fmt.Fprintln(e.stderr, "grpipe fake: --batches must be 1 or more and --batch 0 or more")
		return exitUsage
	}
	opts, err := fo.Sized(ctx, *size)
	if err != nil {
		return e.fail(err)
	}
	var zones *objstore.Store
	where := *out
	if *land {
		cfg, err := e.config(sf())
		if err != nil {
			return e.fail(err)
		}
		if zones, err = app.OpenZones(ctx, cfg); err != nil {
			return e.fail(err)
		}
		defer zones.Close()
		where = "the landing zone"
	}
	total, err := fake.EstimateBytes(ctx, opts)
	if err != nil {
		return e.fail(err)
	}
	human := e.stdout // with --json, stdout holds only the manifests
	if *asJSON {
		human = e.stderr
	}
	var manifests []*fake.Manifest
	for _, num := range fake.BatchNumbers(*first, *batches) {
		name := ""
		if *batches > 1 || *first > 0 {
			name = strconv.Itoa(num)
		}
		o := opts
		o.Batch = max(num-1, 0)
		prog := report.NewProgress(e.stderr, total)
		o.Progress = prog.Add
		start := time.Now()
		var m *fake.Manifest
		if *land {
			m, err = fake.Land(ctx, zones, name, o)
			if errors.Is(err, landing.ErrWaiting) {
				err = fmt.Errorf("%w (or give --batch N to land under other names)", err)
			}
		} else {
			_, m, err = fake.WriteBatch(ctx, *out, name, o)
		}
		prog.Stop()
		if err != nil {
			return e.fail(err)
		}
		secs := time.Since(start).Seconds()
		fmt.Fprintf(human, "wrote %d records, %s in %.1fs (%s/s) to %s:", m.Records, report.Bytes(m.Bytes), secs, report.Bytes(int64(float64(m.Bytes)/secs)), where)
		for _, f := range m.Files {
			fmt.Fprintf(human, " %s", f.Name)
		}
		fmt.Fprintln(human)
		manifests = append(manifests, m)
	}
	if *manifestPath == "" && *out != "" {
		*manifestPath = filepath.Join(*out, "manifest.json")
	}
	b, _ := json.MarshalIndent(manifests, "", "  ")
	b = append(b, '\n')
	if *manifestPath != "" {
		if err := os.WriteFile(*manifestPath, b, 0o644); err != nil {
			return e.fail(fmt.Errorf("manifest: %w", err))
		}
	}
	if *asJSON {
		e.stdout.Write(b)
	}
	return exitOK
}

func cmdBench(ctx context.Context, e *env, args []string) int {
	fs := e.flags("bench")
	fo, size := fakeFlags(fs)
	dir := fs.String("dir", "", "scratch `DIR` for the run's home (default: a new temporary folder, removed at the end)")
	data := fs.String("data", "", "keep the generated batch in `DIR` and reuse it when it matches (implies --keep)")
	keep := fs.Bool("keep", false, "keep the generated batch (its folder is printed) so that the next bench with --data reuses it")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the benchmark to `FILE`")
	reference := fs.Bool("reference", false, "also run a bare-DuckDB reference of the core work on the same files and print the ratio")
	profileDir := fs.String("profile", "", "write Go CPU and heap profiles of the run (cpu.pprof, heap.pprof) into `DIR`")
	compare := fs.String("compare", "", "compare the result with the last recorded one in `FILE` (BENCHMARKS.md); exit 1 on a regression")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cpuProfile != "" && *profileDir != "" {
		fmt.Fprintln(e.stderr, "grpipe bench: give --cpuprofile or --profile, not both")
		return exitUsage
	}
	var baseline *bench.Result
	if *compare != "" {
		var err error
		if baseline, err = bench.ReadBaseline(*compare); err != nil {
			return e.fail(err)
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "grpipe bench: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if fo.Records == 0 && *size == "" {
		fo.Records = bench.DefaultRecords
	}
	opts, err := fo.Sized(ctx, *size)
	if err != nil {
		return e.fail(err)
	}
	scratch := *dir
	if scratch == "" {
		if scratch, err = os.MkdirTemp("", "grpipe-bench-"); err != nil {
			return e.fail(err)
		}
		if *data == "" && *keep {
			*data = scratch + "/data"
		} else {
			defer os.RemoveAll(scratch)
		}
	}
	total, err := fake.EstimateBytes(ctx, opts)
	if err != nil {
		return e.fail(err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return e.fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return e.fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	level := slog.LevelWarn
	_ = level.UnmarshalText([]byte(e.getenv("GRPIPE_LOG_LEVEL")))
	prog := report.NewProgress(e.stderr, total)
	res, err := bench.Run(ctx, bench.Options{Fake: opts, Dir: scratch, DataDir: *data, KeepData: *keep || *data != "",
		Reference: *reference, Getenv: e.getenv, Log: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})), Progress: prog.Add,
		ProfileDir: *profileDir})
	prog.Stop()
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		if code := e.printJSON(res); code != exitOK || baseline == nil {
			return code
		}
	} else {
		report.Bench(e.stdout, res)
	}
	if baseline != nil {
		findings, regressed := bench.Compare(baseline, res)
		bench.PrintComparison(e.stderr, findings, regressed)
		if regressed {
			return exitFailed
		}
	}
	return exitOK
}

func cmdCapture(ctx context.Context, e *env, args []string) int {
	fs := e.flags("capture")
	sf := settingFlags(fs, "zones") // capture needs only the zones
	apiURL := fs.String("api-url", "", "the Goodreads API's base `URL` (env GRPIPE_API_URL)")
	apiKey := fs.String("api-key", "", "the API `KEY` (env GRPIPE_API_KEY, better: a flag shows in the process list)")
	once := fs.Bool("once", false, "poll once, land what was captured, exit")
	every := fs.Duration("every", 0, "poll every `PERIOD` until stopped (default 60s)")
	until := fs.String("until", "", "stop at `T` (RFC 3339, or a duration from now such as 30m), after a flush")
	rate := fs.String("rate", "1/s", "at most `N/s` calls to the API (or N/m, N/h)")
	flushEvery := fs.Duration("flush-every", 10*time.Minute, "land the spool when its oldest row is `AGE` old")
	flushRows := fs.Int("flush-rows", 0, "land the spool when it holds `N` reviews (0: no bound)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "grpipe capture: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	s := capture.Settings{APIURL: *apiURL, APIKey: *apiKey, Once: *once, Every: *every, FlushEvery: *flushEvery, FlushRows: *flushRows}
	if s.APIURL == "" {
		s.APIURL = e.getenv("GRPIPE_API_URL")
	}
	if s.APIKey == "" {
		s.APIKey = e.getenv("GRPIPE_API_KEY")
	}
	if !s.Once && s.Every == 0 {
		s.Every = time.Minute
	}
	var err error
	if s.Rate, err = source.ParseRate("rate", *rate); err != nil {
		return e.fail(err)
	}
	if s.Until, err = capture.ParseUntil(*until, time.Now()); err != nil {
		return e.fail(err)
	}
	if err := s.Validate(); err != nil {
		return e.fail(err)
	}
	cfg, err := e.config(sf())
	if err != nil {
		return e.fail(err)
	}
	log := e.logger(cfg)
	client, err := source.NewClient(s.APIURL, s.APIKey, &source.Options{Rate: s.Rate, Log: log})
	if err != nil {
		return e.fail(err)
	}
	zones, err := app.OpenZones(ctx, cfg)
	if err != nil {
		return e.fail(err)
	}
	defer zones.Close()
	opts := capture.Options{Dir: filepath.Join(cfg.Home, "capture"), Until: s.Until, FlushEvery: s.FlushEvery, FlushRows: s.FlushRows, Log: log}
	if !s.Once {
		opts.Every = s.Every
	}
	c, err := capture.Open(ctx, client, zones, opts)
	if err != nil {
		return e.fail(err)
	}
	defer c.Close()
	log.Info("capture started", "api", client.BaseURL(), "zones", zones.URL(), "every", opts.Every.String(), "rate_per_s", s.Rate)
	err = c.Run(ctx)
	st := c.Stats()
	fmt.Fprintf(e.stdout, "captured %d reviews in %d polls; landed %d in %d batches; skipped %d, failed %d\n",
		st.Fetched, st.Polls, st.Landed, st.Batches, st.Skipped, st.Failed)
	if err != nil {
		return e.fail(err)
	}
	return exitOK
}

func cmdAPIReplay(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("grpipe api-replay", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen on `HOST:PORT` (loopback by default)")
	from := fs.String("from", "", "`DIR` holding reviews.csv, user.csv, author.csv and book.csv (the sample, or `grpipe fake` output)")
	key := fs.String("key", "", "accept only this `KEY` (default: any non-empty key)")
	rateLimit := fs.String("rate-limit", "0", "answer 429 past `N/s` calls (0: no limit)")
	recent := fs.Int("recent", 20, "reviews per recent_reviews answer")
	step := fs.Int("step", 0, "new reviews arriving between two recent_reviews calls (default: a quarter of --recent)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *from == "" || fs.NArg() > 0 {
		fmt.Fprintln(e.stderr, "grpipe api-replay: give --from DIR (a folder with reviews.csv, user.csv, author.csv, book.csv)")
		return exitUsage
	}
	if *recent <= 0 || *step < 0 {
		fmt.Fprintln(e.stderr, "grpipe api-replay: --recent must be positive and --step not negative")
		return exitUsage
	}
	limit := 0.0
	if num, _, _ := strings.Cut(*rateLimit, "/"); strings.TrimSpace(num) != "0" {
		var err error
		if limit, err = source.ParseRate("rate-limit", *rateLimit); err != nil {
			return e.fail(err)
		}
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	rp, err := source.NewReplay(*from, &source.ReplayOptions{Key: *key, RateLimit: limit, Recent: *recent, Step: *step, Log: log})
	if err != nil {
		return e.fail(err)
	}
	srv, err := source.ServeReplay(*addr, rp, httpserver.Options{Log: log})
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "serving %d reviews from %s as the Goodreads API on http://%s\n", rp.Len(), *from, srv.Addr())
	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		return e.fail(fmt.Errorf("api-replay: %w", err))
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return e.fail(fmt.Errorf("api-replay: %w", err))
	}
	return exitOK
}
