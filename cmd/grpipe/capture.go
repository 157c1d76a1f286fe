package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/capture"
	"github.com/grpipe/grpipe/internal/httpserver"
	"github.com/grpipe/grpipe/internal/source"
)

// captureSettings are grpipe capture's flags.
type captureSettings struct {
	APIURL     string
	APIKey     string
	Once       bool
	Every      time.Duration
	Until      time.Time
	Rate       float64
	FlushEvery time.Duration
	FlushRows  int
}

// Validate checks the settings, naming the flag at fault.
func (s captureSettings) Validate() error {
	switch {
	case s.APIURL == "":
		return fmt.Errorf("%w: no API URL: give --api-url or GRPIPE_API_URL (for a demo: `grpipe api-replay --from DIR`, then --api-url http://127.0.0.1:8090)", grpipe.ErrBadInput)
	case s.APIKey == "":
		return fmt.Errorf("%w: no API key: give GRPIPE_API_KEY (or --api-key, which other users can see in the process list)", grpipe.ErrBadInput)
	case s.Once && s.Every > 0:
		return fmt.Errorf("%w: --once and --every exclude each other: --once polls one time, --every polls until stopped", grpipe.ErrBadInput)
	case !s.Once && s.Every < time.Second:
		return fmt.Errorf("%w: --every %s: give a period of at least 1s, such as 60s", grpipe.ErrBadInput, s.Every)
	case s.FlushEvery <= 0:
		return fmt.Errorf("%w: --flush-every %s: give a positive duration, such as 10m", grpipe.ErrBadInput, s.FlushEvery)
	case s.FlushRows < 0:
		return fmt.Errorf("%w: --flush-rows %d: give a number of reviews, 0 for no bound", grpipe.ErrBadInput, s.FlushRows)
	case s.Rate <= 0:
		return fmt.Errorf("%w: --rate must be positive", grpipe.ErrBadInput)
	}
	return nil
}

// parseRate reads a rate such as "1/s", "0.5/s", "30/m", "100/h" or "2" (per second).
func parseRate(flagName, s string) (float64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	per := map[string]float64{"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[strings.TrimSpace(unit)]
	if err != nil || per == 0 || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%w: --%s %q: give calls per second, minute or hour, such as 1/s, 30/m", grpipe.ErrBadInput, flagName, s)
	}
	return v / per, nil
}

// parseUntil reads --until: an RFC 3339 time, or a duration from now.
func parseUntil(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: --until %q: give a time such as 2026-11-27T18:00:00Z or a duration such as 30m", grpipe.ErrBadInput, s)
}

func cmdCapture(ctx context.Context, e *env, args []string) int {
	fs := e.flags("capture")
	sf := map[string]*string{ // capture needs only the zones
		"zones": fs.String("zones", "", "zones `URL` (env GRPIPE_ZONES): file:///path or s3://bucket/prefix?endpoint=..."),
	}
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
	s := captureSettings{APIURL: *apiURL, APIKey: *apiKey, Once: *once, Every: *every, FlushEvery: *flushEvery, FlushRows: *flushRows}
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
	if s.Rate, err = parseRate("rate", *rate); err != nil {
		return e.fail(err)
	}
	if s.Until, err = parseUntil(*until, time.Now()); err != nil {
		return e.fail(err)
	}
	if err := s.Validate(); err != nil {
		return e.fail(err)
	}
	cfg, err := e.config(values(sf))
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
	opts := capture.Options{Dir: filepath.Join(cfg.Home, "capture"), Until: s.Until,
		FlushEvery: s.FlushEvery, FlushRows: s.FlushRows, Log: log}
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
	limit := 0.0
	if num, _, _ := strings.Cut(*rateLimit, "/"); strings.TrimSpace(num) != "0" {
		var err error
		if limit, err = parseRate("rate-limit", *rateLimit); err != nil {
			return e.fail(err)
		}
	}
	if *recent <= 0 || *step < 0 {
		fmt.Fprintln(e.stderr, "grpipe api-replay: --recent must be positive and --step not negative")
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	rp, err := source.NewReplay(*from, &source.ReplayOptions{Key: *key, RateLimit: limit, Recent: *recent, Step: *step, Log: log})
	if err != nil {
		return e.fail(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return e.fail(fmt.Errorf("%w: --addr %s: %w", grpipe.ErrBadInput, *addr, err))
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		log.Warn("the replay server listens beyond this machine", "addr", ln.Addr().String())
	}
	srv := httpserver.New(rp, httpserver.Options{Log: log})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(httpserver.LimitListener(ln, httpserver.DefaultMaxConns)) }()
	fmt.Fprintf(e.stdout, "serving %d reviews from %s as the Goodreads API on http://%s\n", rp.Len(), *from, ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-done:
		return e.fail(fmt.Errorf("api-replay: %w", err))
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return e.fail(fmt.Errorf("api-replay: %w", err))
	}
	return exitOK
}
