package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// memBackend is an in-memory Backend for handler tests: it holds runs as the
// run store would, so the handlers are tested on their own.
type memBackend struct {
	mu     sync.Mutex
	paused bool
	runs   []grpipe.Run // newest first
	tis    map[string][]TaskInstance
	sums   map[string]*grpipe.RunSummary
	logs   map[string]string
	rej    map[string][]quarantine.EntityRow
	charts chartsMem // the data of the chart pages (charts_test.go)
	// workers are the grpipe workers the workers page shows.
	workers []Worker
	// mapped are the mapped instances of a run (mapped_test.go).
	mapped map[string][]MappedInstance
}

var testTasks = []TaskNode{
	{ID: "Begin_execution"}, {ID: "GoodReadsETLJob", Upstream: []string{"Begin_execution"}},
	{ID: "Warehouse_data_quality_checks", Upstream: []string{"GoodReadsETLJob"}},
	{ID: "Stop_execution", Upstream: []string{"Warehouse_data_quality_checks"}},
}

func newMem() *memBackend {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	b := &memBackend{workers: []Worker{{Name: "w1", Host: "hostA", PID: 7, Concurrency: 2, State: "running", Alive: true, Running: []string{"manual__1 GoodReadsETLJob try 1"}, Done: 3}}, tis: map[string][]TaskInstance{}, sums: map[string]*grpipe.RunSummary{}, logs: map[string]string{}, rej: map[string][]quarantine.EntityRow{}}
	run := grpipe.Run{RunID: "manual__1", RunType: grpipe.RunManual, State: grpipe.StateFailed, LogicalDate: t0, StartedAt: t0, EndedAt: t0.Add(10 * time.Second), Error: "GoodReadsETLJob: boom"}
	b.runs = []grpipe.Run{run}
	b.tis["manual__1"] = []TaskInstance{
		{RunID: "manual__1", TaskID: "Begin_execution", Try: 1, MaxTries: 3, State: grpipe.StateSuccess, StartedAt: t0, EndedAt: t0.Add(time.Second)},
		{RunID: "manual__1", TaskID: "GoodReadsETLJob", Try: 1, MaxTries: 3, State: grpipe.StateUpForRetry, StartedAt: t0.Add(time.Second), EndedAt: t0.Add(3 * time.Second), Error: "first failure"},
		{RunID: "manual__1", TaskID: "GoodReadsETLJob", Try: 2, MaxTries: 3, State: grpipe.StateFailed, StartedAt: t0.Add(5 * time.Second), EndedAt: t0.Add(9 * time.Second), Error: "boom"},
		{RunID: "manual__1", TaskID: "Warehouse_data_quality_checks", State: grpipe.StateUpstreamFailed},
	}
	b.logs["manual__1/GoodReadsETLJob/1"] = "try one log line\n"
	b.logs["manual__1/GoodReadsETLJob/2"] = "try two log <b>line</b>\n"
	b.sums["manual__1"] = &grpipe.RunSummary{Run: grpipe.Run{RunID: "manual__1", DAGID: grpipe.DAGID, State: grpipe.StateFailed},
		Tables: map[string]grpipe.Ledger{"reviews": {Read: 501, Rejected: 1, Superseded: 440, Staged: 60, Inserted: 60}},
		Checks: []grpipe.CheckResult{{Name: "key_unique", Table: "goodreads_warehouse.reviews", Passed: true, Detail: "0 values"},
			{Name: "row_count", Table: "goodreads_warehouse.users", Passed: false, Detail: "0 rows (at least 1 expected)"}}}
	b.rej["manual__1"] = []quarantine.EntityRow{{Entity: "reviews", Row: quarantine.Row{SourceFile: "reviews.csv", Line: 502, Column: "", Reason: "expected 15 fields as in the header, found 3", Raw: "not,a,review"}}}
	b.charts = newChartsMem()
	return b
}

