package dag

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// chain is a -> b -> c, and a local executor with the given work for b.
func chain(b Func) (*DAG, *Local) {
	return &DAG{ID: "t", Tasks: []Task{
		{ID: "a"},
		{ID: "b", Upstream: []string{"a"}},
		{ID: "c", Upstream: []string{"b"}},
	}}, &Local{Work: map[string]Func{"b": b}}
}

func byID(rs []TaskResult) map[string]TaskResult {
	m := map[string]TaskResult{}
	for _, r := range rs {
		m[r.TaskID] = r
	}
	return m
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{Retries: 5, Delay: time.Second, MaxDelay: 5 * time.Second}
	for next, want := range map[int]time.Duration{2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second, 5: 5 * time.Second, 9: 5 * time.Second} {
		if got := p.Backoff(next); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", next, got, want)
		}
	}
}

func TestRetriesWithBackoff(t *testing.T) {
	calls := 0
	d, x := chain(func(ctx context.Context, c *Call) error {
		calls++
		c.Log.Info("working", "try_seen", c.Number)
		if calls < 3 {
			return errors.New("server down")
		}
		return nil
	})
	d.Retry = &RetryPolicy{Retries: 2, Delay: time.Second, MaxDelay: time.Minute}
	var waits []time.Duration
	var ends []TaskResult
	var mu sync.Mutex
	r := &Runner{
		Executor: x,
		Sleep:    func(ctx context.Context, w time.Duration) error { waits = append(waits, w); return nil },
		OnEnd:    func(res TaskResult) { mu.Lock(); ends = append(ends, res); mu.Unlock() },
	}
	rs, err := r.Execute(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	b := byID(rs)["b"]
	if b.State != grpipe.StateSuccess || b.Try != 3 || b.Tries != 3 {
		t.Errorf("b: state %s try %d tries %d, want success on try 3", b.State, b.Try, b.Tries)
	}
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Errorf("waits %v, want [1s 2s]", waits)
	}
	var bTries []string
	for _, e := range ends {
		if e.TaskID == "b" {
			bTries = append(bTries, string(e.State))
			if !strings.Contains(e.Log, "try_seen=") || !strings.Contains(e.Log, "try=") {
				t.Errorf("try %d log lacks the try: %q", e.Try, e.Log)
			}
		}
	}
	if strings.Join(bTries, ",") != "up_for_retry,failed,up_for_retry,failed,success" {
		t.Errorf("b's tries ended %v", bTries)
	}
	if byID(rs)["c"].State != grpipe.StateSuccess {
		t.Errorf("c did not run after b's retry succeeded")
	}
}

func TestRetriesSpentAndNotRetryable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		taskRetry *RetryPolicy
		wantCalls int
	}{
		{"spent", errors.New("still down"), nil, 3},
		{"per-task override", errors.New("still down"), &RetryPolicy{Retries: 0}, 1},
		{"not retryable", grpipe.ErrBadInput, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			d, x := chain(func(ctx context.Context, c *Call) error { calls++; return tc.err })
			d.Retry = &RetryPolicy{Retries: 2, Delay: time.Millisecond}
			d.Tasks[1].Retry = tc.taskRetry
			r := &Runner{Executor: x, Retryable: func(err error) bool { return !errors.Is(err, grpipe.ErrBadInput) }}
			rs, err := r.Execute(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			m := byID(rs)
			if calls != tc.wantCalls || m["b"].State != grpipe.StateFailed || m["b"].Try != tc.wantCalls {
				t.Errorf("calls %d, b %s try %d; want %d calls and failed", calls, m["b"].State, m["b"].Try, tc.wantCalls)
			}
			if m["c"].State != grpipe.StateUpstreamFailed {
				t.Errorf("c is %s, want upstream_failed", m["c"].State)
			}
		})
	}
}

