package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/testsupport"
)

const testKey = "SEKRIT-key-123"

// scripted serves the answers in order (then the last one forever) and
// checks the key on every call.
type scripted struct {
	t       *testing.T
	mu      sync.Mutex
	answers []answer
	calls   int
}

type answer struct {
	status     int
	retryAfter string
	body       string
	delay      time.Duration
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.answers[min(s.calls, len(s.answers)-1)]
	s.calls++
	s.mu.Unlock()
	if got := r.URL.Query().Get("key"); got != testKey {
		s.t.Errorf("key %q sent, want %q", got, testKey)
	}
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

func (s *scripted) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func newTestClient(t *testing.T, h http.Handler, tune func(*Options)) (*Client, *testsupport.Clock) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	clock := testsupport.NewClock(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC))
	opts := &Options{Clock: clock, Jitter: func() float64 { return 0.5 }, Timeout: 5 * time.Second}
	if tune != nil {
		tune(opts)
	}
	c, err := NewClient(srv.URL+"/", testKey, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, clock
}

func TestClientRetries(t *testing.T) {
	show := string(readTestdata(t, "show_basic.xml"))
	cases := []struct {
		name    string
		answers []answer
		sleeps  []time.Duration
	}{
		{"429 with Retry-After then 503 then ok", []answer{{status: 429, retryAfter: "7"}, {status: 503}, {status: 200, body: show}},
			// Retry-After honoured; then 1s·2^1 with jitter 0.5: 1s + 0.5s.
			[]time.Duration{7 * time.Second, 1500 * time.Millisecond}},
		{"503 three times then ok", []answer{{status: 503}, {status: 502}, {status: 500}, {status: 200, body: show}},
			// 1s·2^n with jitter 0.5 (¾ of it); after the first, 250ms more to keep 1 call/s.
			[]time.Duration{750 * time.Millisecond, 250 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}},
		{"429 with an HTTP date", []answer{{status: 429, retryAfter: "Fri, 27 Nov 2026 03:00:30 GMT"}, {status: 200, body: show}},
			[]time.Duration{30 * time.Second}},
		{"Retry-After capped", []answer{{status: 429, retryAfter: "86400"}, {status: 200, body: show}},
			[]time.Duration{2 * time.Minute}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := &scripted{t: t, answers: c.answers}
			cl, clock := newTestClient(t, srv, nil)
			r, err := cl.Review(context.Background(), 3198455651)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != "3198455651" {
				t.Errorf("review id %q", r.ID)
			}
			if got := clock.Sleeps(); !reflect.DeepEqual(got, c.sleeps) {
				t.Errorf("slept %v, want %v", got, c.sleeps)
			}
			if srv.Calls() != len(c.answers) {
				t.Errorf("%d calls, want %d", srv.Calls(), len(c.answers))
			}
		})
	}
}

func TestClientGivesUp(t *testing.T) {
	srv := &scripted{t: t, answers: []answer{{status: 503, body: "overloaded, key=" + testKey}}}
	cl, clock := newTestClient(t, srv, func(o *Options) { o.MaxRetries = 2 })
	_, err := cl.Review(context.Background(), 5)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("err = %v, want a 503 StatusError", err)
	}
	if !strings.Contains(err.Error(), "gave up after 3 tries") {
		t.Errorf("err = %q, want it to count the tries", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("the key shows in the error: %q", err)
	}
	want := []time.Duration{750 * time.Millisecond, 250 * time.Millisecond, 1500 * time.Millisecond}
	if srv.Calls() != 3 || !reflect.DeepEqual(clock.Sleeps(), want) {
		t.Errorf("%d calls, slept %v; want 3 calls, slept %v", srv.Calls(), clock.Sleeps(), want)
	}
}

func TestClientRefusals(t *testing.T) {
	cases := []struct {
		name   string
		answer answer
		is     error
		says   string
	}{
		{"401 is about the key", answer{status: 401, body: "Invalid API key."}, ErrUnauthorized, "check the key given with --api-key or GRPIPE_API_KEY"},
		{"401 is bad input", answer{status: 401}, grpipe.ErrBadInput, "HTTP 401"},
		{"404 is not found", answer{status: 404, body: "review not found"}, grpipe.ErrNotFound, "review 77: GET "},
		{"malformed XML names the review", answer{status: 200, body: string(readTestdata(t, "show_truncated.xml"))}, ErrMalformed, "review 77: malformed answer"},
		{"an HTML page with 200", answer{status: 200, body: string(readTestdata(t, "show_html_page.xml"))}, ErrMalformed, "review 77"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := &scripted{t: t, answers: []answer{c.answer}}
			cl, clock := newTestClient(t, srv, nil)
			_, err := cl.Review(context.Background(), 77)
			if !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("err = %q, want it to say %q", err, c.says)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("the key shows in the error: %q", err)
			}
			if srv.Calls() != 1 || len(clock.Sleeps()) != 0 {
				t.Errorf("%d calls, %d sleeps: a refusal is not retried", srv.Calls(), len(clock.Sleeps()))
			}
		})
	}
}

func TestClientPacesCalls(t *testing.T) {
	srv := &scripted{t: t, answers: []answer{{status: 200, body: string(readTestdata(t, "recent.xml"))}}}
	cl, clock := newTestClient(t, srv, func(o *Options) { o.Rate = 2 })
	for range 4 {
		if _, err := cl.RecentReviews(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}
	if got := clock.Sleeps(); !reflect.DeepEqual(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
	if cl.Calls() != 4 {
		t.Errorf("Calls() = %d", cl.Calls())
	}
}

func TestClientTimeoutIsRetried(t *testing.T) {
	srv := &scripted{t: t, answers: []answer{{status: 200, delay: 2 * time.Second}, {status: 200, body: string(readTestdata(t, "recent.xml"))}}}
	cl, _ := newTestClient(t, srv, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	rs, err := cl.RecentReviews(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || srv.Calls() != 2 {
		t.Errorf("%d reviews after %d calls, want 3 after 2", len(rs), srv.Calls())
	}
}

func TestClientServerDownHidesKey(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	cl, err := NewClient(base, testKey, &Options{Clock: testsupport.NewClock(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.RecentReviews(context.Background())
	if err == nil {
		t.Fatal("no error from a server that is down")
	}
	if strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "review/recent_reviews.xml") {
		t.Errorf("err = %q: want the URL without the key", err)
	}
}

func TestClientCancel(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); w.WriteHeader(503) })
	cl, _ := newTestClient(t, h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cl.Review(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestNewClientSettings(t *testing.T) {
	for _, c := range []struct{ url, key, says string }{
		{"", "k", "--api-url"},
		{"ftp://example.com", "k", "GRPIPE_API_URL"},
		{"http://127.0.0.1:8090", "", "--api-key or GRPIPE_API_KEY"},
	} {
		_, err := NewClient(c.url, c.key, nil)
		if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("NewClient(%q, %q) = %v, want bad input saying %q", c.url, c.key, err, c.says)
		}
	}
}
