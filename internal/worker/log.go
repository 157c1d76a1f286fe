package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
)

// teeHandler sends every record to the process log and to a try's log.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.a.Enabled(ctx, l) || h.b.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if h.a.Enabled(ctx, r.Level) {
		errs = append(errs, h.a.Handle(ctx, r.Clone()))
	}
	if h.b.Enabled(ctx, r.Level) {
		errs = append(errs, h.b.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{a: h.a.WithAttrs(as), b: h.b.WithAttrs(as)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{a: h.a.WithGroup(name), b: h.b.WithGroup(name)}
}

// lockedWriter serialises writes from concurrent goroutines of one try.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
