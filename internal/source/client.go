package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// ErrUnauthorized reports that the API refused the key (401). It wraps
// grpipe.ErrBadInput: the key is a setting to fix, retrying does not help.
var ErrUnauthorized = fmt.Errorf("%w: the API refused the key", grpipe.ErrBadInput)

// Clock tells the time and sleeps; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the system clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Options tune a Client; the zero value (or nil) means the defaults.
type Options struct {
	// HTTPClient makes the calls (default: a client without its own timeout;
	// Timeout bounds each attempt).
	HTTPClient *http.Client
	// Rate is the most calls per second (default 1, the API's limit).
	Rate float64
	// Timeout bounds one attempt of one call (default 30s).
	Timeout time.Duration
	// MaxRetries is how many times a call is retried after a 429, a 5xx or
	// a network error (default 5; negative: never).
	MaxRetries int
	// BaseBackoff is the first retry's delay, doubled on each retry (default 1s).
	BaseBackoff time.Duration
	// MaxBackoff caps one retry's delay, Retry-After included (default 2m).
	MaxBackoff time.Duration
	// Clock tells the time and sleeps (default: the system clock).
	Clock Clock
	// Jitter returns a number in [0, 1) (default math/rand/v2).
	Jitter func() float64
	// Log receives retries (default: discarded).
	Log *slog.Logger
}

// Client calls the Goodreads XML API at a base URL with a key. It paces its
// calls to the rate, retries overload answers with exponential backoff and
// jitter (honouring Retry-After), and never shows the key in an error or a log.
type Client struct {
	base  *url.URL
	key   string
	opts  Options
	mu    sync.Mutex
	next  time.Time // earliest start of the next call
	calls int64
}

// NewClient returns a client for the API at baseURL (http or https) with key.
func NewClient(baseURL, key string, opts *Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: API URL %q: give the server's base URL, such as http://127.0.0.1:8090 (flag --api-url, env GRPIPE_API_URL)", grpipe.ErrBadInput, baseURL)
	}
	if key == "" {
		return nil, fmt.Errorf("%w: no API key: give one with --api-key or GRPIPE_API_KEY", grpipe.ErrBadInput)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment, u.User = "", "", nil
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Rate <= 0 {
		o.Rate = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 2 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Client{base: u, key: key, opts: o}, nil
}

// BaseURL returns the API's base URL (it never holds the key).
func (c *Client) BaseURL() string { return c.base.String() }

// Calls returns how many HTTP requests the client has made (retries included).
func (c *Client) Calls() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// RecentReviews calls review/recent_reviews.xml: the most recent reviews, newest first.
func (c *Client) RecentReviews(ctx context.Context) ([]Review, error) {
	body, err := c.get(ctx, "review/recent_reviews.xml", nil)
	if err != nil {
		return nil, fmt.Errorf("recent reviews: %w", err)
	}
	rs, err := ParseRecent(body)
	if err != nil {
		return nil, fmt.Errorf("recent reviews: %w", err)
	}
	return rs, nil
}

// Review calls review/show.xml for one review. An unknown id wraps
// grpipe.ErrNotFound; an answer that does not parse wraps ErrMalformed.
func (c *Client) Review(ctx context.Context, id int64) (*Review, error) {
	body, err := c.get(ctx, "review/show.xml", url.Values{"id": {strconv.FormatInt(id, 10)}})
	if err != nil {
		return nil, fmt.Errorf("review %d: %w", id, err)
	}
	r, err := ParseReview(body)
	if err != nil {
		return nil, fmt.Errorf("review %d: %w", id, err)
	}
	return r, nil
}

// StatusError is an answer the client gave up on.
type StatusError struct {
	URL    string // without the key
	Status int
	Body   string // the start of the answer
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Status)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Unwrap maps a 404 to grpipe.ErrNotFound and a 401 to ErrUnauthorized.
func (e *StatusError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return grpipe.ErrNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	}
	return nil
}

