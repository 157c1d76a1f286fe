package dag

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// detaching is an executor whose try of b goes on elsewhere: it returns
// ErrDetached once ctx ends, as the distributed executor does when its
// scheduler stops.
type detaching struct{ Local }

func (x *detaching) Run(ctx context.Context, t Try) Result {
	if t.TaskID != "b" {
		return x.Local.Run(ctx, t)
	}
	<-ctx.Done()
	now := time.Now()
	return Result{Started: now, Ended: now, Err: fmt.Errorf("%w: %w", ErrDetached, ctx.Err())}
}

// A try the executor detaches from is not recorded ended, not retried, and
// its task and the downstream end queued, for a later execution to wait for.
func TestDetachedTry(t *testing.T) {
	d, _ := chain(nil)
	d.Retry = &RetryPolicy{Retries: 3, Delay: time.Millisecond}
	var mu sync.Mutex
	var ends []TaskResult
	started := make(chan struct{}, 3)
	stop := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{
		Executor: &detaching{},
		Stop:     stop,
		OnStart:  func(id string, try int, at time.Time) { started <- struct{}{} },
		OnEnd:    func(res TaskResult) { mu.Lock(); ends = append(ends, res); mu.Unlock() },
	}
	go func() {
		<-started // a
		<-started // b
		close(stop)
		cancel()
	}()
	rs, err := r.Execute(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	m := byID(rs)
	if b := m["b"]; b.State != grpipe.StateQueued || !b.Detached || b.Try != 1 {
		t.Fatalf("b: %+v", b)
	}
	if c := m["c"]; c.State != grpipe.StateQueued {
		t.Fatalf("c: %+v", c)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range ends {
		if e.TaskID == "b" {
			t.Fatalf("the detached try was recorded ended: %+v", e)
		}
	}
}
