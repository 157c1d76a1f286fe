package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// clock is a settable time for session and throttling tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newServerWith(t *testing.T, opts Options, tlsServer bool) (*httptest.Server, *memBackend) {
	t.Helper()
	b := newMem()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s, err := New(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	var ts *httptest.Server
	if tlsServer {
		ts = httptest.NewTLSServer(s)
	} else {
		ts = httptest.NewServer(s)
	}
	t.Cleanup(ts.Close)
	return ts, b
}

// do sends a request with the given Host header and extra headers.
func do(t *testing.T, c *http.Client, method, u, host, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// Defect 3: without a token, a request whose Host is not this server's
// (a DNS-rebinding page's own name) is refused, pages, API and actions alike.
func TestHostCheckWithoutToken(t *testing.T) {
	ts, b := newServerWith(t, Options{Hosts: []string{"grpipe.internal"}}, false)
	c := noRedirect()
	port := strings.TrimPrefix(ts.URL, "http://127.0.0.1:")
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:" + port, true},
		{"localhost:" + port, true},
		{"LOCALHOST.:" + port, true},
		{"[::1]:" + port, true},
		{"127.0.0.2", true},
		{"grpipe.internal:" + port, true},
		{"Grpipe.Internal", true},
		{"evil.example:" + port, false},
		{"evil.example", false},
		{"127.0.0.1.evil.example:" + port, false},
		{"localhost.evil.example", false},
		{"0.0.0.0:" + port, false},
		{"10.0.0.1:" + port, false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			for _, p := range []string{"/dags", "/api/v1/dags", "/health", "/static/style.css"} {
				resp, body := do(t, c, http.MethodGet, ts.URL+p, tc.host, "")
				if tc.ok && resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s with Host %s: %d %.200s", p, tc.host, resp.StatusCode, body)
				}
				if !tc.ok && (resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "web.hosts")) {
					t.Errorf("GET %s with Host %s: %d %.200s, want 403 naming web.hosts", p, tc.host, resp.StatusCode, body)
				}
			}
		})
	}
	// The actions a rebinding page is after: trigger (a JSON call without
	// cookies passes the CSRF check on loopback) and pause.
	runs := len(b.runs)
	resp, _ := do(t, c, http.MethodPost, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns", "evil.example:"+port, `{}`, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusForbidden || len(b.runs) != runs {
		t.Fatalf("trigger through a rebound name: %d, runs %d -> %d", resp.StatusCode, runs, len(b.runs))
	}
	resp, _ = do(t, c, http.MethodPatch, ts.URL+"/api/v1/dags/"+grpipe.DAGID, "evil.example:"+port, `{"is_paused": true}`, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusForbidden || b.paused {
		t.Fatalf("pause through a rebound name: %d, paused %v", resp.StatusCode, b.paused)
	}
	// The same call by the server's own name works.
	resp, body := do(t, &http.Client{}, http.MethodPost, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns", "", `{}`, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusOK || len(b.runs) != runs+1 {
		t.Fatalf("trigger on 127.0.0.1: %d %s", resp.StatusCode, body)
	}
}

// With a token, the token is the gate: any Host may carry it (a proxy's name).
func TestHostNotCheckedWithToken(t *testing.T) {
	ts, _ := newServerWith(t, Options{Token: "tok3n"}, false)
	resp, body := do(t, noRedirect(), http.MethodGet, ts.URL+"/api/v1/dags", "grpipe.example.org", "", "Authorization", "Bearer tok3n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bearer call through a proxy's name: %d %s", resp.StatusCode, body)
	}
}