func TestTimeoutReachesTheTask(t *testing.T) {
	d, x := chain(func(ctx context.Context, c *Call) error {
		<-ctx.Done() // like a SQL statement or an object-store call
		return ctx.Err()
	})
	d.Tasks[1].Timeout = 20 * time.Millisecond
	rs, err := (&Runner{Executor: x}).Execute(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	b := byID(rs)["b"]
	if b.State != grpipe.StateFailed || !strings.Contains(b.Err.Error(), "timed out after 20ms") {
		t.Errorf("b: %s %v", b.State, b.Err)
	}
}

func TestBlockedAndPrior(t *testing.T) {
	ran := map[string]bool{}
	var mu sync.Mutex
	work := func(id string) Func {
		return func(ctx context.Context, c *Call) error { mu.Lock(); ran[id] = true; mu.Unlock(); return nil }
	}
	d := &DAG{ID: "t", Tasks: []Task{
		{ID: "a"},
		{ID: "b", Upstream: []string{"a"}},
		{ID: "c", Upstream: []string{"b"}},
		{ID: "d", Upstream: []string{"a"}},
	}}
	x := &Local{Work: map[string]Func{"a": work("a"), "b": work("b"), "c": work("c"), "d": work("d")}}
	var started []int
	r := &Runner{
		Executor: x,
		Prior:    map[string]TaskResult{"a": {State: grpipe.StateSuccess, Try: 1}},
		FirstTry: func(id string) int { return map[string]int{"d": 3}[id] },
		Blocked: func(ctx context.Context, id string) (string, error) {
			if id == "b" {
				return "depends_on_past: b failed last time", nil
			}
			return "", nil
		},
		OnStart: func(id string, try int, at time.Time) { mu.Lock(); started = append(started, try); mu.Unlock() },
	}
	rs, err := r.Execute(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	m := byID(rs)
	if ran["a"] || ran["b"] || ran["c"] || !ran["d"] {
		t.Errorf("ran %v: want only d (a is prior, b blocked, c waits on b)", ran)
	}
	if m["b"].State != grpipe.StateQueued || !strings.Contains(m["b"].Err.Error(), "depends_on_past") {
		t.Errorf("b: %s %v", m["b"].State, m["b"].Err)
	}
	if m["c"].State != grpipe.StateQueued || !strings.Contains(m["c"].Err.Error(), "waiting for upstream task b") {
		t.Errorf("c: %s %v", m["c"].State, m["c"].Err)
	}
	if m["d"].Try != 3 || len(started) != 1 || started[0] != 3 {
		t.Errorf("d ran as try %d (starts %v), want try 3", m["d"].Try, started)
	}
}

func TestStopLetsTheRunningTaskFinish(t *testing.T) {
	stop := make(chan struct{})
	inB := make(chan struct{})
	d, x := chain(func(ctx context.Context, c *Call) error {
		close(inB)
		time.Sleep(30 * time.Millisecond) // still running when stop closes
		return ctx.Err()
	})
	go func() { <-inB; close(stop) }()
	rs, err := (&Runner{Executor: x, Stop: stop}).Execute(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	m := byID(rs)
	if m["b"].State != grpipe.StateSuccess {
		t.Errorf("b was cut: %s %v", m["b"].State, m["b"].Err)
	}
	if m["c"].State != grpipe.StateQueued || !strings.Contains(m["c"].Err.Error(), "shutting down") {
		t.Errorf("c: %s %v, want queued (not started)", m["c"].State, m["c"].Err)
	}
}

func TestStopAfterGraceCancelsAndQueues(t *testing.T) {
	stop := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	d, x := chain(func(tctx context.Context, c *Call) error {
		close(stop) // SIGTERM arrives...
		cancel()    // ...and the grace period ends
		<-tctx.Done()
		return tctx.Err()
	})
	d.Retry = &RetryPolicy{Retries: 2}
	rs, err := (&Runner{Executor: x, Stop: stop}).Execute(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	b := byID(rs)["b"]
	if b.State != grpipe.StateQueued || b.Tries != 1 || !strings.Contains(b.Err.Error(), "interrupted by shutdown") {
		t.Errorf("b: %s tries %d %v, want queued after one try", b.State, b.Tries, b.Err)
	}
}
