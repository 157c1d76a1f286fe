package capture

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/source"
	"github.com/grpipe/grpipe/internal/testsupport"
)

const key = "test-key"

// api is a replay server of the sample behind a handler that counts the
// show.xml calls and can answer some ids with a fault.
type api struct {
	t      *testing.T
	srv    *httptest.Server
	replay *source.Replay
	mu     sync.Mutex
	shows  map[string]int
	faults map[string]func(http.ResponseWriter)
}

func newAPI(t *testing.T, opts *source.ReplayOptions) *api {
	t.Helper()
	dir := t.TempDir()
	if _, err := sample.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		opts = &source.ReplayOptions{}
	}
	opts.Key = key
	rp, err := source.NewReplay(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, replay: rp, shows: map[string]int{}, faults: map[string]func(http.ResponseWriter){}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/review/show.xml" {
			id := r.URL.Query().Get("id")
			a.mu.Lock()
			a.shows[id]++
			fault := a.faults[id]
			a.mu.Unlock()
			if fault != nil {
				fault(w)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *api) showCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.shows {
		n += c
	}
	return n
}

func (a *api) client(t *testing.T, k string) *source.Client {
	t.Helper()
	c, err := source.NewClient(a.srv.URL, k, &source.Options{Rate: 1e6, BaseBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// env is a capture's home: zones and a state folder.
type env struct {
	t     *testing.T
	dir   string
	zones *objstore.Store
	store *runstore.Store // the run store, holding the capture state
	clock *testsupport.Clock
	log   *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	zones, err := objstore.Open(context.Background(), "file://"+filepath.Join(dir, "zones"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zones.Close() })
	store, err := runstore.Open(context.Background(), filepath.Join(dir, "grpipe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &env{t: t, dir: dir, zones: zones, store: store, log: &bytes.Buffer{},
		clock: testsupport.NewClock(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC))}
}

func (e *env) open(a API, tune func(*Options)) *Capturer {
	e.t.Helper()
	opts := Options{Dir: filepath.Join(e.dir, "capture"), State: e.store, Clock: e.clock,
		Log: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if tune != nil {
		tune(&opts)
	}
	c, err := Open(context.Background(), a, e.zones, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// landed returns the landing zone's files by entity prefix: file name → rows (header first).
func (e *env) landed() map[string]map[string][][]string {
	e.t.Helper()
	objs, err := e.zones.List(context.Background(), "landing/")
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]map[string][][]string{}
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, "landing/")
		ent, err := grpipe.EntityForFile(name)
		if err != nil {
			e.t.Fatalf("landed a file the pipeline refuses: %v", err)
		}
		b, err := e.zones.ReadAll(context.Background(), o.Key)
		if err != nil {
			e.t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			e.t.Fatalf("%s is not RFC 4180 CSV: %v", name, err)
		}
		if out[ent.FilePrefix] == nil {
			out[ent.FilePrefix] = map[string][][]string{}
		}
		out[ent.FilePrefix][name] = rows
	}
	return out
}

// reviewIDs returns the review ids in every landed reviews file, sorted.
func (e *env) reviewIDs() []string {
	var ids []string
	for _, rows := range e.landed()["reviews"] {
		for _, r := range rows[1:] {
			ids = append(ids, r[0])
		}
	}
	sort.Strings(ids)
	return ids
}

func TestCaptureOnceLandsABatch(t *testing.T) {
	a := newAPI(t, nil)
	e := newEnv(t)
	c := e.open(a.client(t, key), nil)
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	landed := e.landed()
	for _, ent := range grpipe.Entities() {
		files := landed[ent.FilePrefix]
		if len(files) != 1 {
			t.Fatalf("%s: %d files landed, want 1 batch", ent.FilePrefix, len(files))
		}
		for name, rows := range files {
			if !strings.HasPrefix(name, ent.FilePrefix+"-20261127T030000.") {
				t.Errorf("batch file %s is not named <entity>-<stamp>.csv", name)
			}
			if !reflect.DeepEqual(rows[0], ent.ColumnNames()) {
				t.Errorf("%s header %v, want the seed's %v", name, rows[0], ent.ColumnNames())
			}
			if len(rows) != 21 {
				t.Errorf("%s: %d rows, want 20", name, len(rows)-1)
			}
			for _, r := range rows[1:] {
				if r[len(r)-1] != "2026-11-27 03:00:00.000000" {
					t.Errorf("%s: record_create_timestamp %q", name, r[len(r)-1])
				}
			}
		}
	}
	if s := c.Stats(); s.Fetched != 20 || s.Landed != 20 || s.Batches != 1 || s.Listed != 20 {
		t.Errorf("stats %+v", s)
	}
	if n, _ := c.Captured(context.Background()); n != 20 {
		t.Errorf("%d reviews in the state, want 20", n)
	}
}

func TestCaptureIncrementalAcrossRestarts(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 20, Step: 5})
	e := newEnv(t)
	c := e.open(a.client(t, key), nil)
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if a.showCalls() != 20 {
		t.Fatalf("first capture: %d show calls, want 20", a.showCalls())
	}
	// A new process: the window moved by 5; only those 5 are fetched.
	c = e.open(a.client(t, key), nil)
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.showCalls() != 25 {
		t.Errorf("after restart: %d show calls in all, want 25 (only the 5 new ones fetched again)", a.showCalls())
	}
	ids := e.reviewIDs()
	if len(ids) != 25 {
		t.Errorf("%d reviews landed in all, want 25", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Errorf("review %s landed twice", ids[i])
		}
	}
}

func TestCaptureCrashLosesOnlyTheSpool(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 10, Step: 10})
	e := newEnv(t)
	c := e.open(a.client(t, key), nil)
	// One poll spooled, never flushed: the process dies.
	if err := c.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Spooled() != 10 {
		t.Fatalf("%d spooled, want 10", c.Spooled())
	}
	c.Close()
	if got := e.landed(); len(got) != 0 {
		t.Fatalf("landed before a flush: %v", got)
	}
	// The next process discards the spool; the window moved on, so it
	// captures the next 10. The 10 lost ones were never marked captured.
	c = e.open(a.client(t, key), nil)
	if !strings.Contains(e.log.String(), "discarded the spool") || !strings.Contains(e.log.String(), "reviews=10") {
		t.Errorf("the discarded spool was not reported: %s", e.log.String())
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Captured(context.Background()); n != 10 {
		t.Errorf("%d captured, want 10", n)
	}
	c.Close()
	// Were the lost ones still recent, they would be fetched again: a replay
	// whose window stays put shows it.
	b := newAPI(t, &source.ReplayOptions{Recent: 10, Step: 10})
	e2 := newEnv(t)
	c = e2.open(b.client(t, key), nil)
	if err := c.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = e2.open(&frozenRecent{API: b.client(t, key)}, nil)
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(e2.reviewIDs()); got != 10 || b.showCalls() != 20 {
		t.Errorf("after the crash: %d reviews landed after %d show calls, want 10 after 20", got, b.showCalls())
	}
}