// Defect 6: the login's next parameter never leads off-site.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	cases := []struct{ next, want string }{
		{"/warehouse", "/warehouse"},
		{"/dags/goodreads_pipeline/runs/manual__1?x=1", "/dags/goodreads_pipeline/runs/manual__1?x=1"},
		{"/dags/goodreads_pipeline/grid?triggered=manual__2026-11-27T02:44:28.953513Z", "/dags/goodreads_pipeline/grid?triggered=manual__2026-11-27T02%3A44%3A28.953513Z"},
		{"", "/dags"},
		{"/\\evil.example", "/dags"},
		{"/\t/evil.example", "/dags"},
		{"/\n/evil.example", "/dags"},
		{"\t//evil.example", "/dags"},
		{"//evil.example", "/dags"},
		{"///evil.example", "/dags"},
		{"/%2F/evil.example", "/dags"},
		{"/%5Cevil.example", "/%5Cevil.example"},
		{"https://evil.example/", "/dags"},
		{"http:evil.example", "/dags"},
		{"javascript:alert(1)", "/dags"},
		{"evil.example", "/dags"},
		{"/ /evil.example", "/dags"},
		{"/\u3000/evil.example", "/dags"},
		{"/dags#x", "/dags"},
		{"/@evil.example", "/@evil.example"},
	}
	for _, token := range []string{"", "tok3n"} {
		ts, _ := newServerWith(t, Options{Token: token}, false)
		for _, tc := range cases {
			t.Run(token+" "+tc.next, func(t *testing.T) {
				c := noRedirect()
				var resp *http.Response
				var err error
				if token == "" {
					resp, err = c.Get(ts.URL + "/login?next=" + url.QueryEscape(tc.next))
				} else {
					resp, err = c.PostForm(ts.URL+"/login", url.Values{"token": {token}, "next": {tc.next}})
				}
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != tc.want {
					t.Fatalf("next=%q: %d Location %q, want %q", tc.next, resp.StatusCode, got, tc.want)
				}
				checkSameOrigin(t, tc.next, resp.Header.Get("Location"))
			})
		}
	}
	// The two payloads of the report, sent raw as an attacker's link would.
	ts, _ := newServerWith(t, Options{}, false)
	for _, raw := range []string{"/login?next=/%5Cevil.example", "/login?next=/%09/evil.example", "/login?next=%2F%2Fevil.example"} {
		resp, err := noRedirect().Get(ts.URL + raw)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		checkSameOrigin(t, raw, resp.Header.Get("Location"))
	}
}

// checkSameOrigin resolves loc as a browser would (tabs and new lines
// dropped, back slashes read as slashes) and fails if it leaves the site.
func checkSameOrigin(t *testing.T, next, loc string) {
	t.Helper()
	browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	base, _ := url.Parse("http://127.0.0.1:8080/login")
	u, err := base.Parse(browser)
	if err != nil || u.Host != "127.0.0.1:8080" || u.Scheme != "http" {
		t.Fatalf("next=%q: Location %q leads to %v (err %v)", next, loc, u, err)
	}
}

// FuzzSafeNext checks that whatever next holds, the login sends the browser
// to a path on this server.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/warehouse", "/%5Cevil.example", "/\t/evil.example", "//evil", "/\\evil", "https://x", "/a?b=c#d", "/%2e%2e/", "/\u2028/x", "/;//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n ") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		for _, c := range got {
			if c < 0x21 || c >= 0x7f {
				t.Fatalf("safeNext(%q) = %q holds %q", next, got, c)
			}
		}
		checkSameOrigin(t, next, got)
	})
}