func (b *memBackend) DAG(ctx context.Context) (DAGInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return DAGInfo{DAGID: grpipe.DAGID, Paused: b.paused, Schedule: "*/10 * * * *", Tasks: testTasks,
		NextRun: time.Date(2026, 11, 27, 10, 10, 0, 0, time.UTC),
		Zones:   "file:///srv/zones", Warehouse: "postgres://grpipe:s3cret@db:5432/wh"}, nil
}

func (b *memBackend) SetPaused(ctx context.Context, p bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.paused = p
	return nil
}

func (b *memBackend) Trigger(ctx context.Context, id string) (grpipe.Run, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id == "" {
		id = fmt.Sprintf("manual__%d", len(b.runs)+1)
	}
	for _, r := range b.runs {
		if r.RunID == id {
			return grpipe.Run{}, fmt.Errorf("%w: run %s exists", grpipe.ErrBadInput, id)
		}
	}
	r := grpipe.Run{RunID: id, RunType: grpipe.RunManual, State: grpipe.StateQueued, QueuedAt: time.Now()}
	b.runs = append([]grpipe.Run{r}, b.runs...)
	return r, nil
}

func (b *memBackend) Runs(ctx context.Context, limit int) ([]grpipe.Run, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if limit > len(b.runs) {
		limit = len(b.runs)
	}
	return append([]grpipe.Run(nil), b.runs[:limit]...), nil
}

func (b *memBackend) Run(ctx context.Context, id string) (grpipe.Run, *grpipe.RunSummary, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.runs {
		if r.RunID == id {
			return r, b.sums[id], nil
		}
	}
	return grpipe.Run{}, nil, fmt.Errorf("run %s: %w", id, grpipe.ErrNotFound)
}

func (b *memBackend) TaskInstances(ctx context.Context, id string) ([]TaskInstance, error) {
	return b.tis[id], nil
}

func (b *memBackend) MappedInstances(ctx context.Context, id string) ([]MappedInstance, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mapped[id], nil
}

func (b *memBackend) TaskLog(ctx context.Context, run, task string, try int) (string, error) {
	l, ok := b.logs[fmt.Sprintf("%s/%s/%d", run, task, try)]
	if !ok {
		return "", fmt.Errorf("log of %s try %d: %w", task, try, grpipe.ErrNotFound)
	}
	return l, nil
}

func (b *memBackend) Workers(ctx context.Context) ([]Worker, error) { return b.workers, nil }

func (b *memBackend) Health(ctx context.Context) Health {
	return Health{MetadataOK: true, SchedulerHeartbeat: time.Now().Add(-2 * time.Second)}
}