// frozenRecent answers recent reviews with the list the replay gave first.
type frozenRecent struct {
	API
	list []source.Review
}

func (f *frozenRecent) RecentReviews(ctx context.Context) ([]source.Review, error) {
	if f.list == nil {
		var err error
		if f.list, err = f.API.RecentReviews(ctx); err != nil {
			return nil, err
		}
		// The replay moved on; ask for the first window again.
		f.list = f.list[len(f.list)-10:]
	}
	return f.list, nil
}

func TestCaptureSkipsNotFoundAndMalformed(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 10})
	// The first window's ids (this call moves the replay's window on by the step).
	rs, err := source.ParseRecent(get(t, a.srv.URL+"/review/recent_reviews.xml?key="+key))
	if err != nil {
		t.Fatal(err)
	}
	// The capture's window overlaps the first one but for its oldest
	// entries: pick the newest three.
	notFound, malformed, flaky := rs[0].ID, rs[1].ID, rs[2].ID
	a.faults[notFound] = func(w http.ResponseWriter) { http.Error(w, "not found", 404) }
	a.faults[malformed] = func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/xml")
		w.Write([]byte("<GoodreadsResponse><review><id>" + malformed + "</id><body><![CDATA[cut"))
	}
	flakyCalls := 0
	a.faults[flaky] = func(w http.ResponseWriter) {
		flakyCalls++
		if flakyCalls == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", 429)
			return
		}
		a.replay.ServeHTTP(w, httptest.NewRequest("GET", "/review/show.xml?id="+flaky+"&key="+key, nil))
	}
	e := newEnv(t)
	c := e.open(a.client(t, key), nil)
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := e.reviewIDs()
	has := func(id string) bool {
		return sort.SearchStrings(ids, id) < len(ids) && ids[sort.SearchStrings(ids, id)] == id
	}
	if has(notFound) || has(malformed) || !has(flaky) {
		t.Errorf("landed %v: want %s (404) and %s (malformed) skipped, %s (429 once) captured", ids, notFound, malformed, flaky)
	}
	if len(ids) != 8 {
		t.Errorf("%d landed, want 8 of 10", len(ids))
	}
	log := e.log.String()
	for _, want := range []string{"review not found (404); skipped\" review_id=" + notFound, "malformed answer for a review; skipped\" review_id=" + malformed} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if s := c.Stats(); s.Skipped != 2 || s.Fetched != 8 {
		t.Errorf("stats %+v", s)
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.Bytes()
}

