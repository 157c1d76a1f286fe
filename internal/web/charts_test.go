package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// hostile is text as a CSV file may carry it: markup, quotes, a script, a
// formula, a newline. Every page must show it as text.
const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>'"&=cmd|' /C calc'!A0` + "\nline two"

// chartsMem holds what the chart pages read from the in-memory backend.
type chartsMem struct {
	analytics AnalyticsView
	tables    []TableInfo
	rows      map[string][][]Cell // a table's rows, by table name
	// result is what Query returns, whatever the statement: the handler
	// tests check what reaches the backend and how pages show a result, not
	// SQL (the app package's tests run real statements on a real warehouse).
	result  ResultPage
	queries []string // statements that reached the backend
	// block makes Query wait for its context to end (a statement that runs too long).
	block bool
	// queryErr is returned by Query when set.
	queryErr error
}

func newChartsMem() chartsMem {
	day := func(d int) time.Time { return time.Date(2020, 2, d, 0, 0, 0, 0, time.UTC) }
	c := chartsMem{rows: map[string][][]Cell{}}
	c.analytics = AnalyticsView{WindowStart: day(1), WindowEnd: day(29), Reviews: 60,
		Ratings: []RatingCount{{0, 2}, {3, 10}, {4, 20}, {5, 25}},
		PerDay:  []DayCount{{day(18), 10}, {day(19), 45}, {day(21), 5}}}
	books := []Ranked{
		{Rank: 1, ID: 4799, Name: "Cannery Row", URL: "https://www.goodreads.com/book/show/4799.Cannery_Row", ImageURL: "https://images.gr-assets.com/books/1327882219m/4799.jpg", ReviewCount: 12, AverageRating: 4.5},
		{Rank: 2, ID: 13667, Name: "The Farthest Shore", URL: "https://www.goodreads.com/book/show/13667", ImageURL: "https://s.gr-assets.com/assets/nophoto/book/111x148-bcc042a9c91a29c1d680899eff700a03.png", ReviewCount: 6, AverageRating: 4},
		{Rank: 3, ID: 666, Name: hostile, URL: "javascript:alert(1)", ImageURL: "https://evil.example/track.png", ReviewCount: 3, AverageRating: 1},
	}
	authors := []Ranked{{Rank: 1, ID: 874602, Name: "Ursula K. Le Guin", URL: "https://www.goodreads.com/author/show/874602", ReviewCount: 9, AverageRating: 4.25}}
	for _, t := range []struct{ table, subject, kind string }{
		{"popular_authors_review_count", "author", "review_count"}, {"popular_authors_average_rating", "author", "average_rating"},
		{"best_authors", "author", "best"}, {"popular_books_review_count", "book", "review_count"},
		{"popular_books_average_rating", "book", "average_rating"}, {"best_books", "book", "best"},
	} {
		rows := books
		if t.subject == "author" {
			rows = authors
		}
		if t.table == "best_authors" {
			rows = nil
		}
		if t.table == "best_books" { // the first is ranked 3rd by reviews and 1st by rating
			rows = append([]Ranked(nil), books...)
			rows[0].Rank, rows[0].RatingRank = 3, 1
		}
		c.analytics.Rankings = append(c.analytics.Rankings, Ranking{Table: t.table, Subject: t.subject, Kind: t.kind, Rows: rows})
	}
	c.tables = []TableInfo{
		{Name: "goodreads_warehouse.books", Rows: 120, Columns: []ColumnInfo{{"book_id", "BIGINT", false}, {"title", "VARCHAR", true}, {"num_pages", "INTEGER", false}}},
		{Name: "goodreads_warehouse.reviews", Rows: -1, Columns: []ColumnInfo{{"review_id", "BIGINT", false}}},
	}
	var books120 [][]Cell
	for i := 1; i <= 120; i++ {
		title := fmt.Sprintf("Book %03d", i)
		if i == 7 {
			title = hostile
		}
		pages := Cell{Text: strconv.Itoa(1000 - i)}
		if i == 9 {
			pages = Cell{Null: true}
		}
		books120 = append(books120, []Cell{{Text: strconv.Itoa(i)}, {Text: title}, pages})
	}
	c.rows["goodreads_warehouse.books"] = books120
	c.result = ResultPage{Columns: []string{"n", "label"}, Total: -1}
	for i := 1; i <= 120; i++ {
		c.result.Rows = append(c.result.Rows, []Cell{{Text: strconv.Itoa(i)}, {Text: "row " + strconv.Itoa(i)}})
	}
	c.result.Rows[0][1] = Cell{Text: hostile}
	return c
}

func (b *memBackend) Analytics(ctx context.Context) (AnalyticsView, error) {
	return b.charts.analytics, nil
}

func (b *memBackend) Tables(ctx context.Context) ([]TableInfo, error) { return b.charts.tables, nil }

// view sorts and filters a table as the warehouse would.
func (b *memBackend) view(q BrowseQuery) ([]string, [][]Cell, error) {
	var info *TableInfo
	for i := range b.charts.tables {
		if b.charts.tables[i].Name == q.Table {
			info = &b.charts.tables[i]
		}
	}
	if info == nil {
		return nil, nil, fmt.Errorf("table %s: %w", q.Table, grpipe.ErrNotFound)
	}
	col := 0
	var cols []string
	for i, c := range info.Columns {
		cols = append(cols, c.Name)
		if c.Name == q.OrderBy {
			col = i
		}
	}
	if q.OrderBy != "" && cols[col] != q.OrderBy {
		return nil, nil, fmt.Errorf("column %s of %s: %w", q.OrderBy, q.Table, grpipe.ErrNotFound)
	}
	var rows [][]Cell
	for _, r := range b.charts.rows[q.Table] {
		keep := q.Search == ""
		for i, c := range info.Columns {
			keep = keep || (c.Text && strings.Contains(strings.ToLower(r[i].Text), strings.ToLower(q.Search)))
		}
		if keep {
			rows = append(rows, r)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, _ := strconv.Atoi(rows[i][col].Text)
		c, _ := strconv.Atoi(rows[j][col].Text)
		if q.Desc {
			return a > c
		}
		return a < c
	})
	return cols, rows, nil
}

