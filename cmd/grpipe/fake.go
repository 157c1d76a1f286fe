package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
)

// fakeFlags are the generator's options as flags (shared by fake and bench).
type fakeFlags struct {
	records                                *int64
	size                                   *string
	seed                                   *uint64
	reviewIDs, userIDs, bookIDs, authorIDs *int64
	dirty                                  *float64
}

func addFakeFlags(fs interface {
	Int64(string, int64, string) *int64
	String(string, string, string) *string
	Uint64(string, uint64, string) *uint64
	Float64(string, float64, string) *float64
}) fakeFlags {
	return fakeFlags{
		records:   fs.Int64("records", 0, "review records per batch, `N` (each yields one row in each of the four files)"),
		size:      fs.String("size", "", "bytes per batch instead of --records, e.g. 11.4GB, 500MB, 2GiB"),
		seed:      fs.Uint64("seed", 1, "`seed`: the same seed gives byte-identical files"),
		reviewIDs: fs.Int64("review-ids", fake.DefaultReviewIDs, "review ids are drawn from [0, `N`)"),
		userIDs:   fs.Int64("user-ids", fake.DefaultEntityIDs, "user ids are drawn from [0, `N`)"),
		bookIDs:   fs.Int64("book-ids", fake.DefaultEntityIDs, "book ids are drawn from [0, `N`)"),
		authorIDs: fs.Int64("author-ids", fake.DefaultEntityIDs, "author ids are drawn from [0, `N`)"),
		dirty:     fs.Float64("dirty", 0, "share of broken rows in each file, `RATE` (e.g. 0.001); counted in the manifest"),
	}
}

// options turns the flags into generator options, sizing the batch.
func (f fakeFlags) options(ctx context.Context) (fake.Options, error) {
	o := fake.Options{Records: *f.records, Seed: *f.seed, ReviewIDs: *f.reviewIDs, UserIDs: *f.userIDs,
		BookIDs: *f.bookIDs, AuthorIDs: *f.authorIDs, DirtyRate: *f.dirty}
	for name, v := range map[string]int64{"--review-ids": o.ReviewIDs, "--user-ids": o.UserIDs, "--book-ids": o.BookIDs, "--author-ids": o.AuthorIDs} {
		if v <= 0 {
			return o, fmt.Errorf("%w: %s %d: give a positive number", grpipe.ErrBadInput, name, v)
		}
	}
	switch {
	case *f.size != "" && o.Records != 0:
		return o, fmt.Errorf("%w: give --records or --size, not both", grpipe.ErrBadInput)
	case *f.size != "":
		size, err := fake.ParseSize(*f.size)
		if err != nil {
			return o, err
		}
		if o.Records, err = fake.RecordsForSize(ctx, size, o); err != nil {
			return o, err
		}
	case o.Records <= 0:
		return o, fmt.Errorf("%w: give --records N (N > 0) or --size SIZE (e.g. 1.2GB)", grpipe.ErrBadInput)
	}
	return o, o.Validate()
}

func cmdFake(ctx context.Context, e *env, args []string) int {
	fs := e.flags("fake")
	sf := settingFlags(fs)
	ff := addFakeFlags(fs)
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
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "grpipe fake: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	switch *format {
	case "csv":
	case "ucsd":
		return fakeUCSD(ctx, e, ff, *out, *land)
	default:
		fmt.Fprintf(e.stderr, "grpipe fake: --format %q: give csv or ucsd\n", *format)
		return exitUsage
	}
	if (*out == "") == !*land {
		fmt.Fprintln(e.stderr, "grpipe fake: give --out DIR or --land (one of them)")
		return exitUsage
	}
	if *batches < 1 || *first < 0 {
		fmt.Fprintln(e.stderr, "grpipe fake: --batches must be 1 or more and --batch 0 or more")
		return exitUsage
	}
	opts, err := ff.options(ctx)
	if err != nil {
		return e.fail(err)
	}
	var zones *objstore.Store
	if *land {
		cfg, err := e.config(values(sf))
		if err != nil {
			return e.fail(err)
		}
		if zones, err = app.OpenZones(ctx, cfg); err != nil {
			return e.fail(err)
		}
		defer zones.Close()
	}

	total, err := fake.EstimateBytes(ctx, opts)
	if err != nil {
		return e.fail(err)
	}
	var manifests []*fake.Manifest
	for k := 0; k < *batches; k++ {
		num := *first + k
		name := ""
		if *batches > 1 || *first > 0 {
			if *first == 0 {
				num = k + 1
			}
			name = strconv.Itoa(num)
		}
		o := opts
		o.Batch = max(num-1, 0)
		prog := newProgress(e.stderr, total)
		o.Progress = prog.add
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
		if err != nil {
			prog.stop()
			return e.fail(err)
		}
		prog.stop()
		secs := time.Since(start).Seconds()
		where := *out
		if *land {
			where = "the landing zone"
		}
		// With --json, stdout holds only the manifests.
		human := e.stdout
		if *asJSON {
			human = e.stderr
		}
		fmt.Fprintf(human, "wrote %d records, %s in %.1fs (%s/s) to %s:", m.Records, humanBytes(m.Bytes), secs, humanBytes(int64(float64(m.Bytes)/secs)), where)
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

// progress draws a progress bar on a terminal: bytes, rate, ETA. It draws
// nothing when the stream is not a terminal.
type progress struct {
	w     io.Writer
	total int64 // expected bytes, 0 when unknown
	done  atomic.Int64
	start time.Time
	quit  chan struct{}
	ended chan struct{}
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total, start: time.Now()}
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f.Fd()) {
		return p
	}
	p.quit, p.ended = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.ended)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *progress) add(n int64) { p.done.Add(n) }

func (p *progress) stop() {
	if p.quit != nil {
		close(p.quit)
		<-p.ended
		p.quit = nil
	}
}

func (p *progress) draw() {
	done := p.done.Load()
	secs := time.Since(p.start).Seconds()
	rate := float64(done) / max(secs, 1e-3)
	line := fmt.Sprintf("\r%10s  %10s/s", humanBytes(done), humanBytes(int64(rate)))
	if p.total > 0 {
		frac := min(float64(done)/float64(p.total), 1)
		const width = 30
		bar := make([]byte, width)
		for i := range bar {
			if float64(i) < frac*width {
				bar[i] = '='
			} else {
				bar[i] = ' '
			}
		}
		eta := time.Duration(float64(p.total-done) / max(rate, 1) * float64(time.Second)).Round(time.Second)
		line = fmt.Sprintf("\r[%s] %3.0f%%  %10s / %s  %10s/s  ETA %s", bar, 100*frac, humanBytes(done), humanBytes(p.total), humanBytes(int64(rate)), eta)
	}
	fmt.Fprint(p.w, line+"\033[K")
}

// isTerminal reports whether fd is a terminal.
func isTerminal(fd uintptr) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}

// humanBytes formats n as 1.23 GB (powers of 1000).
func humanBytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if f < 1000 || u == "TB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.2f %s", f, u)
		}
		f /= 1000
	}
	return ""
}
