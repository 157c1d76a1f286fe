package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	grpipe "github.com/grpipe/grpipe"
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

// TestBrowserUI runs the sample pipeline (with one broken row), serves the
// UI beside a scheduler in one process, and drives headless Chromium through
// the graph, grid, Gantt, run and quarantine views, then triggers a run from
// the UI and waits for the scheduler to finish it.
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var schedErr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"scheduler", "--schedule", "@every 24h", "--web", addr}, &bytes.Buffer{}, &schedErr,
			func(k string) string { return env[k] }, hooks{poll: 300 * time.Millisecond})
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
	shot("gantt")

	// Quarantine: the broken row with its line and reason.
	visit(dag+"/runs/"+sum.RunID+"/quarantine?entity=reviews", "#rejected")
	q := text("#rejected")
	for _, want := range []string{"reviews.csv", "502", "expected 15 fields", "not,a,review"} {
		if !strings.Contains(q, want) {
			t.Errorf("quarantine view lacks %q:\n%s", want, q)
		}
	}
	shot("quarantine")

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
	triggered := strings.TrimPrefix(loc[strings.Index(loc, "triggered="):], "triggered=")
	if !strings.HasPrefix(triggered, "manual__") {
		t.Fatalf("trigger led to %s", loc)
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
}