func (b *memBackend) Browse(ctx context.Context, q BrowseQuery) (ResultPage, error) {
	cols, rows, err := b.view(q)
	if err != nil {
		return ResultPage{}, err
	}
	p := ResultPage{Columns: cols, Total: int64(len(rows))}
	for _, t := range b.charts.tables {
		if t.Name == q.Table {
			p.Info = t.Columns
		}
	}
	start, col := q.Offset, 0
	for i, c := range p.Info {
		if c.Name == q.OrderBy {
			col = i
		}
	}
	// A cursor names a row by its key (the first column), as the
	// warehouse's keyset paging does.
	at := func(c *Cursor) int {
		for i, r := range rows {
			if r[0].Text == c.Key {
				return i
			}
		}
		return -1
	}
	switch {
	case q.After != nil:
		start = at(q.After) + 1
	case q.Before != nil:
		start = max(at(q.Before)-q.Limit, 0)
	}
	end := min(start+q.Limit, len(rows))
	if q.Before != nil {
		end = at(q.Before)
	}
	if start < end {
		p.Rows = rows[start:end]
		cur := func(r []Cell) *Cursor { return &Cursor{Key: r[0].Text, Value: r[col].Text, Null: r[col].Null} }
		p.First, p.Last = cur(p.Rows[0]), cur(p.Rows[len(p.Rows)-1])
	}
	p.More, p.Prev = end < len(rows), start > 0
	return p, nil
}

func (b *memBackend) Query(ctx context.Context, sql string, offset, limit int) (ResultPage, error) {
	b.mu.Lock()
	b.charts.queries = append(b.charts.queries, sql)
	block, qerr := b.charts.block, b.charts.queryErr
	b.mu.Unlock()
	if block {
		<-ctx.Done()
		return ResultPage{}, fmt.Errorf("query interrupted: %w", ctx.Err())
	}
	if qerr != nil {
		return ResultPage{}, qerr
	}
	all := b.charts.result.Rows
	p := ResultPage{Columns: b.charts.result.Columns, Total: -1}
	end := min(offset+limit, len(all))
	if offset < len(all) {
		p.Rows = all[offset:end]
	}
	p.More = end < len(all)
	return p, nil
}

