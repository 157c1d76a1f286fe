package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
)

// chromium returns the path of Debian's chromium; without it the browser
// test is skipped locally and fails in CI (scripts/test installs it).
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed: scripts/test installs Debian's chromium")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	return p
}

// screenshotDir is where screenshots go: docs/screenshots when
// GRPIPE_UPDATE_SCREENSHOTS=1 (to refresh the README's pictures), else a temp dir.
func screenshotDir(t *testing.T) string {
	if os.Getenv("GRPIPE_UPDATE_SCREENSHOTS") == "1" {
		dir := filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// holdRun is an observer that holds the first manual run after its first
// task (Begin_execution) ended, until the test releases it (or two minutes
// pass): the test opens the live pages while the run is running, at a known
// point of it.
type holdRun struct {
	once             sync.Once
	reached, release chan struct{}
}

func newHoldRun() *holdRun {
	return &holdRun{reached: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdRun) TaskEnded(ctx context.Context, run grpipe.Run, t grpipe.TaskSummary) {
	if run.RunType != grpipe.RunManual || t.TaskID != grpipe.TaskBegin {
		return
	}
	h.once.Do(func() {
		close(h.reached)
		select {
		case <-h.release:
		case <-ctx.Done():
		case <-time.After(2 * time.Minute):
		}
	})
}

func (h *holdRun) RunEnded(context.Context, *grpipe.RunSummary)              {}
func (h *holdRun) TaskRetry(context.Context, grpipe.Run, string, int, error) {}

// TestBrowserUI runs the sample pipeline (with one broken row), serves the
// UI beside a scheduler in one process, and drives headless Chromium through
// the graph, grid, Gantt, run and quarantine views, then triggers a run from
// the UI, watches it on the grid and on the graph (in a second tab) while
// the scheduler runs it, and waits for it to finish.
func TestBrowserUI(t *testing.T) {
	chrome := chromium(t)
	home := t.TempDir()
	env := map[string]string{"GRPIPE_HOME": home}
	landDirty(t, env)
	r := grpipeCmd(t, env, "run", "--json")
	if r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	var sum grpipe.RunSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}

	addr := freePort(t)
	hold := newHoldRun()
	defer func() {
		select {
		case <-hold.release:
		default:
			close(hold.release)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var schedErr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"scheduler", "--schedule", "@every 24h", "--web", addr}, &bytes.Buffer{}, &schedErr,
			func(k string) string { return env[k] }, hooks{poll: 300 * time.Millisecond, options: []app.Option{app.WithObservers(hold)}})
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("scheduler exit %d: %s", code, schedErr.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("scheduler did not stop")
		}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web UI did not come up: %v\n%s", err, schedErr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	shots := screenshotDir(t)

	visit := func(path, wait string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(wait))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
	}
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return n
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if len(buf) < 1000 || !bytes.HasPrefix(buf, []byte("\x89PNG")) {
			t.Fatalf("screenshot %s is not a PNG", name)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dag := "/dags/" + grpipe.DAGID

	// Graph: the 15 tasks, all green for the sample run.
	visit(dag+"/graph?run_id="+sum.RunID, "#graph")
	if n := eval(`document.querySelectorAll("#graph g.node").length`); n != 15 {
		t.Errorf("graph shows %d tasks, want 15", n)
	}
	if n := eval(`document.querySelectorAll('#graph g.node[data-state="success"]').length`); n != 15 {
		t.Errorf("graph shows %d successful tasks, want 15", n)
	}
	if n := eval(`document.querySelectorAll("#graph path[marker-end]").length`); n != 19 {
		t.Errorf("graph shows %d edges, want the original's 19", n)
	}
	shot("graph")

	// Grid: one run × 15 tasks.
	visit(dag+"/grid", "#grid")
	if n := eval(`document.querySelectorAll("#grid a.cell").length`); n%15 != 0 || n == 0 {
		t.Errorf("grid shows %d cells, want 15 per run", n)
	}
	shot("grid")

	// Run: the ledger and the checks.
	visit(dag+"/runs/"+sum.RunID, "#ledger")
	ledger := text("#ledger")
	for _, want := range []string{"reviews", "501", "440", "users", "500", "444"} {
		if !strings.Contains(ledger, want) {
			t.Errorf("run page ledger lacks %q:\n%s", want, ledger)
		}
	}
	if n := eval(`document.querySelectorAll("#checks tbody tr").length`); n != len(sum.Checks) {
		t.Errorf("run page shows %d checks, the run has %d", n, len(sum.Checks))
	}
	shot("run")

	// Gantt: a bar for every task.
	visit(dag+"/runs/"+sum.RunID+"/gantt", ".gantt")
	if n := eval(`document.querySelectorAll(".gantt rect.bar").length`); n != 15 {
		t.Errorf("Gantt shows %d bars, want 15", n)
	}

	// Quarantine: the broken row with its line and reason.
	visit(dag+"/runs/"+sum.RunID+"/quarantine?entity=reviews", "#rejected")
	q := text("#rejected")
	for _, want := range []string{"reviews.csv", "502", "expected 15 fields", "not,a,review"} {
		if !strings.Contains(q, want) {
			t.Errorf("quarantine view lacks %q:\n%s", want, q)
		}
	}

	// Task instance: the log of the ETL task.
	visit(dag+"/runs/"+sum.RunID+"/tasks/GoodReadsETLJob", "#log")
	if log := text("#log"); !strings.Contains(log, "claimed") {
		t.Errorf("ETL task log lacks its claim lines:\n%.500s", log)
	}

	// Trigger a run from the DAGs page; the scheduler runs it to success.
	visit("/dags", "#trigger")
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#trigger")), chromedp.WaitVisible(chromedp.CSS("#grid"))); err != nil {
		t.Fatalf("trigger: %v", err)
	}
	loc, _ := chromedp.Run(bctx, chromedp.Location())
	triggered, err := url.QueryUnescape(strings.TrimPrefix(loc[strings.Index(loc, "triggered="):], "triggered="))
	if err != nil || !strings.HasPrefix(triggered, "manual__") {
		t.Fatalf("trigger led to %s", loc)
	}
	// The run is held after its first task: the grid shows it unfinished.
	select {
	case <-hold.reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("the triggered run %s did not finish its first task\n%s", triggered, schedErr.String())
	}
	eval(`window.grpipeMark = 7; 1`)
	live := `document.querySelectorAll('#grid a.runcell[data-run="` + triggered + `"][data-state="success"]').length`
	if n := eval(live); n != 0 {
		t.Errorf("the grid shows the held run %s succeeded", triggered)
	}
	// The graph of the run, in a second tab: the first task is green, the
	// others not yet.
	gctx, gcancel := chromedp.NewContext(bctx)
	defer gcancel()
	graphEval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(gctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("graph tab: %s: %v", js, err)
		}
		return n
	}
	if err := chromedp.Do(gctx, chromedp.Navigate(base+dag+"/graph?run_id="+url.QueryEscape(triggered)), chromedp.WaitVisible(chromedp.CSS("#graph"))); err != nil {
		t.Fatalf("open the graph of %s: %v", triggered, err)
	}
	succeeded := `document.querySelectorAll('#graph g.node[data-state="success"]').length`
	if n := graphEval(`document.querySelectorAll('#graph g.node[data-task="` + grpipe.TaskBegin + `"][data-state="success"]').length`); n != 1 {
		t.Errorf("the graph of the held run does not show %s succeeded", grpipe.TaskBegin)
	}
	if n := graphEval(succeeded); n < 1 || n >= 15 {
		t.Errorf("the graph of the held run shows %d tasks succeeded, want the first only", n)
	}
	if n := graphEval(`document.body.getAttribute("data-live-run") === "` + triggered + `" ? 1 : 0`); n != 1 {
		t.Errorf("the graph of the running run %s does not follow it", triggered)
	}
	graphEval(`window.grpipeMark = 9; 1`)
	// Let the run go on: the graph colours each task as it changes, in
	// place (its mark survives: no reload), until all 15 have succeeded;
	// the grid's square turns green in place too.
	close(hold.release)
	seen := map[int]bool{}
	for end := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		n := graphEval(succeeded)
		seen[n] = true
		if n == 15 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the graph did not show run %s succeed without a reload (saw %v tasks succeeded)\n%s", triggered, seen, schedErr.String())
		}
	}
	if graphEval(`window.grpipeMark || 0`) != 9 {
		t.Errorf("the graph page was reloaded; it should update in place")
	}
	t.Logf("the graph showed %v tasks succeeded as the run went on", seen)
	gcancel()
	for end := time.Now().Add(60 * time.Second); eval(live) != 1; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the grid did not show run %s succeed without a reload\n%s", triggered, schedErr.String())
		}
	}
	if eval(`window.grpipeMark || 0`) != 7 {
		t.Errorf("the grid page was reloaded; it should update in place")
	}
	var state string
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		resp, err := http.Get(base + "/api/v1/dags/" + grpipe.DAGID + "/dagRuns/" + triggered)
		if err != nil {
			t.Fatal(err)
		}
		var run struct {
			State string `json:"state"`
		}
		json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		if state = run.State; state == "success" || state == "failed" {
			break
		}
	}
	if state != "success" {
		t.Fatalf("triggered run %s ended %q\n%s", triggered, state, schedErr.String())
	}
	visit(dag+"/grid", "#grid")
	if n := eval(`document.querySelectorAll('#grid a.runcell[data-state="success"]').length`); n < 2 {
		t.Errorf("grid shows %d successful runs after the trigger, want 2 or more", n)
	}
	shot("grid-after-trigger")
	visit("/dags", "#trigger")
	shot("dags")
	visit("/warehouse", "#counts")
	if c := text("#counts"); !strings.Contains(c, "goodreads_warehouse.reviews") || !strings.Contains(c, "60") {
		t.Errorf("warehouse view: %s", c)
	}
	shot("warehouse")
	chartsAfterTwoRuns(t, bctx, base, sum.RunID, visit, eval, text, shot)
}