func TestCaptureWrongKeyStops(t *testing.T) {
	a := newAPI(t, nil)
	e := newEnv(t)
	c := e.open(a.client(t, "wrong-key"), func(o *Options) { o.Every = time.Minute })
	err := c.Run(context.Background())
	if !errors.Is(err, source.ErrUnauthorized) || !errors.Is(err, grpipe.ErrBadInput) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong-key") || strings.Contains(e.log.String(), "wrong-key") {
		t.Errorf("the key shows in the error or the log: %v\n%s", err, e.log.String())
	}
	if c.Stats().Polls != 1 {
		t.Errorf("%d polls: a 401 stops the loop at once", c.Stats().Polls)
	}
}

func TestCaptureRunEveryUntil(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 20, Step: 5})
	e := newEnv(t)
	start := e.clock.Now()
	c := e.open(a.client(t, key), func(o *Options) {
		o.Every = time.Minute
		o.Until = start.Add(10 * time.Minute)
		o.FlushEvery = 3 * time.Minute
	})
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := c.Stats()
	// Polls at minutes 0..9: 20 + 9·5 reviews.
	if s.Polls != 10 || s.Fetched != 65 || s.Landed != 65 {
		t.Errorf("stats %+v, want 10 polls, 65 fetched and landed", s)
	}
	// Flushes when the oldest spooled row is 3 minutes old: after the polls
	// at minute 3 (rows since 0) and 7 (rows since 4), and at the end (rows since 8).
	if s.Batches != 3 {
		t.Errorf("%d batches, want 3", s.Batches)
	}
	if !e.clock.Now().Equal(start.Add(10 * time.Minute)) {
		t.Errorf("stopped at %v, want %v", e.clock.Now(), start.Add(10*time.Minute))
	}
	if got := len(e.reviewIDs()); got != 65 {
		t.Errorf("%d reviews landed, want 65", got)
	}
}

func TestCaptureFlushBetweenPolls(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 20, Step: 5})
	e := newEnv(t)
	start := e.clock.Now()
	c := e.open(a.client(t, key), func(o *Options) {
		o.Every = time.Minute
		o.Until = start.Add(4 * time.Minute)
		o.FlushEvery = 90 * time.Second
	})
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Polls at 0, 1, 2, 3 minutes; flushes 90s after the oldest spooled row:
	// at 1:30 (polls 0 and 1) and 3:30 (polls 2 and 3); nothing left at 4:00.
	var names []string
	for name := range e.landed()["reviews"] {
		names = append(names, name)
	}
	sort.Strings(names)
	want := []string{"reviews-20261127T030130.000000Z.csv", "reviews-20261127T030330.000000Z.csv"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("batches %v, want %v", names, want)
	}
	if s := c.Stats(); s.Polls != 4 || s.Landed != 35 {
		t.Errorf("stats %+v, want 4 polls, 35 landed", s)
	}
}

func TestCaptureFlushFailureIsRetried(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 20, Step: 5})
	e := newEnv(t)
	// The landing folder cannot be created: a file stands in its way.
	landing := filepath.Join(e.dir, "zones", "landing")
	if err := os.WriteFile(landing, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := e.clock.Now()
	c := e.open(a.client(t, key), func(o *Options) {
		o.Every = time.Minute
		o.Until = start.Add(5 * time.Minute)
		o.FlushEvery = 30 * time.Second
	})
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "final flush") || !strings.Contains(err.Error(), "will be fetched again") {
			t.Errorf("err = %v, want the final flush's failure", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return: a failing flush must not spin")
	}
	if s := c.Stats(); s.Polls != 5 || s.Landed != 0 || s.Unlanded != 40 {
		t.Errorf("stats %+v, want 5 polls, nothing landed, 40 unlanded", s)
	}
	if n := strings.Count(e.log.String(), "flush failed"); n < 2 || n > 6 {
		t.Errorf("%d failed flushes logged, want one a minute", n)
	}
}

