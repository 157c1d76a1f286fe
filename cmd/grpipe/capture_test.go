package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpipe/grpipe/internal/sample"
)

// startReplay runs `grpipe api-replay` in-process on a free loopback port
// and returns its base URL; the server stops when the test ends.
func startReplay(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := sample.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"api-replay", "--addr", "127.0.0.1:0", "--from", dir}, args...), pw, io.Discard, func(string) string { return "" }, hooks{})
		pw.Close()
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("api-replay exited %d", code)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("api-replay did not start: %v", err)
	}
	go io.Copy(io.Discard, pr)
	i := strings.Index(line, "http://")
	if i < 0 || !strings.Contains(line, "serving 60 reviews") {
		t.Fatalf("api-replay said %q", line)
	}
	return strings.TrimSpace(line[i:])
}

func TestCaptureThenRun(t *testing.T) {
	url := startReplay(t, "--key", "k1", "--recent", "1000", "--step", "15")
	home := t.TempDir()
	env := map[string]string{"GRPIPE_API_URL": url, "GRPIPE_API_KEY": "k1"}
	r := grpipeCmd(t, env, "--home", home, "capture", "--once", "--rate", "1000/s")
	if r.code != exitOK || !strings.Contains(r.stdout, "captured 60 reviews in 1 polls; landed 60 in 1 batches; skipped 0, failed 0") {
		t.Fatalf("capture: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	landing, _ := filepath.Glob(filepath.Join(home, "zones", "landing", "*.csv"))
	if len(landing) != 4 {
		t.Fatalf("landing holds %v, want the 4 batch files", landing)
	}
	// Again: the window moved 15 reviews on, into its second lap, where they
	// are new versions; the other 45 were captured in the same version.
	r = grpipeCmd(t, env, "--home", home, "capture", "--once", "--rate", "1000/s")
	if r.code != exitOK || !strings.Contains(r.stdout, "captured 15 reviews") {
		t.Fatalf("second capture: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := grpipeCmd(t, nil, "--home", home, "run"); r.code != exitOK {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	r = grpipeCmd(t, nil, "--home", home, "query", "--format", "csv",
		"SELECT (SELECT count(*) FROM goodreads_warehouse.reviews), (SELECT count(*) FROM goodreads_warehouse.users), (SELECT count(*) FROM goodreads_warehouse.books), (SELECT count(*) FROM goodreads_warehouse.authors)")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || lines[1] != "60,56,60,55" {
		t.Errorf("warehouse counts %q, want 60,56,60,55 (the sample's)", r.stdout)
	}
	// The 15 updated reviews hold their newer version (one minute later).
	r = grpipeCmd(t, nil, "--home", home, "query", "--format", "csv",
		"SELECT count(*) FROM goodreads_warehouse.reviews WHERE review_updated_date > review_added_date + INTERVAL 1 MINUTE")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || lines[1] == "0" {
		t.Errorf("no updated versions in the warehouse: %q", r.stdout)
	}
}

func TestCaptureRefusals(t *testing.T) {
	url := startReplay(t, "--key", "right-key")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		says string
	}{
		{"wrong key", map[string]string{"GRPIPE_API_KEY": "WRONG-secret"}, []string{"--api-url", url, "--once"}, exitUsage, "the API refused the key"},
		{"no url", map[string]string{"GRPIPE_API_KEY": "k"}, []string{"--once"}, exitUsage, "--api-url or GRPIPE_API_URL"},
		{"no key", nil, []string{"--api-url", url, "--once"}, exitUsage, "GRPIPE_API_KEY"},
		{"once and every", map[string]string{"GRPIPE_API_KEY": "k"}, []string{"--api-url", url, "--once", "--every", "1m"}, exitUsage, "exclude each other"},
		{"bad rate", map[string]string{"GRPIPE_API_KEY": "k"}, []string{"--api-url", url, "--once", "--rate", "fast"}, exitUsage, `--rate "fast"`},
		{"bad until", map[string]string{"GRPIPE_API_KEY": "k"}, []string{"--api-url", url, "--until", "soon"}, exitUsage, `--until "soon"`},
		{"bad url", map[string]string{"GRPIPE_API_KEY": "k"}, []string{"--api-url", "localhost:8090", "--once"}, exitUsage, "API URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := grpipeCmd(t, c.env, append([]string{"--home", t.TempDir(), "capture"}, c.args...)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.says) {
				t.Errorf("exit %d, want %d; stderr %q, want it to say %q", r.code, c.code, r.stderr, c.says)
			}
			if strings.Contains(r.stderr+r.stdout, "secret") {
				t.Errorf("the key shows: %s", r.stderr)
			}
		})
	}
}

func TestCaptureStopsOnCancel(t *testing.T) {
	// SIGTERM (the cancelled context) while capture waits between polls:
	// it flushes what it spooled, then exits 0.
	url := startReplay(t, "--recent", "10")
	home := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	polled := make(chan struct{})
	go func() {
		var out strings.Builder
		errOut := &signalWriter{match: "polled recent reviews", seen: polled}
		getenv := func(k string) string {
			return map[string]string{"GRPIPE_API_KEY": "k", "GRPIPE_API_URL": url}[k]
		}
		code := run(ctx, []string{"--home", home, "capture", "--every", "1h", "--rate", "1000/s"}, &out, errOut, getenv, hooks{})
		done <- result{code, out.String(), errOut.String()}
	}()
	select {
	case <-polled:
	case <-time.After(30 * time.Second):
		t.Fatal("the first poll did not finish in 30s")
	}
	cancel()
	r := <-done
	if r.code != exitOK || !strings.Contains(r.stdout, "landed 10 in 1 batches") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestAPIReplayRefuses(t *testing.T) {
	url := startReplay(t, "--key", "k", "--rate-limit", "1000/s")
	for path, want := range map[string]int{
		"/review/recent_reviews.xml?key=k":        200,
		"/review/recent_reviews.xml?key=other":    401,
		"/review/show.xml?id=3198455651&key=k":    200,
		"/review/show.xml?id=1&key=k":             404,
		"/review/show.xml?id=3198455651&key=nope": 401,
	} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	r := grpipeCmd(t, nil, "api-replay", "--from", t.TempDir(), "--addr", "127.0.0.1:0")
	if r.code != exitUsage || !strings.Contains(r.stderr, "reviews.csv") {
		t.Errorf("empty folder: exit %d, %q", r.code, r.stderr)
	}
}

// signalWriter collects a log and closes seen when a line contains match.
type signalWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	match string
	seen  chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.match) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
