package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Elector makes one of several processes the leader: the one that holds a
// PostgreSQL session advisory lock, on a connection of its own.
//
// PostgreSQL releases the lock the moment the holder's session ends: when
// its process dies its kernel closes the connection, and a standby, asking
// every Poll, takes over within Poll. When the holder's machine vanishes
// without closing the connection, the server finds the session dead through
// TCP keepalives (session settings: idle 10s, then 3 probes 5s apart), so
// the bound is then about 25s plus Poll. The leader checks its connection
// every Poll and stops leading as soon as a check fails.
//
// Leadership only decides who schedules: what must never happen twice (a run
// for an interval, a try on the queue, a try started) is guarded by the
// database itself, so two processes that both believe they lead for a moment
// cannot double anything.
type Elector struct {
	// Config is the connection to hold the lock on (a copy is used).
	Config *pgx.ConnConfig
	// Key is the advisory lock's key.
	Key int64
	// Poll is how often a standby asks for the lock and the leader checks
	// its connection (0: 2s).
	Poll time.Duration
	Log  *slog.Logger
}

// SchedulerLockKey is the advisory lock key of grpipe's scheduler leadership
// (the bytes of "grpipe-S").
const SchedulerLockKey int64 = 0x67727069_70652d53

// Run campaigns until ctx ends. Each time this process becomes the leader it
// calls lead with a context that ends when leadership is lost (or ctx ends),
// and waits for lead to return. Errors of lead are logged; Run returns nil
// when ctx ends.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	poll := e.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	log := e.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		conn, err := e.connect(ctx)
		if err == nil {
			var got bool
			got, err = tryLock(ctx, conn, e.Key, poll)
			if err == nil && got {
				log.Info("leading: this process schedules")
				e.hold(ctx, conn, poll, lead)
				log.Info("no longer leading")
			}
			conn.Close(context.WithoutCancel(ctx))
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("leader election: cannot reach the metadata database; retrying", "error", err)
		}
		if !sleep(ctx, poll) {
			return nil
		}
	}
}

// hold runs lead while the lock's connection answers.
func (e *Elector) hold(ctx context.Context, conn *pgx.Conn, poll time.Duration, lead func(context.Context)) {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(lctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	log := e.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, pcancel := context.WithTimeout(ctx, poll)
			var held bool
			err := conn.QueryRow(pctx, `SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted`).Scan(&held)
			pcancel()
			if err != nil || !held {
				if ctx.Err() == nil {
					log.Warn("lost the leader lock's connection: stepping down", "error", err)
				}
				return
			}
		}
	}
}

func (e *Elector) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := e.Config.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	for k, v := range keepalive() {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
	cfg.RuntimeParams["application_name"] = "grpipe scheduler election"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	return conn, nil
}

// keepalive returns the session settings that make the server find a
// vanished client's session dead within about 25 seconds.
func keepalive() map[string]string {
	return map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}
}

func tryLock(ctx context.Context, conn *pgx.Conn, key int64, timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		if errors.Is(err, context.Canceled) {
			return false, err
		}
		return false, fmt.Errorf("leader election: %w", err)
	}
	return got, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
