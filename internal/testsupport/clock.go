// Package testsupport holds the fixtures grpipe's tests share: a test home
// (Home: config, zones, warehouse, run store and pipeline in a temporary
// folder), a fake clock (Clock) and a warehouse snapshot (Snapshot). It is
// imported by _test.go files only.
//
// A test that needs a home, a clock or a picture of the warehouse takes it
// from here; a new fixture that two packages' tests need goes here too.
package testsupport

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock: time moves only when a test sets it (Set, Advance)
// or code under test sleeps on it (Sleep moves it by the slept duration at
// once). It satisfies the clock interfaces of the scheduler (Now, After),
// the API client and capture (Now, Sleep).
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []time.Duration
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the time once the clock reaches now+d.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Sleep moves the clock by d at once and records d (see Sleeps); it returns
// ctx's error when ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.set(c.now.Add(d))
	return nil
}

// Sleeps returns the durations slept so far, in order.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// Set moves the clock to t and fires the timers (After) that are due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t)
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(c.now.Add(d))
}

func (c *Clock) set(t time.Time) {
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}