func newTestServer(t *testing.T, token string) (*httptest.Server, *memBackend) {
	t.Helper()
	b := newMem()
	s, err := New(b, Options{Addr: "127.0.0.1:0", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, b
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func noRedirect() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestPages(t *testing.T) {
	ts, _ := newTestServer(t, "")
	c := ts.Client()
	d := "/dags/" + grpipe.DAGID
	cases := []struct {
		path string
		want []string
	}{
		{"/dags", []string{grpipe.DAGID, "*/10 * * * *", "manual__1", "Trigger run", "Pause", "postgres://grpipe:xxxxx@db:5432/wh", "4 tasks"}},
		{d + "/graph", []string{`data-task="GoodReadsETLJob" data-state="failed"`, `data-task="Begin_execution" data-state="success"`, "marker-end", `data-task="Stop_execution" data-state=""`}},
		{d + "/graph?run_id=manual__1", []string{`data-state="failed"`}},
		{d + "/grid", []string{`class="cell" data-state="failed"`, `class="runcell" data-state="failed"`, "Warehouse_data_quality_checks", "upstream_failed"}},
		{d + "/runs/manual__1", []string{"GoodReadsETLJob: boom", `id="ledger"`, "<td>501</td>", "quarantine?entity=reviews", "row_count", "0 rows (at least 1 expected)", "Quality checks (2, 1 failed)", "first failure"}},
		{d + "/runs/manual__1/gantt", []string{`data-task="GoodReadsETLJob"`, `data-state="up_for_retry" data-task="GoodReadsETLJob" data-try="1"`, `data-state="failed" data-task="GoodReadsETLJob" data-try="2"`}},
		{d + "/runs/manual__1/tasks/GoodReadsETLJob", []string{"try two log &lt;b&gt;line&lt;/b&gt;", "Try</dt><dd>2 of 3", "boom", "1 (up_for_retry)"}},
		{d + "/runs/manual__1/tasks/GoodReadsETLJob?try=1", []string{"try one log line", "first failure"}},
		{d + "/runs/manual__1/tasks/Warehouse_data_quality_checks", []string{"upstream_failed"}},
		{d + "/runs/manual__1/quarantine", []string{"reviews.csv", "502", "expected 15 fields", "not,a,review"}},
		{d + "/runs/manual__1/quarantine?entity=users", []string{"No rejected rows for users match"}},
		{"/warehouse", []string{"goodreads_warehouse.books", "120"}},
		{"/analytics", []string{"best_books", "Cannery Row"}},
		{"/workers", []string{"w1", "hostA", "manual__1 GoodReadsETLJob try 1", ">3<"}},
		{"/static/style.css", []string{"--accent"}},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(t, c, ts.URL+tc.path)
			if code != http.StatusOK {
				t.Fatalf("status %d: %.300s", code, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(body, "s3cret") {
				t.Errorf("page shows a password")
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	ts, _ := newTestServer(t, "")
	c := ts.Client()
	d := "/dags/" + grpipe.DAGID
	for _, p := range []string{
		"/dags/other/grid", d + "/runs/nope", d + "/runs/nope/gantt", d + "/runs/manual__1/tasks/NoSuchTask",
		d + "/runs/manual__1/tasks/GoodReadsETLJob?try=9", d + "/runs/manual__1/tasks/GoodReadsETLJob?try=x",
		d + "/runs/manual__1/quarantine?entity=shelves", "/nowhere",
	} {
		if code, _ := get(t, c, ts.URL+p); code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, code)
		}
	}
	for _, p := range []string{
		"/api/v1/dags/other", "/api/v1/dags/" + grpipe.DAGID + "/dagRuns/nope", "/api/v1/dags/" + grpipe.DAGID + "/dagRuns/nope/taskInstances",
		"/api/v1/dags/" + grpipe.DAGID + "/dagRuns/manual__1/taskInstances/GoodReadsETLJob/logs/7", "/api/v1/nothing",
	} {
		code, body := get(t, c, ts.URL+p)
		var e apiError
		if code != http.StatusNotFound || json.Unmarshal([]byte(body), &e) != nil || e.Status != 404 || e.Detail == "" {
			t.Errorf("%s: status %d body %s, want a JSON 404", p, code, body)
		}
	}
}

func TestAPI(t *testing.T) {
	ts, b := newTestServer(t, "")
	c := ts.Client()
	base := ts.URL + "/api/v1/dags"

	code, body := get(t, c, base)
	var dags struct {
		Dags []struct {
			DAGID    string `json:"dag_id"`
			IsPaused bool   `json:"is_paused"`
			Schedule struct {
				Value string `json:"value"`
			} `json:"schedule_interval"`
		} `json:"dags"`
		Total int `json:"total_entries"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &dags) != nil || dags.Total != 1 || dags.Dags[0].DAGID != grpipe.DAGID || dags.Dags[0].Schedule.Value != "*/10 * * * *" {
		t.Fatalf("GET dags: %d %s", code, body)
	}

	patch := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPatch, base+"/"+grpipe.DAGID, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if code, body := patch(`{"is_paused": true}`); code != 200 || !strings.Contains(body, `"is_paused": true`) || !b.paused {
		t.Fatalf("PATCH pause: %d %s", code, body)
	}
	if code, _ := patch(`{"paused": 1}`); code != 400 {
		t.Fatalf("PATCH with a bad body: %d, want 400", code)
	}

	req, _ := http.NewRequest(http.MethodPost, base+"/"+grpipe.DAGID+"/dagRuns", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var run map[string]any
	json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if resp.StatusCode != 200 || run["state"] != "queued" || run["dag_run_id"] != "manual__2" {
		t.Fatalf("POST dagRuns: %d %v", resp.StatusCode, run)
	}

	post := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/"+grpipe.DAGID+"/dagRuns", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if code, body := post(`[`); code != 400 || !strings.Contains(body, "must be JSON") {
		t.Fatalf("POST dagRuns with a broken body: %d %s", code, body)
	}
	if code, body := post(`{"dag_run_id": "a/b"}`); code != 400 {
		t.Fatalf("POST dagRuns with a bad id: %d %s", code, body)
	}
	if code, body := post(`{"dag_run_id": "manual__mine"}`); code != 200 || !strings.Contains(body, `"dag_run_id": "manual__mine"`) {
		t.Fatalf("POST dagRuns with an id: %d %s", code, body)
	}
	if code, body := post(`{"dag_run_id": "manual__mine"}`); code != 409 {
		t.Fatalf("POST dagRuns with a taken id: %d %s", code, body)
	}
	code, body = get(t, c, base+"/"+grpipe.DAGID+"/dagRuns")
	if code != 200 || !strings.Contains(body, `"total_entries": 3`) || !strings.Contains(body, `"dag_run_id": "manual__1"`) {
		t.Fatalf("GET dagRuns: %d %s", code, body)
	}
	code, body = get(t, c, base+"/"+grpipe.DAGID+"/dagRuns/manual__1")
	if code != 200 || !strings.Contains(body, `"state": "failed"`) || !strings.Contains(body, `"summary"`) {
		t.Fatalf("GET dagRun: %d %s", code, body)
	}
	code, body = get(t, c, base+"/"+grpipe.DAGID+"/dagRuns/manual__1/taskInstances")
	var tis struct {
		TI []struct {
			TaskID string  `json:"task_id"`
			State  *string `json:"state"`
			Try    int     `json:"try_number"`
		} `json:"task_instances"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &tis) != nil || len(tis.TI) != 4 || tis.TI[1].Try != 2 || *tis.TI[1].State != "failed" || tis.TI[3].State != nil {
		t.Fatalf("GET taskInstances: %d %s", code, body)
	}
	code, body = get(t, c, base+"/"+grpipe.DAGID+"/dagRuns/manual__1/taskInstances/GoodReadsETLJob/logs/1")
	if code != 200 || body != "try one log line\n" {
		t.Fatalf("GET logs: %d %q", code, body)
	}
	code, body = get(t, c, base+"/"+grpipe.DAGID+"/dagRuns/manual__1/taskInstances/GoodReadsETLJob/logs/2", "Accept", "application/json")
	if code != 200 || !strings.Contains(body, `"content": "try two log \u003cb\u003eline\u003c/b\u003e\n"`) {
		t.Fatalf("GET logs as JSON: %d %s", code, body)
	}
	code, body = get(t, c, ts.URL+"/health")
	if code != 200 || !strings.Contains(body, `"metadatabase"`) || !strings.Contains(body, `"status": "healthy"`) || !strings.Contains(body, "latest_scheduler_heartbeat") {
		t.Fatalf("GET health: %d %s", code, body)
	}
}

func TestAuth(t *testing.T) {
	ts, b := newTestServer(t, "tok3n")
	c := noRedirect()

	// No credentials: API 401 as JSON, pages redirect to the login form.
	for _, p := range []string{"/api/v1/dags", "/health"} {
		if code, body := get(t, c, ts.URL+p); code != 401 || !strings.Contains(body, `"status": 401`) {
			t.Errorf("%s without a token: %d %s", p, code, body)
		}
	}
	if code, _ := get(t, c, ts.URL+"/dags"); code != http.StatusSeeOther {
		t.Errorf("page without a token: %d, want a redirect to /login", code)
	}
	if code, _ := get(t, c, ts.URL+"/api/v1/dags", "Authorization", "Bearer wrong"); code != 401 {
		t.Errorf("wrong bearer: %d", code)
	}
	if code, _ := get(t, c, ts.URL+"/api/v1/dags", "Authorization", "Bearer tok3n"); code != 200 {
		t.Errorf("right bearer: %d", code)
	}
	// A bearer request may change state without a CSRF token (browsers never add that header).
	req, _ := http.NewRequest(http.MethodPatch, ts.URL+"/api/v1/dags/"+grpipe.DAGID, strings.NewReader(`{"is_paused": true}`))
	req.Header.Set("Authorization", "Bearer tok3n")
	req.Header.Set("Content-Type", "application/json")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 || !b.paused {
		t.Fatalf("PATCH with bearer: %v %v", err, resp)
	}

	// The login form: a wrong token is refused, the right one sets a session cookie.
	resp, err := c.PostForm(ts.URL+"/login", url.Values{"token": {"nope"}})
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("login with a wrong token: %v %v", err, resp.StatusCode)
	}
	resp, err = c.PostForm(ts.URL+"/login", url.Values{"token": {"tok3n"}, "next": {"/warehouse"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/warehouse" {
		t.Fatalf("login: %v %v", err, resp)
	}
	if code, _ := get(t, c, ts.URL+"/dags"); code != 200 {
		t.Fatalf("page with the session cookie: %d", code)
	}

	// A form POST with the session cookie but without the CSRF token is refused.
	resp, err = c.PostForm(ts.URL+"/dags/"+grpipe.DAGID+"/unpause", url.Values{})
	if err != nil || resp.StatusCode != http.StatusForbidden || !b.paused {
		t.Fatalf("POST without CSRF token: %v %d", err, resp.StatusCode)
	}
	// With the CSRF token from the cookie, it works.
	u, _ := url.Parse(ts.URL)
	var csrf string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == csrfCookie {
			csrf = ck.Value
		}
	}
	if csrf == "" {
		t.Fatal("no CSRF cookie was set")
	}
	resp, err = c.PostForm(ts.URL+"/dags/"+grpipe.DAGID+"/unpause", url.Values{csrfField: {csrf}})
	if err != nil || resp.StatusCode != http.StatusSeeOther || b.paused {
		t.Fatalf("POST with CSRF token: %v %d paused=%v", err, resp.StatusCode, b.paused)
	}
	// A cross-origin form post is refused even with the token.
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/dags/"+grpipe.DAGID+"/trigger", strings.NewReader(csrfField+"="+csrf))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %v %v", err, resp.StatusCode)
	}
}

func TestFormTriggerWithoutAuth(t *testing.T) {
	ts, b := newTestServer(t, "")
	c := noRedirect()
	// Even without a token, a form POST needs the CSRF token.
	if resp, err := c.PostForm(ts.URL+"/dags/"+grpipe.DAGID+"/trigger", url.Values{}); err != nil || resp.StatusCode != 403 {
		t.Fatalf("POST without CSRF: %v %v", err, resp.StatusCode)
	}
	get(t, c, ts.URL+"/dags") // receives the CSRF cookie
	u, _ := url.Parse(ts.URL)
	var csrf string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == csrfCookie {
			csrf = ck.Value
		}
	}
	resp, err := c.PostForm(ts.URL+"/dags/"+grpipe.DAGID+"/trigger", url.Values{csrfField: {csrf}})
	if err != nil || resp.StatusCode != http.StatusSeeOther || len(b.runs) != 2 {
		t.Fatalf("trigger: %v %v runs=%d", err, resp.StatusCode, len(b.runs))
	}
}

func TestRefusesOpenAddressWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true}, {"localhost:8080", "", true}, {"[::1]:8080", "", true},
		{"0.0.0.0:8080", "", false}, {":8080", "", false}, {"10.1.2.3:80", "", false},
		{"0.0.0.0:8080", "secret", true}, {"nonsense", "", false}, {"127.0.0.1:99999", "", false}, {"127.0.0.1:http", "", false},
	} {
		err := Options{Addr: tc.addr, Token: tc.token}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Validate(%s, token=%q) = %v", tc.addr, tc.token, err)
		}
		if err != nil && tc.addr == "0.0.0.0:8080" && !strings.Contains(err.Error(), "GRPIPE_WEB_TOKEN") {
			t.Errorf("message %q does not say how to configure a token", err)
		}
	}
}
