package dag

import (
	"context"
	"errors"
	"log/slog"
)

// TryLog is one try's log, as every executor keeps it: each record goes to
// the process's log and to the try's own log, which keeps its first and last
// 256 KiB (cappedLog) and, after 20 records of one message, only counts the
// next ones (repeatLimiter). It is safe for concurrent use.
type TryLog struct {
	*slog.Logger
	kept *cappedLog
}

// NewTryLog starts a try's log above base (the process's log; nil discards)
// with attrs on every record (run_id, task, try, ...).
func NewTryLog(base *slog.Logger, attrs ...any) *TryLog {
	if base == nil {
		base = slog.New(slog.DiscardHandler)
	}
	kept := &cappedLog{}
	h := newRepeatLimiter(teeHandler{a: base.Handler(), b: slog.NewTextHandler(kept, &slog.HandlerOptions{Level: slog.LevelDebug})})
	return &TryLog{Logger: slog.New(h).With(attrs...), kept: kept}
}

// End logs how many repeated records were left out and returns the log
// kept; call it once, when the try is over.
func (l *TryLog) End() string {
	if lim, ok := l.Handler().(*repeatLimiter); ok {
		lim.flush()
	}
	return l.kept.String()
}

// teeHandler sends every record to two handlers: the process log and the
// task's own log.
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
