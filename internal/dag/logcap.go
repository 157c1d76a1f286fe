package dag

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Bounds of what one try's log keeps: a task that logs without end (a
// warning per row or per column of a hostile file) cannot fill the run
// store, the process's error output or a page.
const (
	// logHead and logTail are the bytes of a try's log kept from its start
	// and from its end; what lies between is counted, not kept.
	logHead = 256 << 10
	logTail = 256 << 10
	// maxRepeats is how many records with the same level and message a try
	// logs before the next ones are only counted (and reported at its end).
	maxRepeats = 20
)

// cappedLog keeps the first logHead and the last logTail bytes written to it.
type cappedLog struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte // a ring of logTail bytes once full
	next    int    // where the ring's next byte goes
	full    bool
	omitted int64
}

func (c *cappedLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	if room := logHead - len(c.head); room > 0 {
		take := min(room, len(p))
		c.head = append(c.head, p[:take]...)
		p = p[take:]
	}
	for len(p) > 0 {
		if !c.full {
			take := min(logTail-len(c.tail), len(p))
			c.tail = append(c.tail, p[:take]...)
			p = p[take:]
			if len(c.tail) == logTail {
				c.full = true
			}
			continue
		}
		// The ring is full: each byte written pushes out the oldest.
		take := min(logTail-c.next, len(p))
		c.omitted += int64(take)
		copy(c.tail[c.next:], p[:take])
		c.next = (c.next + take) % logTail
		p = p[take:]
	}
	return n, nil
}

// String returns the log kept: its start, a line saying how much was left
// out, and its end (from a line start).
func (c *cappedLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := c.tail
	if c.full {
		tail = append(append([]byte(nil), c.tail[c.next:]...), c.tail[:c.next]...)
	}
	if c.omitted == 0 {
		return string(c.head) + string(tail)
	}
	// Cut the tail at its first line start, so that no line shows half.
	cut := 0
	if i := strings.IndexByte(string(tail), '\n'); i >= 0 {
		cut = i + 1
	}
	omitted := c.omitted + int64(cut)
	return fmt.Sprintf("%s\n[... %d bytes of this log omitted: its first %d KiB and last %d KiB are kept ...]\n%s",
		c.head, omitted, logHead>>10, logTail>>10, tail[cut:])
}

// repeatLimiter passes the first maxRepeats records of each level and
// message to its handler and counts the others; flush logs how many of each
// were left out. Handlers derived by WithAttrs and WithGroup share the
// counts.
type repeatLimiter struct {
	h     slog.Handler
	state *repeatState
}

type repeatState struct {
	mu      sync.Mutex
	seen    map[string]int
	order   []string
	levels  map[string]slog.Level
	dropped map[string]int
}

func newRepeatLimiter(h slog.Handler) *repeatLimiter {
	return &repeatLimiter{h: h, state: &repeatState{seen: map[string]int{}, levels: map[string]slog.Level{}, dropped: map[string]int{}}}
}

func (r *repeatLimiter) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *repeatLimiter) Handle(ctx context.Context, rec slog.Record) error {
	key := rec.Level.String() + "\x00" + rec.Message
	s := r.state
	s.mu.Lock()
	s.seen[key]++
	over := s.seen[key] > maxRepeats
	if over {
		if s.dropped[key] == 0 {
			s.order = append(s.order, key)
			s.levels[key] = rec.Level
		}
		s.dropped[key]++
	}
	s.mu.Unlock()
	if over {
		return nil
	}
	return r.h.Handle(ctx, rec)
}

func (r *repeatLimiter) WithAttrs(as []slog.Attr) slog.Handler {
	return &repeatLimiter{h: r.h.WithAttrs(as), state: r.state}
}

func (r *repeatLimiter) WithGroup(name string) slog.Handler {
	return &repeatLimiter{h: r.h.WithGroup(name), state: r.state}
}

// flush logs, through the wrapped handler (with r's attributes), one record
// per message whose repeats were left out, saying how many.
func (r *repeatLimiter) flush() {
	s := r.state
	s.mu.Lock()
	type left struct {
		level slog.Level
		msg   string
		n     int
	}
	var out []left
	for _, key := range s.order {
		_, msg, _ := strings.Cut(key, "\x00")
		out = append(out, left{s.levels[key], msg, s.dropped[key]})
	}
	s.mu.Unlock()
	for _, l := range out {
		rec := slog.NewRecord(time.Now(), l.level, fmt.Sprintf("%s: repeated %d more times, not shown", l.msg, l.n), 0)
		_ = r.h.Handle(context.Background(), rec)
	}
}
