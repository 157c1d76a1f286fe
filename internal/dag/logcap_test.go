package dag

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

func TestCappedLogKeepsHeadAndTail(t *testing.T) {
	c := &cappedLog{}
	var total int
	for i := 0; i < 200_000; i++ {
		n, _ := fmt.Fprintf(c, "line %06d of a long log\n", i)
		total += n
	}
	got := c.String()
	if len(got) > logHead+logTail+200 {
		t.Fatalf("kept %d bytes of %d, more than %d", len(got), total, logHead+logTail+200)
	}
	if !strings.HasPrefix(got, "line 000000 ") || !strings.HasSuffix(got, "line 199999 of a long log\n") {
		t.Fatalf("head or tail lost: %.60q ... %.60q", got, got[len(got)-60:])
	}
	i := strings.Index(got, "[... ")
	j := strings.Index(got, " bytes of this log omitted")
	if i < 0 || j < 0 {
		t.Fatalf("no omission line in the kept log")
	}
	var omitted int
	fmt.Sscan(got[i+5:j], &omitted)
	kept := len(got) - len(got[strings.LastIndex(got[:j], "\n"):strings.Index(got[j:], "\n")+j+1])
	if omitted+kept != total {
		t.Fatalf("omitted %d + kept %d != written %d", omitted, kept, total)
	}
	// The tail starts at a line start.
	after := got[strings.Index(got[j:], "\n")+j+1:]
	if !strings.HasPrefix(after, "line ") {
		t.Fatalf("the kept tail starts mid-line: %.40q", after)
	}
	small := &cappedLog{}
	small.Write([]byte("short\n"))
	if small.String() != "short\n" {
		t.Fatalf("a short log: %q", small.String())
	}
}

// Defect 4: a task that logs the same warning a hundred thousand times
// stores (and sends to the process log) twenty of them and one line
// counting the rest.
func TestRepeatedWarningsSummarised(t *testing.T) {
	var proc bytes.Buffer
	l := &Local{
		Work: map[string]Func{"T": func(ctx context.Context, c *Call) error {
			for i := 0; i < 100_000; i++ {
				c.Log.Warn("unknown column ignored", "column", fmt.Sprintf("c%d", i))
			}
			c.Log.Info("done")
			return nil
		}},
		Log: slog.New(slog.NewTextHandler(&proc, nil)),
	}
	res := l.Run(context.Background(), Try{Run: grpipe.Run{RunID: "manual__x"}, TaskID: "T", Number: 1, Timeout: time.Minute})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for what, out := range map[string]string{"stored log": res.Log, "process log": proc.String()} {
		if n := strings.Count(out, `msg="unknown column ignored"`); n != maxRepeats {
			t.Errorf("%s: %d warnings shown, want %d", what, n, maxRepeats)
		}
		if !strings.Contains(out, "unknown column ignored: repeated 99980 more times, not shown") || !strings.Contains(out, "msg=done") {
			t.Errorf("%s lacks the count or the later records:\n%.2000s", what, out)
		}
		if len(out) > 20_000 {
			t.Errorf("%s is %d bytes", what, len(out))
		}
	}
}

// Defect 4: a try that logs without end (each record different, so the
// repeat limit does not apply) stores its first and last 256 KiB and a line
// counting what lies between, not everything it wrote.
func TestTryLogKeepsHeadAndTail(t *testing.T) {
	const records = 60_000
	l := &Local{Work: map[string]Func{"T": func(ctx context.Context, c *Call) error {
		for i := range records {
			c.Log.Warn(fmt.Sprintf("row %06d: value out of range", i), "column", "rating")
		}
		return nil
	}}}
	res := l.Run(context.Background(), Try{Run: grpipe.Run{RunID: "manual__x"}, TaskID: "T", Number: 1, Timeout: time.Minute})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Log) > logHead+logTail+200 {
		t.Fatalf("the stored log is %d bytes, more than its first %d and last %d", len(res.Log), logHead, logTail)
	}
	first, last := `msg="row 000000: value out of range"`, fmt.Sprintf(`msg="row %06d: value out of range"`, records-1)
	if !strings.Contains(res.Log[:logHead], first) || !strings.Contains(res.Log[len(res.Log)-logTail:], last) {
		t.Fatalf("the first or the last record is lost: %.200q ... %.200q", res.Log, res.Log[len(res.Log)-200:])
	}
	if !strings.Contains(res.Log, " bytes of this log omitted") || strings.Contains(res.Log, `msg="row 030000:`) {
		t.Fatalf("the middle of the log is kept, or its omission is not said")
	}
}

// TestTryLogConcurrent: goroutines of one try (a mapped instance's workers)
// log into one TryLog; every record reaches the process log, the kept log
// is bounded by the repeat limit, and End reports what it left out.
func TestTryLogConcurrent(t *testing.T) {
	var process bytes.Buffer
	var mu sync.Mutex
	base := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return process.Write(p)
	}), nil))
	log := NewTryLog(base, "run_id", "manual__x", "task", "t")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				log.Info("row", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	kept := log.End()
	if n := strings.Count(kept, "msg=row "); n != maxRepeats {
		t.Errorf("kept %d records, want %d:\n%s", n, maxRepeats, kept)
	}
	if !strings.Contains(kept, "row: repeated 20 more times, not shown") || !strings.Contains(kept, "run_id=manual__x") {
		t.Errorf("kept log:\n%s", kept)
	}
	if n := strings.Count(process.String(), "msg=row "); n != maxRepeats {
		t.Errorf("process log has %d records, want %d", n, maxRepeats)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