func TestCaptureFlushRows(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 20})
	e := newEnv(t)
	c := e.open(a.client(t, key), func(o *Options) { o.FlushRows = 7 })
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	landed := e.landed()
	var sizes []int
	for _, rows := range landed["reviews"] {
		sizes = append(sizes, len(rows)-1)
	}
	sort.Ints(sizes)
	if !reflect.DeepEqual(sizes, []int{6, 7, 7}) {
		t.Errorf("batch sizes %v, want 7, 7 and the last 6", sizes)
	}
	for _, p := range []string{"user", "author", "book"} {
		if len(landed[p]) != 3 {
			t.Errorf("%d %s batch files, want 3", len(landed[p]), p)
		}
	}
}

func TestCaptureCancelFlushes(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 20})
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// SIGTERM arrives during the first poll, after 12 reviews were fetched.
	c := e.open(&cancelAfter{Client: a.client(t, key), n: 12, cancel: cancel}, func(o *Options) { o.Every = time.Hour })
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(e.reviewIDs()); got != 12 {
		t.Errorf("%d reviews landed after the cancel, want the 12 spooled", got)
	}
	if s := c.Stats(); s.Polls != 1 || s.Landed != 12 {
		t.Errorf("stats %+v, want 1 poll, 12 landed", s)
	}
}

// cancelAfter cancels the capture's context after n reviews were fetched.
type cancelAfter struct {
	*source.Client
	n      int
	cancel func()
}

func (c *cancelAfter) Review(ctx context.Context, id int64) (*source.Review, error) {
	r, err := c.Client.Review(ctx, id)
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return r, err
}

func TestCaptureOneAtATime(t *testing.T) {
	a := newAPI(t, nil)
	e := newEnv(t)
	e.open(a.client(t, key), nil)
	_, err := Open(context.Background(), a.client(t, key), e.zones, Options{Dir: filepath.Join(e.dir, "capture"), State: e.store})
	if !errors.Is(err, grpipe.ErrBusy) {
		t.Errorf("second capture on the same home: %v, want ErrBusy", err)
	}
}

func TestSpoolQuoting(t *testing.T) {
	dir := t.TempDir()
	s, _, err := openSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &source.Record{
		Review: []string{"1", "2", "3", "4", `he said "hi", then left`, "5", "0", "false", "none", "", "", "", "", "", "2026-11-27 03:00:00.000000"},
		User:   []string{"2", "a,b", " lead", "", "", "", "", "", "", "2026-11-27 03:00:00.000000"},
		Author: []string{"4", "x", "", "", "", "", "", "2026-11-27 03:00:00.000000"},
		Book:   []string{"3", "t", "", "", "", "", "", "", "", "", "", "", "", "", "d", "4", "", "2026-11-27 03:00:00.000000"},
	}
	if err := s.add(rec); err != nil {
		t.Fatal(err)
	}
	paths, err := s.sync()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(paths["reviews"])
	if !strings.Contains(string(b), `,"he said ""hi"", then left",`) {
		t.Errorf("reviews spool: %s", b)
	}
	b, _ = os.ReadFile(paths["users"])
	if !strings.Contains(string(b), `2,"a,b"," lead",`) {
		t.Errorf("users spool: %s", b)
	}
	s.close()
}

// downAPI lists reviews but fails every detail call with a network-like error.
type downAPI struct {
	list  []source.Review
	calls int
}

func (d *downAPI) RecentReviews(context.Context) ([]source.Review, error) { return d.list, nil }

func (d *downAPI) Review(_ context.Context, id int64) (*source.Review, error) {
	d.calls++
	return nil, errors.New("GET http://api/review/show.xml: connection refused")
}

func TestCapturePollStopsWhenTheAPIIsDown(t *testing.T) {
	d := &downAPI{}
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		d.list = append(d.list, source.Review{ID: id, DateUpdated: "v1"})
	}
	e := newEnv(t)
	c := e.open(d, nil)
	err := c.Run(context.Background())
	if !errors.Is(err, errAPIDown) {
		t.Fatalf("err = %v, want errAPIDown", err)
	}
	if d.calls != 3 {
		t.Errorf("%d detail calls, want the poll to stop after 3 failures in a row", d.calls)
	}
	if s := c.Stats(); s.Failed != 3 || s.Landed != 0 {
		t.Errorf("stats %+v", s)
	}
	if !strings.Contains(e.log.String(), "review_id=3") {
		t.Errorf("the failures were not logged with their review ids:\n%s", e.log.String())
	}
}
