package queue

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type leadLog struct {
	mu      sync.Mutex
	leading map[string]bool
	terms   []string
	// overlap is the longest time two led at once; since is when the
	// current overlap began.
	overlap time.Duration
	since   time.Time
}

func (l *leadLog) lead(name string) func(context.Context) {
	return func(ctx context.Context) {
		l.mu.Lock()
		l.leading[name] = true
		l.terms = append(l.terms, name)
		if len(l.leading) == 2 {
			l.since = time.Now()
		}
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		if len(l.leading) == 2 {
			l.overlap = max(l.overlap, time.Since(l.since))
		}
		delete(l.leading, name)
		l.mu.Unlock()
	}
}

func (l *leadLog) leader() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for n := range l.leading {
		return n
	}
	return ""
}

// One of three electors leads; when the leader stops, another takes over
// within a poll and they never overlap; when the server ends the leader's
// session, another takes over within a poll, and the old leader steps down
// within a poll of that (the window the database's own guards cover).
func TestElector(t *testing.T) {
	_, dsn := testPool(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	const poll = 100 * time.Millisecond
	l := &leadLog{leading: map[string]bool{}}
	cancels := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[name] = cancel
		e := &Elector{Config: cfg, Key: SchedulerLockKey, Poll: poll}
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.Run(ctx, l.lead(name)) }()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()
	waitFor(t, "a leader", 5*time.Second, func() bool { return l.leader() != "" })
	first := l.leader()

	// The leader stops: another takes over.
	t0 := time.Now()
	cancels[first]()
	waitFor(t, "a new leader", 5*time.Second, func() bool { n := l.leader(); return n != "" && n != first })
	t.Logf("takeover after the leader stopped: %s", time.Since(t0))
	l.mu.Lock()
	if l.overlap != 0 {
		t.Fatalf("a stopping leader overlapped its successor by %s", l.overlap)
	}
	l.mu.Unlock()
	second := l.leader()

	// The server ends the leader's session (as when its machine vanishes):
	// it steps down and the third takes over.
	admin, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	t0 = time.Now()
	if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = ($1::bigint & 4294967295)::oid`, SchedulerLockKey); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the third leads alone", 5*time.Second, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		_, third := l.leading[second]
		return len(l.leading) == 1 && !third && !l.leading[first]
	})
	t.Logf("takeover after the session was terminated: %s", time.Since(t0))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.overlap > 3*poll {
		t.Fatalf("the old leader stepped down %s after its session ended: want within a poll (%s)", l.overlap, poll)
	}
}