func (b *memBackend) Export(ctx context.Context, x ExportQuery, fn func([]string, []Cell) error) error {
	var cols []string
	var rows [][]Cell
	if x.Browse != nil {
		var err error
		if cols, rows, err = b.view(*x.Browse); err != nil {
			return err
		}
	} else {
		cols, rows = b.charts.result.Columns, b.charts.result.Rows
	}
	if err := fn(cols, nil); err != nil {
		return err
	}
	if x.Limit > 0 && len(rows) > x.Limit {
		rows = rows[:x.Limit]
	}
	for _, r := range rows {
		if err := fn(cols, r); err != nil {
			if err == ErrStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// memRejected is a rejected row of the in-memory backend as a scan shows it.
type memRejected struct{ r quarantine.Row }

func (m *memRejected) SourceFile() []byte           { return []byte(m.r.SourceFile) }
func (m *memRejected) Reason() []byte               { return []byte(m.r.Reason) }
func (m *memRejected) Row() (quarantine.Row, error) { return m.r, nil }

func (b *memBackend) ScanRejected(ctx context.Context, runID string, fn func(string, RejectedView) error) error {
	if _, _, err := b.Run(ctx, runID); err != nil {
		return err
	}
	for _, r := range b.rej[runID] {
		if err := fn(r.Entity, &memRejected{r.Row}); err != nil {
			if err == ErrStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// mustGet fetches a page and fails unless it answers with code.
func mustGet(t *testing.T, c *http.Client, u string, code int) (string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != code {
		t.Fatalf("GET %s: status %d, want %d:\n%.1500s", u, resp.StatusCode, code, sb.String())
	}
	return sb.String(), resp.Header
}

func contains(t *testing.T, page string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func lacks(t *testing.T, page string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(page, b) {
			t.Errorf("page holds %q", b)
		}
	}
}

// noRawHostile checks that the hostile text never appears unescaped.
func noRawHostile(t *testing.T, page string) {
	t.Helper()
	lacks(t, page, `<script>alert`, `<img src=x`, "javascript:alert")
}

func TestAnalyticsPage(t *testing.T) {
	ts, _ := newTestServer(t, "")
	page, hdr := mustGet(t, ts.Client(), ts.URL+"/analytics", 200)
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://*.gr-assets.com") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP of /analytics: %q", csp)
	}
	contains(t, page,
		`id="chart-ratings"`, `id="chart-per-day"`, // the two distributions, drawn
		`data-category="rating 5" data-value="25"`, `data-category="rating 1" data-value="0"`, // every rating 0-5, zero included
		`data-category="2020-02-20" data-value="0"`, // a day without reviews is a zero column
		"reviews created from 2020-02-01 00:00 to 2020-02-29 00:00", ">60<",
		`<img src="https://images.gr-assets.com/books/1327882219m/4799.jpg" alt="" loading="lazy"`,
		`href="https://www.goodreads.com/book/show/4799.Cannery_Row"`,
		"4.50 ★ (12 reviews)", "12 reviews · 4.50 ★", "Most reviewed authors", "Ursula K. Le Guin",
		"nobody is in both top lists",                                     // best_authors is empty
		`<span class="rank" title="#3 by reviews, #1 by rating">1</span>`, // best_books: numbered by place
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
		`<details><summary>Numbers</summary>`)
	noRawHostile(t, page)
	// The nophoto image and an image on another host are never requested: placeholders.
	lacks(t, page, "nophoto/book/111x148", "evil.example")
	if n := strings.Count(page, `<span class="cover nophoto"`); n != 6 {
		t.Errorf("%d placeholders, want 6 (two books of three, in three tables)", n)
	}
	if n := strings.Count(page, `<figure class="card ranking"`); n != 6 {
		t.Errorf("%d ranking cards, want 6", n)
	}
	if n := strings.Count(page, `class="chart meter"`); n != 3*3+2 {
		t.Errorf("%d bars in the rankings, want 11", n)
	}
	// Text alternatives: every chart has a title and a description.
	for _, id := range []string{"chart-ratings", "chart-per-day"} {
		if !regexp.MustCompile(`id="` + id + `"[^>]*role="img"[^>]*><title>[^<]+</title><desc>[^<]+</desc>`).MatchString(page) {
			t.Errorf("chart %s lacks its title and description", id)
		}
	}
}

func TestAnalyticsAPI(t *testing.T) {
	ts, _ := newTestServer(t, "")
	body, _ := mustGet(t, ts.Client(), ts.URL+"/api/v1/analytics", 200)
	var v struct {
		WindowStart string `json:"window_start"`
		Reviews     int64  `json:"reviews"`
		Ratings     []struct {
			Rating  int   `json:"rating"`
			Reviews int64 `json:"reviews"`
		} `json:"ratings"`
		PerDay []struct {
			Day     string `json:"day"`
			Reviews int64  `json:"reviews"`
		} `json:"reviews_per_day"`
		Tables []struct {
			Table string `json:"table"`
			Rows  []struct {
				ID            int64    `json:"id"`
				Name          string   `json:"name"`
				AverageRating *float64 `json:"average_review_rating"`
				RatingRank    *int64   `json:"rating_rank"`
			} `json:"rows"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Reviews != 60 || len(v.Ratings) != 6 || v.Ratings[4].Reviews != 20 || v.Ratings[1].Reviews != 0 || len(v.PerDay) != 3 ||
		v.PerDay[1].Day != "2020-02-19" || len(v.Tables) != 6 || v.WindowStart != "2020-02-01T00:00:00Z" {
		t.Fatalf("analytics API: %+v", v)
	}
	if v.Tables[3].Table != "popular_books_review_count" || v.Tables[3].Rows[0].AverageRating != nil || v.Tables[4].Rows[0].AverageRating == nil ||
		*v.Tables[4].Rows[0].AverageRating != 4.5 || v.Tables[5].Rows[0].RatingRank == nil {
		t.Errorf("rankings: %+v", v.Tables)
	}
}

func TestBucketDays(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	unit, b := bucketDays([]DayCount{{d(2020, 2, 18), 1}, {d(2020, 2, 21), 2}})
	if unit != "day" || len(b) != 4 || b[0].Reviews != 1 || b[1].Reviews != 0 || b[3].Reviews != 2 || b[3].Label != "2020-02-21" {
		t.Errorf("days: %s %+v", unit, b)
	}
	// 2020-01-01 is a Wednesday: its week starts on Monday 2019-12-30.
	unit, b = bucketDays([]DayCount{{d(2020, 1, 1), 1}, {d(2020, 1, 5), 2}, {d(2020, 1, 6), 4}, {d(2020, 6, 1), 8}})
	if unit != "week" || b[0].Label != "week of 2019-12-30" || b[0].Reviews != 3 || b[1].Reviews != 4 || b[len(b)-1].Reviews != 8 {
		t.Errorf("weeks: %s %+v", unit, b[:2])
	}
	var total int64
	for _, x := range b {
		total += x.Reviews
	}
	if total != 15 {
		t.Errorf("weeks hold %d reviews, want 15", total)
	}
	unit, b = bucketDays([]DayCount{{d(2015, 3, 9), 1}, {d(2020, 1, 5), 2}})
	if unit != "month" || b[0].Label != "2015-03" || len(b) != 59 || b[58].Reviews != 2 {
		t.Errorf("months: %s %d %+v", unit, len(b), b[0])
	}
	if unit, b = bucketDays(nil); unit != "day" || b != nil {
		t.Errorf("no days: %s %v", unit, b)
	}
}

func TestCoverURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://images.gr-assets.com/books/1327882219m/4799.jpg":                                               "https://images.gr-assets.com/books/1327882219m/4799.jpg",
		"https://i.gr-assets.com/images/S/compressed.photo.goodreads.com/books/1565885727l/47769549._SX98_.jpg": "https://i.gr-assets.com/images/S/compressed.photo.goodreads.com/books/1565885727l/47769549._SX98_.jpg",
		"https://s.gr-assets.com/assets/nophoto/book/111x148-bcc042a9c91a29c1d680899eff700a03.png":              "",
		"http://images.gr-assets.com/books/1/2.jpg":                                                             "",
		"https://gr-assets.com.evil.example/x.jpg":                                                              "",
		"https://user@images.gr-assets.com/x.jpg":                                                               "",
		"javascript:alert(1)": "",
		"":                    "",
		"https://images.gr-assets.com/books/x y.jpg": "https://images.gr-assets.com/books/x%20y.jpg",
	} {
		if got := coverURL(in); got != want {
			t.Errorf("coverURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// addRun adds a finished run with its tasks and ledger to the backend.
func (b *memBackend) addRun(id string, start time.Time, state grpipe.State, etl time.Duration, rejected int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	end := start.Add(etl + 2*time.Second)
	b.runs = append([]grpipe.Run{{RunID: id, RunType: grpipe.RunScheduled, State: state, LogicalDate: start, StartedAt: start, EndedAt: end}}, b.runs...)
	b.tis[id] = []TaskInstance{
		{RunID: id, TaskID: "Begin_execution", Try: 1, MaxTries: 3, State: grpipe.StateSuccess, StartedAt: start, EndedAt: start.Add(time.Second)},
		{RunID: id, TaskID: "GoodReadsETLJob", Try: 1, MaxTries: 3, State: state, StartedAt: start.Add(time.Second), EndedAt: start.Add(time.Second + etl), Worker: "worker-7:4242"},
	}
	b.sums[id] = &grpipe.RunSummary{Run: grpipe.Run{RunID: id, State: state}, Tables: map[string]grpipe.Ledger{
		"reviews": {Read: 500 + rejected, Rejected: rejected, Superseded: 440, Staged: 60},
		"users":   {Read: 500, Superseded: 444, Staged: 56}}}
}

func TestDurationPage(t *testing.T) {
	ts, b := newTestServer(t, "")
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	b.addRun("scheduled__a", t0, grpipe.StateSuccess, 30*time.Second, 0)
	b.addRun("scheduled__b", t0.Add(time.Hour), grpipe.StateSuccess, 45*time.Second, 7)
	c := ts.Client()
	d := "/dags/" + grpipe.DAGID
	page, _ := mustGet(t, c, ts.URL+d+"/duration", 200)
	contains(t, page, `id="chart-durations"`, `class="chart lines`, `id="chart-rows"`, `id="chart-rejected"`,
		// GoodReadsETLJob's line: 2 s (manual__1's failed try 2 is its last), then 30 s and 45 s.
		`data-series="GoodReadsETLJob"`, `data-value="30"`, `data-value="45"`,
		// Rows per run: rejected + superseded + staged, stacked.
		`data-series="superseded" data-category="scheduled__b (scheduled, success, logical date 2026-11-28 11:00:00Z)" data-value="884"`,
		`data-series="rejected" data-category="scheduled__b (scheduled, success, logical date 2026-11-28 11:00:00Z)" data-value="7"`,
		// Runs by logical date, linked, named in full on hover.
		`>11-28 11:00:00<`, `class="sub">scheduled<`, `href="/dags/goodreads_pipeline/runs/scheduled__b"`, "scheduled__b (scheduled, success, logical date 2026-11-28 11:00:00Z)",
		`id="durations"`)
	// Oldest on the left: manual__1, then a, then b.
	if i, j := strings.Index(page, `scheduled__a (scheduled`), strings.Index(page, `scheduled__b (scheduled`); i < 0 || j < i {
		t.Errorf("runs are not oldest first")
	}
	page, _ = mustGet(t, c, ts.URL+d+"/duration?chart=stacked&runs=2", 200)
	contains(t, page, `class="chart columns`, `data-series="GoodReadsETLJob" data-category="scheduled__b`)
	lacks(t, page, "manual__1 (")
	mustGet(t, c, ts.URL+d+"/duration?runs=0", 400)
	mustGet(t, c, ts.URL+d+"/duration?runs=x", 400)

	body, _ := mustGet(t, c, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/duration?limit=2", 200)
	var v struct {
		Runs []struct {
			ID     string                   `json:"dag_run_id"`
			Tasks  map[string]*float64      `json:"task_durations"`
			Tables map[string]grpipe.Ledger `json:"tables"`
		} `json:"dag_runs"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Runs) != 2 || v.Runs[1].ID != "scheduled__b" ||
		*v.Runs[1].Tasks["GoodReadsETLJob"] != 45 || v.Runs[1].Tables["reviews"].Rejected != 7 {
		t.Fatalf("duration API: %v %s", err, body)
	}
	body, _ = mustGet(t, c, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns/~/taskInstances?limit=2", 200)
	var tis struct {
		TI []apiTaskInstance `json:"task_instances"`
	}
	if err := json.Unmarshal([]byte(body), &tis); err != nil || len(tis.TI) != 8 || tis.TI[5].DagRunID != "scheduled__b" ||
		tis.TI[5].TaskID != "GoodReadsETLJob" || *tis.TI[5].Duration != 45 || tis.TI[5].Hostname != "worker-7:4242" {
		t.Fatalf("taskInstances of ~: %v %s", err, body)
	}
	mustGet(t, c, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns/~/taskInstances?limit=999", 400)
}

// A run that refused a file staged nothing, so its ledger is empty; the
// rejected-rows chart counts its rows in its quarantine instead.
func TestDurationRefusedRun(t *testing.T) {
	ts, b := newTestServer(t, "")
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	b.addRun("scheduled__ok", t0, grpipe.StateSuccess, 30*time.Second, 2)
	b.addRun("scheduled__refused", t0.Add(time.Hour), grpipe.StateFailed, 5*time.Second, 0)
	b.mu.Lock()
	b.sums["scheduled__refused"].Tables = grpipe.NewLedgers()
	for i := 0; i < 5; i++ {
		b.rej["scheduled__refused"] = append(b.rej["scheduled__refused"], quarantine.EntityRow{Entity: "books",
			Row: quarantine.Row{SourceFile: "book.csv", Line: int64(2 + i), Reason: "book_id is empty", Raw: ",x"}})
	}
	b.rej["scheduled__refused"] = append(b.rej["scheduled__refused"], quarantine.EntityRow{Entity: "reviews",
		Row: quarantine.Row{SourceFile: "reviews.csv", Line: 9, Reason: "review_id is empty", Raw: ",y"}})
	b.mu.Unlock()
	c := ts.Client()
	page, _ := mustGet(t, c, ts.URL+"/dags/"+grpipe.DAGID+"/duration", 200)
	refused := "scheduled__refused (scheduled, failed, logical date 2026-11-28 11:00:00Z)"
	contains(t, page, "counted in its quarantine",
		`data-series="books" data-category="`+refused+`" data-value="5"`,
		`data-series="reviews" data-category="`+refused+`" data-value="1"`,
		`data-series="rejected" data-category="`+refused+`" data-value="6"`,
		`href="/dags/goodreads_pipeline/runs/scheduled__refused/quarantine"`)
	// Only the rejected rows are known: no staged or superseded segment.
	lacks(t, page, `data-series="staged" data-category="`+refused, `data-series="superseded" data-category="`+refused)

	body, _ := mustGet(t, c, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/duration?limit=2", 200)
	var v struct {
		Runs []struct {
			ID             string                   `json:"dag_run_id"`
			Tables         map[string]grpipe.Ledger `json:"tables"`
			FromQuarantine bool                     `json:"rejected_from_quarantine"`
		} `json:"dag_runs"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Runs) != 2 || v.Runs[0].FromQuarantine ||
		!v.Runs[1].FromQuarantine || v.Runs[1].Tables["books"].Rejected != 5 || v.Runs[1].Tables["reviews"].Rejected != 1 {
		t.Fatalf("duration API: %v %s", err, body)
	}
}

func TestGantt(t *testing.T) {
	ts, b := newTestServer(t, "")
	b.addRun("scheduled__w", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), grpipe.StateSuccess, 90*time.Second, 0)
	c := ts.Client()
	d := "/dags/" + grpipe.DAGID
	page, _ := mustGet(t, c, ts.URL+d+"/runs/manual__1/gantt", 200)
	contains(t, page, `class="chart timeline`, `class="tick"`, ">0s<", ">5s<", "start 2026-11-27 10:00:00.000 UTC", "end 10:00:09.000 UTC (+9s)",
		`data-state="up_for_retry" data-task="GoodReadsETLJob" data-try="1"`, `data-state="failed" data-task="GoodReadsETLJob" data-try="2"`,
		"GoodReadsETLJob · try 2 of 3 · failed\nstart 2026-11-27 10:00:05Z\nend 2026-11-27 10:00:09Z\nduration 4.0s\nerror: boom",
		`href="/dags/goodreads_pipeline/runs/manual__1/tasks/GoodReadsETLJob?try=1"`, `id="tries"`)
	lacks(t, page, "\nworker ", "data-worker")
	if n := strings.Count(page, `class="bar"`); n != 3 {
		t.Errorf("%d bars, want 3 (Begin_execution and two tries of the ETL)", n)
	}
	page, _ = mustGet(t, c, ts.URL+d+"/runs/scheduled__w/gantt", 200)
	contains(t, page, "\nworker worker-7:4242", `data-worker="worker-7:4242"`, ">1m<", "(+1m31s)")

	body, _ := mustGet(t, c, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns/manual__1/taskInstances/GoodReadsETLJob/tries", 200)
	var tries struct {
		TI []apiTaskInstance `json:"task_instances"`
	}
	if err := json.Unmarshal([]byte(body), &tries); err != nil || len(tries.TI) != 2 || tries.TI[0].TryNumber != 1 || *tries.TI[0].State != "up_for_retry" || *tries.TI[1].Duration != 4 {
		t.Fatalf("tries: %v %s", err, body)
	}
	mustGet(t, c, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns/manual__1/taskInstances/Nope/tries", 404)
}

func TestGridRunLabels(t *testing.T) {
	ts, b := newTestServer(t, "")
	b.addRun("scheduled__later", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), grpipe.StateSuccess, time.Second, 0)
	page, _ := mustGet(t, ts.Client(), ts.URL+"/dags/"+grpipe.DAGID+"/grid", 200)
	first, second := strings.Index(page, ">11-27 10:00:00 m<"), strings.Index(page, ">11-28 10:00:00 s<")
	if first < 0 || second < first {
		t.Fatalf("run labels missing or newest not on the right:\n%s", page)
	}
	contains(t, page, `class="runlabel"`, "scheduled__later (scheduled, success, logical date 2026-11-28 10:00:00Z), 3.0s",
		`data-task="GoodReadsETLJob" data-run="scheduled__later"`)
}

func TestLivePages(t *testing.T) {
	ts, b := newTestServer(t, "")
	c := ts.Client()
	d := "/dags/" + grpipe.DAGID
	page, _ := mustGet(t, c, ts.URL+d+"/runs/manual__1", 200)
	lacks(t, page, "data-live-run")
	b.mu.Lock()
	b.runs = append([]grpipe.Run{{RunID: "manual__run", RunType: grpipe.RunManual, State: grpipe.StateRunning, StartedAt: time.Now()}}, b.runs...)
	b.tis["manual__run"] = []TaskInstance{{RunID: "manual__run", TaskID: "Begin_execution", Try: 1, State: grpipe.StateRunning, StartedAt: time.Now()}}
	b.mu.Unlock()
	for _, p := range []string{"/runs/manual__run", "/runs/manual__run/gantt", "/graph", "/grid", "/runs/manual__run/tasks/Begin_execution"} {
		page, _ = mustGet(t, c, ts.URL+d+p, 200)
		contains(t, page, `data-live-run="manual__run"`, `class="live"`)
	}
	page, _ = mustGet(t, c, ts.URL+d+"/runs/manual__run/gantt", 200)
	contains(t, page, `data-live-grow="1"`, "running for")
	page, _ = mustGet(t, c, ts.URL+"/dags", 200)
	contains(t, page, `data-live-run="manual__run"`)
}

func TestExplorer(t *testing.T) {
	ts, _ := newTestServer(t, "")
	c := ts.Client()
	page, _ := mustGet(t, c, ts.URL+"/warehouse", 200)
	contains(t, page, `id="counts"`, `href="/warehouse/tables/goodreads_warehouse.books"`, ">120<", "goodreads_warehouse.reviews <span class=\"muted\">(not created yet)", `href="/warehouse/query"`)

	page, _ = mustGet(t, c, ts.URL+"/warehouse/tables/goodreads_warehouse.books", 200)
	contains(t, page, "120 rows", "rows 1–50 · page 1 of 3", `href="/warehouse/tables/goodreads_warehouse.books?after=50&amp;page=2" rel="next"`,
		`<a href="/warehouse/tables/goodreads_warehouse.books?desc=1&amp;sort=book_id"`, "book_id</a> ▲",
		`<td class="null">NULL</td>`, "&lt;script&gt;alert(&#34;x&#34;)", `href="/warehouse/tables/goodreads_warehouse.books/csv" id="csv"`)
	noRawHostile(t, page)
	if n := strings.Count(page, `<td class="rownum">`); n != 50 {
		t.Errorf("%d rows on the page, want 50", n)
	}
	lacks(t, page, `rel="prev"`, `rel="first"`)
	// Keyset paging: the links carry the first or last row's sort value and key.
	books := ts.URL + "/warehouse/tables/goodreads_warehouse.books"
	page, _ = mustGet(t, c, books+"?after=50&page=2", 200)
	contains(t, page, "rows 51–100 · page 2 of 3", ">Book 051<", ">Book 100<", `href="/warehouse/tables/goodreads_warehouse.books" rel="prev"`,
		`href="/warehouse/tables/goodreads_warehouse.books?after=100&amp;page=3" rel="next"`)
	lacks(t, page, ">Book 050<", ">Book 101<", `rel="first"`)
	page, _ = mustGet(t, c, books+"?after=100&page=3", 200)
	contains(t, page, "rows 101–120 · page 3 of 3", ">Book 120<", `href="/warehouse/tables/goodreads_warehouse.books?before=101&amp;page=2" rel="prev"`,
		`href="/warehouse/tables/goodreads_warehouse.books" rel="first"`)
	lacks(t, page, `rel="next"`, ">Book 100<")
	page, _ = mustGet(t, c, books+"?before=101&page=2", 200)
	contains(t, page, "rows 51–100 · page 2 of 3", ">Book 051<", ">Book 100<", `href="/warehouse/tables/goodreads_warehouse.books?after=100&amp;page=3" rel="next"`)
	lacks(t, page, ">Book 050<", ">Book 101<")
	// Sorted by another column the links carry its value too; the sort
	// links, the search and the CSV start from the view's first row.
	page, _ = mustGet(t, c, books+"?sort=num_pages&desc=1", 200)
	contains(t, page, `href="/warehouse/tables/goodreads_warehouse.books?after=51&amp;after_val=949&amp;desc=1&amp;page=2&amp;sort=num_pages" rel="next"`)
	page, _ = mustGet(t, c, books+"?after=101&after_val=899&desc=1&page=3&sort=num_pages", 200)
	contains(t, page, "rows 101–120 · page 3 of 3", `<td class="null">NULL</td>`, `href="/warehouse/tables/goodreads_warehouse.books/csv?desc=1&amp;sort=num_pages" id="csv"`,
		`href="/warehouse/tables/goodreads_warehouse.books?before=102&amp;before_val=898&amp;desc=1&amp;page=2&amp;sort=num_pages" rel="prev"`,
		`<a href="/warehouse/tables/goodreads_warehouse.books?sort=num_pages" title=`)
	lacks(t, page, `rel="next"`, `csv?after`)
	mustGet(t, c, books+"?after=", 400)
	mustGet(t, c, books+"?after=1&before=3", 400)
	// A hand-written page number without a cursor pages by offset.
	page, _ = mustGet(t, c, ts.URL+"/warehouse/tables/goodreads_warehouse.books?sort=num_pages&desc=1&page=3", 200)
	contains(t, page, "rows 101–120 · page 3 of 3", `rel="prev"`, "num_pages</a> ▼")
	lacks(t, page, `rel="next"`)
	page, _ = mustGet(t, c, ts.URL+"/warehouse/tables/goodreads_warehouse.books?q=book+11", 200)
	contains(t, page, "10 rows contain “book 11”", `name="q" value="book 11"`, `csv?q=book&#43;11`)

	mustGet(t, c, ts.URL+"/warehouse/tables/goodreads_warehouse.nope", 404)
	mustGet(t, c, ts.URL+"/warehouse/tables/goodreads_warehouse.books?sort=nope", 404)
	mustGet(t, c, ts.URL+"/warehouse/tables/goodreads_warehouse.books?page=0", 400)
	mustGet(t, c, ts.URL+"/warehouse/tables/goodreads_warehouse.books?q="+strings.Repeat("x", 201), 400)

	// The CSV of the current view: sorted and filtered, the hostile title quoted as CSV, not altered.
	body, hdr := mustGet(t, c, ts.URL+"/warehouse/tables/goodreads_warehouse.books/csv?sort=book_id&desc=1", 200)
	if hdr.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(hdr.Get("Content-Disposition"), `filename="goodreads_warehouse.books.csv"`) {
		t.Errorf("CSV headers %v", hdr)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) != 121 || recs[0][1] != "title" || recs[1][0] != "120" || recs[114][1] != hostile || recs[112][2] != "" {
		t.Fatalf("CSV: %v, %d records, %q", err, len(recs), recs[:3])
	}

	body, _ = mustGet(t, c, ts.URL+"/api/v1/warehouse/tables/goodreads_warehouse.books/rows?order_by=num_pages&offset=118&limit=5", 200)
	var rows struct {
		Columns []string    `json:"columns"`
		Rows    [][]*string `json:"rows"`
		Total   int64       `json:"total_entries"`
		More    bool        `json:"more"`
	}
	if err := json.Unmarshal([]byte(body), &rows); err != nil || rows.Total != 120 || len(rows.Rows) != 2 || rows.More || *rows.Rows[0][0] != "2" {
		t.Fatalf("rows API: %v %s", err, body)
	}
	body, _ = mustGet(t, c, ts.URL+"/api/v1/warehouse/tables", 200)
	contains(t, body, `"name": "goodreads_warehouse.books"`, `"rows": 120`, `"type": "VARCHAR"`)
	mustGet(t, c, ts.URL+"/api/v1/warehouse/tables/goodreads_warehouse.books/rows?limit=5000", 400)
	body, _ = mustGet(t, c, ts.URL+"/api/v1/warehouse/tables/goodreads_warehouse.books/rows?order_by=num_pages&desc=1&limit=2&after=5&after_val=995", 200)
	contains(t, body, `"first": {`, `"key": "6"`, `"value": "994"`, `"key": "7"`, `"prev": true`, `"more": true`)
	mustGet(t, c, ts.URL+"/api/v1/warehouse/tables/goodreads_warehouse.books/rows?after=5&before=9", 400)
}

func TestExportCap(t *testing.T) {
	b := newMem()
	s, err := New(b, Options{Addr: "127.0.0.1:0", ExportRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	body, _ := mustGet(t, ts.Client(), ts.URL+"/warehouse/tables/goodreads_warehouse.books/csv", 200)
	if recs, err := csv.NewReader(strings.NewReader(body)).ReadAll(); err != nil || len(recs) != 11 {
		t.Fatalf("capped CSV: %v, %d records", err, len(recs))
	}
	page, _ := mustGet(t, ts.Client(), ts.URL+"/warehouse/tables/goodreads_warehouse.books", 200)
	contains(t, page, "(the first 10 rows)")
}

// TestSQLBox checks the read-only SQL box: refusals with their reasons
// (never reaching the warehouse), paging, escaping, and the time limit.
func TestSQLBox(t *testing.T) {
	b := newMem()
	s, err := New(b, Options{Addr: "127.0.0.1:0", QueryTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := ts.Client()
	q := func(sql string, extra ...string) string {
		u := ts.URL + "/warehouse/query?sql=" + url.QueryEscape(sql)
		for _, e := range extra {
			u += "&" + e
		}
		return u
	}
	page, _ := mustGet(t, c, ts.URL+"/warehouse/query", 200)
	contains(t, page, `<textarea id="sql" name="sql"`, "For example", "it may run 200ms")

	for _, tc := range []struct{ sql, want string }{
		{"DELETE FROM goodreads_warehouse.reviews", "DELETE statements are refused"},
		{"drop table goodreads_warehouse.books", "DROP statements are refused"},
		{"INSERT INTO x VALUES (1)", "INSERT statements are refused"},
		{"COPY goodreads_warehouse.reviews TO '/tmp/x.csv'", "COPY statements are refused"},
		{"SET memory_limit = '1GB'", "SET statements are refused"},
		{"ATTACH '/tmp/other.db' AS o", "ATTACH statements are refused"},
		{"PRAGMA enable_external_access", "PRAGMA statements are refused"},
		{"SELECT 1; DELETE FROM goodreads_warehouse.reviews", "more than one"},
		{"/* SELECT */ UPDATE goodreads_warehouse.books SET title = 'x'", "UPDATE statements are refused"},
		{"SELECT 'unterminated", "unterminated ' quote"},
		{"-- only a comment", "empty"},
		{"SELECT " + strings.Repeat("1+", 10001) + "1", "at most 20000"},
	} {
		t.Run(tc.sql[:min(len(tc.sql), 30)], func(t *testing.T) {
			page, _ := mustGet(t, c, q(tc.sql), 400)
			contains(t, page, `id="sql-error"`, "Refused: ", html.EscapeString(tc.want))
			body, _ := mustGet(t, c, ts.URL+"/api/v1/warehouse/query?sql="+url.QueryEscape(tc.sql), 400)
			contains(t, body, `"status": 400`, tc.want)
			mustGet(t, c, ts.URL+"/warehouse/query/csv?sql="+url.QueryEscape(tc.sql), 400)
		})
	}
	if len(b.charts.queries) != 0 {
		t.Fatalf("refused statements reached the warehouse: %q", b.charts.queries)
	}

	// A reading statement: paged, escaped, downloadable.
	sql := "WITH t AS (SELECT 1) SELECT * FROM t"
	page, _ = mustGet(t, c, q(sql), 200)
	contains(t, page, `id="result"`, "<th>n</th>", "Rows 1–50", `rel="next"`, "&lt;script&gt;")
	noRawHostile(t, page)
	page, _ = mustGet(t, c, q(sql, "page=3"), 200)
	contains(t, page, "Rows 101–120", `rel="prev"`)
	lacks(t, page, `rel="next"`)
	if len(b.charts.queries) != 2 || b.charts.queries[0] != sql {
		t.Errorf("statements run: %q", b.charts.queries)
	}
	body, _ := mustGet(t, c, ts.URL+"/warehouse/query/csv?sql="+url.QueryEscape(sql), 200)
	if recs, err := csv.NewReader(strings.NewReader(body)).ReadAll(); err != nil || len(recs) != 121 || recs[1][1] != hostile {
		t.Fatalf("query CSV: %v %d", err, len(recs))
	}
	body, _ = mustGet(t, c, ts.URL+"/api/v1/warehouse/query?sql="+url.QueryEscape(sql)+"&offset=100&limit=50", 200)
	contains(t, body, `"more": false`, `"row 101"`, `"columns": [`)

	// The warehouse's own refusal (the read-only session) is shown as such.
	b.charts.queryErr = fmt.Errorf("Catalog Error: Table with name nope does not exist!")
	page, _ = mustGet(t, c, q("SELECT * FROM nope"), 400)
	contains(t, page, "the warehouse refused the query: Catalog Error: Table with name nope does not exist!")
	b.charts.queryErr = nil

	// A statement that runs too long is stopped at the time limit.
	b.charts.block = true
	start := time.Now()
	page, _ = mustGet(t, c, q("SELECT count(*) FROM goodreads_warehouse.reviews a, goodreads_warehouse.reviews b"), 504)
	contains(t, page, "ran longer than 200ms and was stopped")
	if time.Since(start) > 5*time.Second {
		t.Errorf("the time limit did not stop the statement")
	}
	body, _ = mustGet(t, c, ts.URL+"/api/v1/warehouse/query?sql=SELECT+1", 504)
	contains(t, body, "ran longer than 200ms")
}

func TestReasonKind(t *testing.T) {
	for in, want := range map[string]string{
		"expected 15 fields as in the header, found 3":                               "expected N fields as in the header, found N",
		`user_id "abc" is not an integer`:                                            `user_id "…" is not an integer`,
		`review_rating 7 out of range [0, 5]`:                                        `review_rating N out of range [0, 5]`,
		`review_rating -1.5 out of range [0, 5]`:                                     `review_rating N out of range [0, 5]`,
		`unexpected "\"" after a closing quote`:                                      `unexpected "…" after a closing quote`,
		`book_id -4 out of range: ids are not negative`:                              `book_id N out of range: ids are not negative`,
		"unterminated quoted field":                                                  "unterminated quoted field",
		`row is 9000000 bytes after cleaning, over the limit of 8388608 bytes a row`: `row is N bytes after cleaning, over the limit of N bytes a row`,
		"review_id2 is empty":                                                        "review_id2 is empty",
		"":                                                                           "",
	} {
		if got := reasonKind(in); got != want {
			t.Errorf("reasonKind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuarantineView(t *testing.T) {
	ts, b := newTestServer(t, "")
	b.rej["manual__1"] = append(b.rej["manual__1"],
		quarantine.EntityRow{Entity: "reviews", Row: quarantine.Row{SourceFile: "reviews.csv", Line: 600, Reason: "expected 15 fields as in the header, found 4", Raw: hostile}},
		quarantine.EntityRow{Entity: "reviews", Row: quarantine.Row{SourceFile: "reviews-2.csv", Line: 7, Column: "review_rating", Reason: "review_rating 9 out of range [0, 5]", Raw: "1,2,3"}},
		quarantine.EntityRow{Entity: "users", Row: quarantine.Row{SourceFile: "user.csv", Line: 3, Column: "user_id", Reason: `user_id "x" is not an integer`, Raw: "x,bob"}},
	)
	for i := 0; i < 60; i++ {
		b.rej["manual__1"] = append(b.rej["manual__1"], quarantine.EntityRow{Entity: "books", Row: quarantine.Row{SourceFile: "book.csv", Line: int64(10 + i), Column: "num_pages",
			Reason: fmt.Sprintf(`num_pages "%d pages" is not an integer`, i), Raw: "row"}})
	}
	c := ts.Client()
	base := ts.URL + "/dags/" + grpipe.DAGID + "/runs/manual__1/quarantine"
	page, _ := mustGet(t, c, base, 200)
	contains(t, page, "64 rejected rows in this run", `id="chart-reasons"`, `id="chart-files"`,
		`data-value="60" data-label="num_pages &#34;…&#34; is not an integer"`, `data-value="2" data-label="expected N fields as in the header, found N"`,
		`data-value="60" data-label="book.csv"`, `data-value="2" data-label="reviews.csv"`,
		"rows 1–50 of 64 · page 1 of 2", `rel="next"`, `<code class="raw">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;`,
		`href="/dags/goodreads_pipeline/runs/manual__1/quarantine/csv" id="csv"`)
	noRawHostile(t, page)

	page, _ = mustGet(t, c, base+"?reason="+url.QueryEscape("expected N fields as in the header, found N"), 200)
	contains(t, page, "64 rejected rows in this run, 2 shown by the filter", "rows 1–2 of 2", "not,a,review", "found 4", "show all",
		`quarantine/csv?reason=expected&#43;N&#43;fields`)
	lacks(t, page, "x,bob")
	page, _ = mustGet(t, c, base+"?file=user.csv&entity=users", 200)
	contains(t, page, "x,bob", "rows 1–1 of 1")
	mustGet(t, c, base+"?entity=shelves", 404)
	mustGet(t, c, base+"?page=0", 400)

	body, hdr := mustGet(t, c, base+"/csv?entity=reviews", 200)
	if !strings.Contains(hdr.Get("Content-Disposition"), `filename="quarantine_manual__1.csv"`) {
		t.Errorf("download name: %v", hdr)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != "entity,source_file,line,column_name,reason,raw" || recs[2][5] != hostile || recs[3][2] != "7" {
		t.Fatalf("quarantine CSV: %v %q", err, recs)
	}
	body, _ = mustGet(t, c, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns/manual__1/quarantine?entity=books&offset=55&limit=10", 200)
	var v struct {
		Total    int64 `json:"total_rejected"`
		Matched  int64 `json:"total_entries"`
		ByReason []struct {
			Key  string `json:"key"`
			Rows int64  `json:"rows"`
		} `json:"by_reason"`
		Rows []struct {
			Line int64 `json:"line"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Total != 64 || v.Matched != 60 || len(v.Rows) != 5 || v.Rows[0].Line != 65 ||
		len(v.ByReason) != 1 || v.ByReason[0].Rows != 60 {
		t.Fatalf("quarantine API: %v %s", err, body)
	}
	// A row's fields are the quarantine file's columns, entity first, in order.
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(body)); err != nil ||
		!strings.Contains(compact.String(), `"rows":[{"entity":"books","source_file":"book.csv","line":65,"column_name":"num_pages","reason":"num_pages \"55 pages\" is not an integer","raw":"row"},`) {
		t.Fatalf("quarantine API rows: %v %s", err, compact.String())
	}
	mustGet(t, c, ts.URL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns/nope/quarantine", 404)
	page, _ = mustGet(t, c, ts.URL+"/dags/"+grpipe.DAGID+"/runs/manual__1/quarantine?entity=authors", 200)
	contains(t, page, "No rejected rows for authors match")
}