func sessionValue(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

func login(t *testing.T, c *http.Client, base, token string) *http.Response {
	t.Helper()
	resp, err := c.PostForm(base+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// withCookie fetches path with only the given session cookie.
func withCookie(t *testing.T, base, path string, ck *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Defect 12: random session ids that expire and die at logout.
func TestSessions(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	ts, _ := newServerWith(t, Options{Token: "tok3n", Now: clk.Now, SessionTTL: time.Hour}, false)

	c1, c2 := noRedirect(), noRedirect()
	r1, r2 := login(t, c1, ts.URL, "tok3n"), login(t, c2, ts.URL, "tok3n")
	s1, s2 := sessionValue(t, r1), sessionValue(t, r2)
	if s1.Value == s2.Value || len(s1.Value) < 64 {
		t.Fatalf("session ids %q and %q: want two different random ids", s1.Value, s2.Value)
	}
	if strings.Contains(s1.Value, "tok3n") || !s1.HttpOnly || s1.SameSite != http.SameSiteStrictMode || s1.MaxAge != 3600 || s1.Secure {
		t.Fatalf("session cookie %+v", s1)
	}
	if code := withCookie(t, ts.URL, "/dags", s1); code != http.StatusOK {
		t.Fatalf("page with session 1: %d", code)
	}

	// Logout revokes the session on the server: the copied cookie stops working.
	get(t, c1, ts.URL+"/dags") // the CSRF cookie
	u, _ := url.Parse(ts.URL)
	var csrf string
	for _, ck := range c1.Jar.Cookies(u) {
		if ck.Name == csrfCookie {
			csrf = ck.Value
		}
	}
	resp, err := c1.PostForm(ts.URL+"/logout", url.Values{csrfField: {csrf}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %v %v", err, resp)
	}
	resp.Body.Close()
	if code := withCookie(t, ts.URL, "/dags", s1); code != http.StatusSeeOther {
		t.Fatalf("page with session 1 after its logout: %d, want a redirect to /login", code)
	}
	if code := withCookie(t, ts.URL, "/dags", s2); code != http.StatusOK {
		t.Fatalf("the other session after logout of the first: %d", code)
	}
	// A session expires.
	clk.Add(time.Hour)
	if code := withCookie(t, ts.URL, "/dags", s2); code != http.StatusSeeOther {
		t.Fatalf("page with an expired session: %d", code)
	}
	// An id that was never issued, and the old fixed HMAC form, are refused.
	if code := withCookie(t, ts.URL, "/dags", &http.Cookie{Name: sessionCookie, Value: strings.Repeat("0", 64)}); code != http.StatusSeeOther {
		t.Fatalf("page with a made-up session: %d", code)
	}
}

// Defect 12: cookies are Secure over TLS and when a proxy serves HTTPS.
func TestSecureCookies(t *testing.T) {
	ts, _ := newServerWith(t, Options{Token: "tok3n"}, true)
	c := ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	if ck := sessionValue(t, login(t, c, ts.URL, "tok3n")); !ck.Secure {
		t.Fatalf("session cookie over TLS without Secure: %+v", ck)
	}
	ts2, _ := newServerWith(t, Options{Token: "tok3n", SecureCookies: true}, false)
	resp := login(t, noRedirect(), ts2.URL, "tok3n")
	if ck := sessionValue(t, resp); !ck.Secure {
		t.Fatalf("session cookie behind a declared HTTPS proxy without Secure: %+v", ck)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == csrfCookie && !ck.Secure {
			t.Fatalf("CSRF cookie without Secure: %+v", ck)
		}
	}
}

// Defect 12: failed logins (form or bearer) are throttled per address.
func TestLoginThrottle(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	ts, _ := newServerWith(t, Options{Token: "tok3n", Now: clk.Now}, false)
	c := noRedirect()
	for i := 0; i < maxFailedLogins; i++ {
		if resp := login(t, c, ts.URL, "guess"+strconv.Itoa(i)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i, resp.StatusCode)
		}
	}
	resp := login(t, c, ts.URL, "tok3n")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("login after %d failures: %d Retry-After %q, want 429 (even with the right token)", maxFailedLogins, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, body := do(t, c, http.MethodGet, ts.URL+"/api/v1/dags", "", "", "Authorization", "Bearer tok3n"); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, `"status": 429`) {
		t.Fatalf("bearer call from a blocked address: %d %s", resp.StatusCode, body)
	}
	clk.Add(failedLoginWindow)
	if resp := login(t, c, ts.URL, "tok3n"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the window: %d", resp.StatusCode)
	}

	// Wrong bearer tokens count too.
	for i := 0; i < maxFailedLogins; i++ {
		if resp, _ := do(t, c, http.MethodGet, ts.URL+"/api/v1/dags", "", "", "Authorization", "Bearer guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong bearer %d: %d", i, resp.StatusCode)
		}
	}
	if resp, _ := do(t, c, http.MethodGet, ts.URL+"/api/v1/dags", "", "", "Authorization", "Bearer tok3n"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right bearer after %d wrong ones: %d, want 429", maxFailedLogins, resp.StatusCode)
	}
}

func TestLimiterBoundsItsTable(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	l := newLimiter(2, time.Minute, clk.Now)
	for i := 0; i < maxTrackedClients+50; i++ {
		a := "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
		l.fail(a)
		l.fail(a)
	}
	if n := len(l.fails); n > maxTrackedClients+1 {
		t.Fatalf("the limiter holds %d addresses, more than %d", n, maxTrackedClients+1)
	}
	// Addresses left out share one limit: it is reached, not ignored.
	if _, blocked := l.blocked("192.0.2.1"); !blocked {
		t.Fatal("an address beyond the table is not limited")
	}
	clk.Add(time.Minute)
	if _, blocked := l.blocked("10.0.0.0"); blocked {
		t.Fatal("an address is still blocked after the window")
	}
}

// Defect 12: a blank or padded token is refused at start.
func TestRefusesBlankToken(t *testing.T) {
	for _, tok := range []string{" ", "\t\n", " tok3n", "tok3n\n", "tok3n\x00"} {
		if err := (Options{Addr: "127.0.0.1:8080", Token: tok}).Validate(); !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "GRPIPE_WEB_TOKEN") {
			t.Errorf("Validate(token %q) = %v", tok, err)
		}
		if _, err := New(newMem(), Options{Addr: "127.0.0.1:8080", Token: tok}); err == nil {
			t.Errorf("New(token %q) accepted it", tok)
		}
	}
	if err := (Options{Addr: "127.0.0.1:8080", Token: "tok3n", Hosts: []string{"a/b"}}).Validate(); err == nil {
		t.Error("a host name with a slash is accepted")
	}
}

// Defects 1 and 9: the API takes only run ids that stay in their folder and
// leaves the scheduler's prefixes alone.
func TestAPIRefusesRunIDs(t *testing.T) {
	ts, b := newServerWith(t, Options{}, false)
	c := &http.Client{} // no cookies: a JSON call on loopback needs no CSRF token
	base := ts.URL + "/api/v1/dags/" + grpipe.DAGID + "/dagRuns"
	for _, id := range []string{".", "..", "../landing", "a/b", `a\b`, " ", ".hidden", "x_try2",
		"scheduled__2026-03-01T00:10:00.000000Z", "backfill__2026-03-01T00:00:00.000000Z", strings.Repeat("r", 201)} {
		runs := len(b.runs)
		body := `{"dag_run_id": ` + strconv.Quote(id) + `}`
		resp, out := do(t, c, http.MethodPost, base, "", body, "Content-Type", "application/json")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, "dag_run_id") || len(b.runs) != runs {
			t.Errorf("POST dag_run_id %q: %d %s (runs %d -> %d)", id, resp.StatusCode, out, runs, len(b.runs))
		}
	}
	for _, p := range []string{"/%2E%2E", "/.%2Fx", "/x_try2/taskInstances", "/%2E/taskInstances/GoodReadsETLJob/logs/1"} {
		resp, out := do(t, c, http.MethodGet, base+p, "", "")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(out, "run id") {
			t.Errorf("GET %s: %d %s, want 404 saying what a run id is", p, resp.StatusCode, out)
		}
	}
	page := ts.URL + "/dags/" + grpipe.DAGID + "/runs/%2E%2E/quarantine"
	if code, _ := get(t, c, page); code != http.StatusNotFound {
		t.Errorf("quarantine page of run ..: %d", code)
	}
}

// secretsBackend shows a given zones and warehouse location.
type secretsBackend struct {
	*memBackend
	zones, warehouse string
}

func (b secretsBackend) DAG(ctx context.Context) (DAGInfo, error) {
	d, err := b.memBackend.DAG(ctx)
	d.Zones, d.Warehouse = b.zones, b.warehouse
	return d, err
}

// Defect 10: no form of a DSN shows its secrets on /dags.
func TestDAGsPageHidesSecrets(t *testing.T) {
	for _, tc := range []struct{ zones, warehouse string }{
		{"file:///srv/zones", "postgres://grpipe@db/wh?sslmode=verify-full&sslpassword=s3cret"},
		{"file:///srv/zones", "host=db user=grpipe password=s3cret dbname=wh"},
		{"file:///srv/zones", "host=db password = 's3 cr\\'et' dbname=wh"},
		{"file:///srv/zones", "postgres://grpipe:s3/cret@db/wh"},
		{"s3://AKIA:s3cret@bucket/zones?session_token=s3cret", "duckdb:///srv/wh.duckdb"},
	} {
		s, err := New(secretsBackend{newMem(), tc.zones, tc.warehouse}, Options{Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s)
		code, body := get(t, ts.Client(), ts.URL+"/dags")
		ts.Close()
		if code != http.StatusOK || strings.Contains(body, "s3cret") || strings.Contains(body, "cret") || !strings.Contains(body, "xxxxx") {
			t.Errorf("/dags with %s and %s: %d, shows a secret or no mask", tc.zones, tc.warehouse, code)
		}
	}
}

// Defect 4: a long task log is served in pages of at most 64 KiB, by the
// API (Link rel="next", continuation_token) and the task page (next and
// earlier parts); following them gives the whole log back.
func TestTaskLogPaged(t *testing.T) {
	ts, b := newServerWith(t, Options{}, false)
	var big strings.Builder
	for i := 0; big.Len() < 300<<10; i++ {
		fmt.Fprintf(&big, "time=2026-11-27T10:00:00Z level=WARN msg=\"line %d\"\n", i)
	}
	b.mu.Lock()
	b.logs["manual__1/GoodReadsETLJob/1"] = big.String()
	b.mu.Unlock()
	c := &http.Client{}
	base := ts.URL + "/api/v1/dags/" + grpipe.DAGID + "/dagRuns/manual__1/taskInstances/GoodReadsETLJob/logs/1"

	var text strings.Builder
	next, pages := base, 0
	for next != "" {
		resp, body := do(t, c, http.MethodGet, next, "", "")
		if resp.StatusCode != http.StatusOK || len(body) > logPageBytes {
			t.Fatalf("page %d: %d, %d bytes", pages, resp.StatusCode, len(body))
		}
		text.WriteString(body)
		pages++
		next = ""
		if l := resp.Header.Get("Link"); l != "" {
			next = ts.URL + strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
		}
	}
	if text.String() != big.String() || pages < 5 {
		t.Fatalf("%d pages gave %d bytes back, want the %d of the log", pages, text.Len(), big.Len())
	}

	var got strings.Builder
	token := ""
	for {
		u := base
		if token != "" {
			u += "?token=" + token
		}
		resp, body := do(t, c, http.MethodGet, u, "", "", "Accept", "application/json")
		var page struct {
			Content string  `json:"content"`
			Token   *string `json:"continuation_token"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("JSON page: %d %.200s", resp.StatusCode, body)
		}
		got.WriteString(page.Content)
		if page.Token == nil {
			break
		}
		token = *page.Token
	}
	if got.String() != big.String() {
		t.Fatalf("JSON pages gave %d bytes, want %d", got.Len(), big.Len())
	}
	if resp, _ := do(t, c, http.MethodGet, base+"?token=99999999", "", ""); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a token past the end: %d", resp.StatusCode)
	}

	page := ts.URL + "/dags/" + grpipe.DAGID + "/runs/manual__1/tasks/GoodReadsETLJob?try=1"
	code, body := get(t, c, page)
	if code != http.StatusOK || !strings.Contains(body, `id="log-next"`) || strings.Contains(body, `id="log-prev"`) || len(body) > logPageBytes+20<<10 {
		t.Fatalf("task page: %d, %d bytes", code, len(body))
	}
	code, body = get(t, c, page+"&token=70000")
	if code != http.StatusOK || !strings.Contains(body, `id="log-prev"`) {
		t.Fatalf("a later part of the task page: %d", code)
	}
}
