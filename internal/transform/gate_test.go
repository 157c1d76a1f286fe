package transform

import (
	"runtime"
	"testing"
)

// TestWorkGate: while a dedup has reserved a place, one worker fewer
// validates (the next take waits until unreserve), and the predup pool keeps
// one free set of buffers fewer; with a single worker, reserve changes
// nothing.
func TestWorkGate(t *testing.T) {
	pool := &predupPool{max: 2}
	pool.put(pool.get(1 << 10))
	pool.put(pool.get(1 << 10))
	pool.put(&predupBuffers{arena: make([]byte, 0, 2<<10)})
	if len(pool.free) != 2 {
		t.Fatalf("%d free sets before the reserve, want 2", len(pool.free))
	}
	g := newWorkGate(2, pool)
	g.take()
	g.take()
	g.reserve()
	if len(pool.free) != 1 || cap(pool.free[0].arena) != 2<<10 {
		t.Fatalf("free sets during the reserve: %d, want the largest one only", len(pool.free))
	}
	g.give()
	took := make(chan struct{})
	go func() {
		g.take()
		close(took)
	}()
	for range 100 {
		runtime.Gosched()
	}
	select {
	case <-took:
		t.Fatal("a second worker validates beside the reserved place")
	default:
	}
	g.unreserve()
	<-took
	if g.active != 2 || pool.max != 2 {
		t.Fatalf("after unreserve: %d workers, the pool keeps %d; want 2 and 2", g.active, pool.max)
	}

	one := newWorkGate(1, pool)
	one.reserve()
	one.take() // would wait forever had reserve taken the only place
	one.give()
	one.unreserve()
}