// maxBody bounds an answer (a review with a long body is a few tens of KiB).
const maxBody = 16 << 20

// get fetches path?query&key=... with pacing, timeouts and retries.
func (c *Client) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	u := *c.base
	u.Path = c.base.Path + "/" + path
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	shown := u
	shown.RawQuery = q.Encode() // the URL errors and logs show: no key
	q.Set("key", c.key)
	u.RawQuery = q.Encode()
	for attempt := 0; ; attempt++ {
		if err := c.pace(ctx); err != nil {
			return nil, err
		}
		body, status, retryAfter, err := c.once(ctx, u.String())
		if err == nil && status == http.StatusOK {
			return body, nil
		}
		var fail error
		retry := false
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fail = fmt.Errorf("GET %s: %w", shown.String(), c.redact(err))
			retry = true
		case status == http.StatusTooManyRequests || status >= 500:
			fail = &StatusError{URL: shown.String(), Status: status, Body: c.snippet(body)}
			retry = true
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, fmt.Errorf("%w: GET %s answered HTTP %d: check the key given with --api-key or GRPIPE_API_KEY",
				ErrUnauthorized, shown.String(), status)
		default:
			return nil, &StatusError{URL: shown.String(), Status: status, Body: c.snippet(body)}
		}
		if !retry || c.opts.MaxRetries < 0 || attempt >= c.opts.MaxRetries {
			if attempt > 0 {
				return nil, fmt.Errorf("gave up after %d tries: %w", attempt+1, fail)
			}
			return nil, fail
		}
		wait := c.backoff(attempt, retryAfter)
		c.opts.Log.Warn("API call will be retried", "url", shown.String(), "error", fail.Error(),
			"try", attempt+1, "wait", wait.String())
		if err := c.opts.Clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// pace waits until the next call may start, keeping calls at most Rate per second.
func (c *Client) pace(ctx context.Context) error {
	interval := time.Duration(float64(time.Second) / c.opts.Rate)
	c.mu.Lock()
	now := c.opts.Clock.Now()
	start := c.next
	if start.Before(now) {
		start = now
	}
	c.next = start.Add(interval)
	c.calls++
	c.mu.Unlock()
	return c.opts.Clock.Sleep(ctx, start.Sub(now))
}

// once makes one attempt. retryAfter is the server's Retry-After, 0 if none.
func (c *Client) once(ctx context.Context, u string) (body []byte, status int, retryAfter time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, 0, err
	}
	req.Header.Set("Accept", "application/xml")
	req.Header.Set("User-Agent", "grpipe-capture")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the URL, and so the key
		}
		return nil, 0, 0, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read answer: %w", err)
	}
	if len(body) > maxBody {
		return nil, 0, 0, fmt.Errorf("answer larger than %d bytes", maxBody)
	}
	return body, resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), c.opts.Clock.Now()), nil
}

// parseRetryAfter reads Retry-After: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && !math.IsInf(s, 0) {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// backoff returns the delay before retry number attempt+1: the server's
// Retry-After when it gave one, else BaseBackoff·2^attempt with jitter (half
// fixed, half random), capped at MaxBackoff.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.opts.MaxBackoff)
	}
	d := float64(c.opts.BaseBackoff) * math.Pow(2, float64(attempt))
	d = min(d, float64(c.opts.MaxBackoff))
	return time.Duration(d/2 + d/2*c.opts.Jitter())
}

// redact removes the key from an error's message, keeping the error chain.
func (c *Client) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), c.key) {
		return err
	}
	return &redacted{err: err, key: c.key}
}

type redacted struct {
	err error
	key string
}

func (r *redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.key, "REDACTED") }
func (r *redacted) Unwrap() error { return r.err }

// snippet returns the start of an error answer for a message, without the key.
func (c *Client) snippet(body []byte) string {
	s := strings.ToValidUTF8(string(body[:min(len(body), 200)]), "?")
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, c.key, "REDACTED")
}
