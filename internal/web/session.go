package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// Login settings.
const (
	// defaultSessionTTL is how long a login lasts unless Options say otherwise.
	defaultSessionTTL = 12 * time.Hour
	// maxSessions bounds the sessions held; the oldest go first.
	maxSessions = 10000
	// maxFailedLogins wrong tokens (form or bearer) from one address within
	// failedLoginWindow block that address until the window ends.
	maxFailedLogins   = 5
	failedLoginWindow = time.Minute
	// maxTrackedClients bounds the addresses the limiter remembers.
	maxTrackedClients = 10000
)

// sessions are the live logins: random ids, each with an expiry, held only
// in this process (a restart logs everyone out). Ids are kept as SHA-256
// hashes, so the table holds nothing a cookie could be made from.
type sessions struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	expires map[[sha256.Size]byte]time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, expires: map[[sha256.Size]byte]time.Time{}}
}

// create starts a session and returns its id (32 random bytes, hex).
func (s *sessions) create() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return short)
	id := hex.EncodeToString(b)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.expires) >= maxSessions {
		s.pruneLocked(now)
	}
	s.expires[sha256.Sum256([]byte(id))] = now.Add(s.ttl)
	return id
}

// valid reports whether id names a live session.
func (s *sessions) valid(id string) bool {
	if id == "" {
		return false
	}
	k := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.expires[k]
	if ok && !now.Before(exp) {
		delete(s.expires, k)
		return false
	}
	return ok
}

// revoke ends the session id (a no-op for an unknown one).
func (s *sessions) revoke(id string) {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.expires, k)
}

// pruneLocked drops expired sessions and, if the table is still full, the
// one closest to its expiry.
func (s *sessions) pruneLocked(now time.Time) {
	var oldest [sha256.Size]byte
	var oldestExp time.Time
	for k, exp := range s.expires {
		if !now.Before(exp) {
			delete(s.expires, k)
			continue
		}
		if oldestExp.IsZero() || exp.Before(oldestExp) {
			oldest, oldestExp = k, exp
		}
	}
	if len(s.expires) >= maxSessions {
		delete(s.expires, oldest)
	}
}

// limiter counts failures per client address in fixed windows: max failures
// within window block the address until the window, begun at its first
// failure, ends.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	fails  map[string]*failures
}

type failures struct {
	n     int
	since time.Time
}

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, fails: map[string]*failures{}}
}

// overflow is the key shared by the addresses that arrive while the table is full.
const overflow = "*"

// entryLocked returns the failures counted for addr: its own, or, while the
// table is full and addr has none, those of every address left out.
func (l *limiter) entryLocked(addr string, now time.Time) (string, *failures) {
	if f, ok := l.fails[addr]; ok {
		if now.Before(f.since.Add(l.window)) {
			return addr, f
		}
		delete(l.fails, addr)
	}
	if len(l.fails) >= maxTrackedClients {
		for a, g := range l.fails {
			if !now.Before(g.since.Add(l.window)) {
				delete(l.fails, a)
			}
		}
	}
	if len(l.fails) >= maxTrackedClients {
		addr = overflow
		if f, ok := l.fails[overflow]; ok && now.Before(f.since.Add(l.window)) {
			return addr, f
		}
	}
	return addr, nil
}

// blocked reports whether addr is blocked, and for how long still.
func (l *limiter) blocked(addr string) (time.Duration, bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	_, f := l.entryLocked(addr, now)
	if f == nil || f.n < l.max {
		return 0, false
	}
	return f.since.Add(l.window).Sub(now), true
}

// fail records a failure of addr.
func (l *limiter) fail(addr string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k, f := l.entryLocked(addr, now)
	if f == nil {
		f = &failures{since: now}
		l.fails[k] = f
	}
	f.n++
}