// chartsAfterTwoRuns opens the chart pages after the sample run and the
// triggered run and checks that their charts are drawn from the data: SVG
// marks whose data-value attributes add up to the warehouse's figures.
func chartsAfterTwoRuns(t *testing.T, bctx context.Context, base, runID string, visit func(path, wait string),
	eval func(js string) int, text func(sel string) string, shot func(name string)) {
	t.Helper()
	dag := "/dags/" + grpipe.DAGID
	sum := func(sel string) int {
		t.Helper()
		return eval(`Array.from(document.querySelectorAll(` + "`" + sel + "`" + `)).reduce((s, e) => s + Number(e.getAttribute("data-value")), 0)`)
	}

	// Analytics: the sample's 60 reviews, by rating and per day; six rankings.
	visit("/analytics", "#chart-ratings")
	if n := eval(`document.querySelectorAll("#chart-ratings rect.bar").length`); n != 6 {
		t.Errorf("the rating chart has %d columns, want 6 (0 to 5)", n)
	}
	if got := sum(`svg[id^="chart-per-"] rect.bar`); got != 60 {
		t.Errorf("reviews per day add up to %d, want the sample's 60", got)
	}
	if got, rated := sum(`#chart-ratings rect.bar`), eval(`document.querySelectorAll("#chart-ratings rect.bar[data-value]").length`); got < 1 || got > 60 || rated != 6 {
		t.Errorf("reviews by rating add up to %d", got)
	}
	if n := eval(`document.querySelectorAll("figure.ranking").length`); n != 6 {
		t.Errorf("%d rankings, want 6", n)
	}
	if n := eval(`document.querySelectorAll("#popular_books_review_count ol.board li").length`); n != 10 {
		t.Errorf("the most reviewed books show %d rows, want 10", n)
	}
	if n := eval(`document.querySelectorAll("#popular_books_review_count svg.meter rect.bar[data-value]").length`); n != 10 {
		t.Errorf("the most reviewed books have %d bars, want 10", n)
	}
	if n := eval(`document.querySelectorAll("#popular_books_review_count .cover").length`); n != 10 {
		t.Errorf("%d covers (or placeholders), want 10", n)
	}
	if n := eval(`document.querySelectorAll("#popular_books_review_count .who a[href^='https://www.goodreads.com/book/show/']").length`); n != 10 {
		t.Errorf("%d books link to Goodreads, want 10", n)
	}
	shot("analytics")

	// Task duration: two runs, each task's duration; rows per run.
	visit(dag+"/duration", "#chart-durations")
	// (The scheduler may have run its latest interval too: two runs or more.)
	runs := eval(`document.querySelectorAll('#durations tbody tr').length`)
	if n := eval(`document.querySelectorAll('#chart-durations g.series[data-series="GoodReadsETLJob"] circle.point').length`); n != runs || n < 2 {
		t.Errorf("the ETL task has %d points, want one per run (%d)", n, runs)
	}
	if n := eval(`document.querySelectorAll("#chart-durations g.series").length`); n != 15 {
		t.Errorf("%d task lines, want 15", n)
	}
	// The sample run read 2,002 rows: 501 reviews (one broken) and 500 of each other file.
	if got := sum(`#chart-rows rect.bar`); got != 2001 {
		t.Errorf("rows per run add up to %d, want 2,001 (the sample run; later runs found no files)", got)
	}
	if got := sum(`#chart-rejected rect.bar`); got != 1 {
		t.Errorf("rejected rows per run add up to %d, want 1", got)
	}
	shot("duration")

	// Gantt: a time axis, and a bar per try with its hover text.
	visit(dag+"/runs/"+runID+"/gantt", "#gantt-chart")
	if n := eval(`document.querySelectorAll("#gantt-chart text.tick").length`); n < 3 {
		t.Errorf("the Gantt's time axis has %d ticks", n)
	}
	if n := eval(`document.querySelectorAll('#gantt-chart rect.bar[data-state="success"]').length`); n != 15 {
		t.Errorf("the Gantt has %d successful bars, want 15", n)
	}
	if txt, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("#gantt-chart g.axis text.start").textContent`)); err != nil || !strings.HasPrefix(txt, "start 20") {
		t.Errorf("the Gantt's start label: %q", txt)
	}
	shot("gantt")

	// Explorer: the reviews, 50 a page, sorted; the SQL box; a refusal.
	visit("/warehouse/tables/goodreads_warehouse.reviews?sort=review_rating&desc=1", "#rows")
	if n := eval(`document.querySelectorAll("#rows tbody tr").length`); n != 50 {
		t.Errorf("the first page shows %d reviews, want 50", n)
	}
	if txt := text(".pager"); !strings.Contains(txt, "page 1 of 2") {
		t.Errorf("pager: %q", txt)
	}
	shot("explorer")
	visit("/warehouse/query", "#sql")
	if err := chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS("#sql"), "SELECT review_rating, count(*) AS reviews FROM goodreads_warehouse.reviews GROUP BY review_rating ORDER BY review_rating"),
		chromedp.Click(chromedp.CSS("#run-sql")), chromedp.WaitVisible(chromedp.CSS("#result"))); err != nil {
		t.Fatalf("SQL box: %v", err)
	}
	if got := eval(`Array.from(document.querySelectorAll("#result tbody tr td:nth-child(2)")).reduce((s, e) => s + Number(e.textContent), 0)`); got != 60 {
		t.Errorf("the SQL box's counts add up to %d, want 60", got)
	}
	shot("query")
	if err := chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS("#sql"), "DELETE FROM goodreads_warehouse.reviews"),
		chromedp.Click(chromedp.CSS("#run-sql")), chromedp.WaitVisible(chromedp.CSS("#sql-error"))); err != nil {
		t.Fatalf("SQL box refusal: %v", err)
	}
	if txt := text("#sql-error"); !strings.Contains(txt, "DELETE statements are refused") {
		t.Errorf("refusal: %q", txt)
	}

	// Quarantine: the broken row, by reason and by file.
	visit(dag+"/runs/"+runID+"/quarantine", "#chart-reasons")
	if got := sum(`#chart-reasons rect.bar`); got != 1 {
		t.Errorf("rejected rows by reason add up to %d, want 1", got)
	}
	shot("quarantine")
}
