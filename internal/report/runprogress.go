package report

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/pipeline"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// RunProgress shows how a run advances (`grpipe run`). It writes one line
// per step of the ETL when the step ends (claim, transform, the staging and
// upsert of each table: bytes, rows, time, bytes and rows per second) and
// one per task that ends. On a terminal it also redraws, in place, a line
// for the running step: its bytes and rows per second, the time elapsed
// and, for the transform, the share done and an estimate of the time left.
//
// Whatever else goes to the same stream (the log) must be written through
// the RunProgress itself: it takes the live line away, writes, and draws it
// again at the next tick, so the two never mix.
type RunProgress struct {
	mu   sync.Mutex
	w    io.Writer
	live bool
	now  func() time.Time

	step           string
	total          int64 // bytes the step will read, 0 when unknown
	bytes, records int64
	start          time.Time
	shown          bool // the live line is on the screen

	quit, ended chan struct{}
}

var (
	_ pipeline.Progress = (*RunProgress)(nil)
	_ grpipe.Observer   = (*RunProgress)(nil)
)

// NewRunProgress writes to w; live draws the running step's line (a
// terminal). now is the clock (nil: time.Now). With live, Stop must be
// called at the end.
func NewRunProgress(w io.Writer, live bool, now func() time.Time) *RunProgress {
	if now == nil {
		now = time.Now
	}
	p := &RunProgress{w: w, live: live, now: now}
	if live {
		p.quit, p.ended = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(p.ended)
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-p.quit:
					return
				case <-t.C:
					p.mu.Lock()
					p.drawLocked()
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

// Stop takes the live line away and stops drawing it.
func (p *RunProgress) Stop() {
	if p.quit == nil {
		return
	}
	close(p.quit)
	<-p.ended
	p.quit = nil
	p.mu.Lock()
	p.clearLocked()
	p.mu.Unlock()
}

// Write writes b (a log record) above the live line.
func (p *RunProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	return p.w.Write(b)
}

// Started is told that a step starts.
func (p *RunProgress) Started(step string, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step, p.total, p.bytes, p.records, p.start = step, bytes, 0, 0, p.now()
}

// Advanced counts bytes and records of the running step.
func (p *RunProgress) Advanced(bytes, records int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += bytes
	p.records += records
}

// Ended writes the step's line.
func (p *RunProgress) Ended(step string, bytes, rows int64, took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	if p.step == step {
		p.step = ""
	}
	fmt.Fprintln(p.w, StepLine(step, bytes, rows, took))
}

// TaskEnded writes a line for each task that ends.
func (p *RunProgress) TaskEnded(_ context.Context, _ grpipe.Run, t grpipe.TaskSummary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	line := fmt.Sprintf("task %s: %s", t.TaskID, t.State)
	if !t.StartedAt.IsZero() && !t.EndedAt.IsZero() {
		line += " in " + roundDuration(t.EndedAt.Sub(t.StartedAt)).String()
	}
	if t.Error != "" {
		line += ": " + Clip(t.Error)
	}
	fmt.Fprintln(p.w, line)
}

// TaskRetry writes a line for each failed try that will be retried.
func (p *RunProgress) TaskRetry(_ context.Context, _ grpipe.Run, taskID string, try int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, "task %s: try %d failed, will be retried: %s\n", taskID, try, Clip(err.Error()))
}

// RunEnded writes nothing: the command prints the run's summary.
func (p *RunProgress) RunEnded(context.Context, *grpipe.RunSummary) {}

// StepLine is the line written when a step ends: its name, bytes, rows,
// time and rates.
func StepLine(step string, bytes, rows int64, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s", step)
	secs := took.Seconds()
	if bytes > 0 {
		fmt.Fprintf(&b, " %10s", Bytes(bytes))
	} else {
		fmt.Fprintf(&b, " %10s", "")
	}
	if rows > 0 {
		fmt.Fprintf(&b, " %14s rows", Count(rows))
	} else {
		fmt.Fprintf(&b, " %19s", "")
	}
	fmt.Fprintf(&b, " %8s", roundDuration(took))
	if secs >= 0.5 {
		if bytes > 0 {
			fmt.Fprintf(&b, "  %s/s", Bytes(int64(float64(bytes)/secs)))
		}
		if rows > 0 {
			fmt.Fprintf(&b, "  %s rows/s", Count(int64(float64(rows)/secs)))
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// liveLine is the running step's line.
func (p *RunProgress) liveLine() string {
	elapsed := p.now().Sub(p.start)
	secs := max(elapsed.Seconds(), 1e-3)
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s", p.step)
	switch {
	case p.total > 0 && p.bytes < p.total:
		frac := float64(p.bytes) / float64(p.total)
		const width = 20
		fill := int(frac * width)
		fmt.Fprintf(&b, " [%s%s] %3.0f%%  %s / %s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*frac, Bytes(p.bytes), Bytes(p.total))
	case p.total > 0:
		fmt.Fprintf(&b, " read %s; writing", Bytes(p.total))
	case p.bytes > 0:
		fmt.Fprintf(&b, " %s", Bytes(p.bytes))
	}
	if p.bytes > 0 && elapsed >= time.Second {
		fmt.Fprintf(&b, "  %s/s", Bytes(int64(float64(p.bytes)/secs)))
	}
	if p.records > 0 && elapsed >= time.Second {
		fmt.Fprintf(&b, "  %s rows/s", Count(int64(float64(p.records)/secs)))
	}
	fmt.Fprintf(&b, "  elapsed %s", roundDuration(elapsed))
	if p.total > 0 && p.bytes > 0 && p.bytes < p.total && elapsed >= 2*time.Second {
		left := time.Duration(float64(p.total-p.bytes) / (float64(p.bytes) / secs) * float64(time.Second))
		fmt.Fprintf(&b, "  ETA %s", left.Round(time.Second))
	}
	return b.String()
}

func (p *RunProgress) drawLocked() {
	if !p.live || p.step == "" {
		return
	}
	fmt.Fprint(p.w, "\r"+p.liveLine()+"\033[K")
	p.shown = true
}

func (p *RunProgress) clearLocked() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// roundDuration rounds d for display: 250ms, 1.2s, 2m3s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// Count writes n with thousands separators: 37,134,716.
func Count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
