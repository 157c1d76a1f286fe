package report

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestRunProgressLines(t *testing.T) {
	var out bytes.Buffer
	clk := &fakeClock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	p := NewRunProgress(&out, false, clk.now)
	p.Started("transform", 11_420_000_000)
	p.Advanced(5_710_000_000, 18_000_000)
	clk.t = clk.t.Add(50 * time.Second)
	p.Ended("transform", 11_420_000_000, 37_134_716, 102560*time.Millisecond)
	p.Started("upsert reviews", 0)
	p.Ended("upsert reviews", 0, 6_049_074, 17560*time.Millisecond)
	p.Ended("claim", 11_420_000_000, 0, 2*time.Millisecond)
	t0 := clk.t
	p.TaskEnded(context.Background(), grpipe.Run{}, grpipe.TaskSummary{TaskID: "GoodReadsETLJob", State: grpipe.StateSuccess, StartedAt: t0, EndedAt: t0.Add(122 * time.Second)})
	p.TaskRetry(context.Background(), grpipe.Run{}, "Load_best_books", 1, errors.New("boom"))
	if _, err := p.Write([]byte("level=INFO msg=hello\n")); err != nil {
		t.Fatal(err)
	}
	want := `transform          11.42 GB     37,134,716 rows    1m43s  111.35 MB/s  362,077 rows/s
upsert reviews                   6,049,074 rows    17.6s  344,480 rows/s
claim              11.42 GB                          2ms
task GoodReadsETLJob: success in 2m2s
task Load_best_books: try 1 failed, will be retried: boom
level=INFO msg=hello
`
	if out.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", out.String(), want)
	}
	if strings.Contains(out.String(), "\r") {
		t.Errorf("a stream that is not a terminal got a live line")
	}
}

func TestRunProgressLiveLine(t *testing.T) {
	var out bytes.Buffer
	clk := &fakeClock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	p := &RunProgress{w: &out, live: true, now: clk.now} // no ticker: drawn by hand
	p.Started("transform", 10_000_000_000)
	p.Advanced(2_500_000_000, 8_000_000)
	clk.t = clk.t.Add(25 * time.Second)
	p.mu.Lock()
	p.drawLocked()
	p.mu.Unlock()
	want := "\rtransform        [=====               ]  25%  2.50 GB / 10.00 GB  100.00 MB/s  320,000 rows/s  elapsed 25s  ETA 1m15s\033[K"
	if out.String() != want {
		t.Errorf("live line:\n%q\nwant\n%q", out.String(), want)
	}
	// A log record takes the live line away first.
	out.Reset()
	p.Write([]byte("log\n"))
	if out.String() != "\r\033[Klog\n" {
		t.Errorf("log over the live line: %q", out.String())
	}
	// Validation done, DuckDB writing: no bar, no estimate.
	p.Advanced(7_500_000_000, 29_000_000)
	clk.t = clk.t.Add(75 * time.Second)
	out.Reset()
	p.mu.Lock()
	p.drawLocked()
	p.mu.Unlock()
	if !strings.Contains(out.String(), "read 10.00 GB; writing") || strings.Contains(out.String(), "ETA") || !strings.Contains(out.String(), "elapsed 1m40s") {
		t.Errorf("after validation: %q", out.String())
	}
	// The step's end replaces the live line with its summary line.
	out.Reset()
	p.Ended("transform", 10_000_000_000, 37_000_000, 100*time.Second)
	if !strings.HasPrefix(out.String(), "\r\033[Ktransform ") || !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("end of step: %q", out.String())
	}
	out.Reset()
	p.mu.Lock()
	p.drawLocked()
	p.mu.Unlock()
	if out.Len() != 0 {
		t.Errorf("a live line drawn with no step running: %q", out.String())
	}
}

func TestRunProgressStop(t *testing.T) {
	var out bytes.Buffer
	p := NewRunProgress(&out, true, nil)
	p.Started("stage reviews", 0)
	time.Sleep(600 * time.Millisecond)
	p.Stop()
	s := out.String()
	if !strings.Contains(s, "\rstage reviews") || !strings.HasSuffix(s, "\r\033[K") {
		t.Errorf("drawn then taken away: %q", s)
	}
	p.Stop() // a second Stop does nothing
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 37134716: "37,134,716", -4200: "-4,200"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
