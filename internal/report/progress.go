package report

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Progress draws a progress bar on a terminal: bytes, rate and, when the
// total is known, the share done and the time left. It draws nothing when
// its stream is not a terminal.
type Progress struct {
	w     io.Writer
	total int64 // expected bytes, 0 when unknown
	done  atomic.Int64
	start time.Time
	quit  chan struct{}
	ended chan struct{}
}

// NewProgress starts a progress bar on w for total bytes (0: unknown).
func NewProgress(w io.Writer, total int64) *Progress {
	p := &Progress{w: w, total: total, start: time.Now()}
	if !IsTerminal(w) {
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

// Bar returns, for a job that reports progress (fake.Job, bench), a
// function that starts a progress bar on w for total bytes and returns its
// callback and a function that ends it.
func Bar(w io.Writer) func(total int64) (func(int64), func()) {
	return func(total int64) (func(int64), func()) {
		p := NewProgress(w, total)
		return p.Add, p.Stop
	}
}

// Add counts n more bytes done.
func (p *Progress) Add(n int64) { p.done.Add(n) }

// Done returns the bytes counted so far.
func (p *Progress) Done() int64 { return p.done.Load() }

// Stop erases the bar.
func (p *Progress) Stop() {
	if p.quit != nil {
		close(p.quit)
		<-p.ended
		p.quit = nil
	}
}

func (p *Progress) draw() {
	done := p.done.Load()
	secs := time.Since(p.start).Seconds()
	rate := float64(done) / max(secs, 1e-3)
	line := fmt.Sprintf("\r%10s  %10s/s", Bytes(done), Bytes(int64(rate)))
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
		line = fmt.Sprintf("\r[%s] %3.0f%%  %10s / %s  %10s/s  ETA %s", bar, 100*frac, Bytes(done), Bytes(p.total), Bytes(int64(rate)), eta)
	}
	fmt.Fprint(p.w, line+"\033[K")
}

// Bytes formats n as 1.23 GB (powers of 1000).
func Bytes(n int64) string {
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
