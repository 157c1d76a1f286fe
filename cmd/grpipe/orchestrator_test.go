package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/flock"
	"github.com/grpipe/grpipe/internal/runstore"
)

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is grpipe running in a child process (the test binary re-executed).
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func startGrpipe(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GRPIPE_TEST_ARGS="+string(a))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait returns the exit code (-1 when killed by a signal) and the signal.
func (p *proc) wait(t *testing.T, timeout time.Duration) (int, syscall.Signal) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("process still running after %s:\n%s", timeout, p.stderr.String())
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return -1, ws.Signal()
	}
	return ws.ExitStatus(), 0
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

func openStore(t *testing.T, home string) *runstore.Store {
	t.Helper()
	st, err := runstore.Open(context.Background(), filepath.Join(home, "grpipe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func landSample(t *testing.T, home string) {
	t.Helper()
	if r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": home}, append([]string{"land"}, sampleDir(t)...)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
}

func runsIn(t *testing.T, st *runstore.Store, states ...grpipe.State) []grpipe.Run {
	t.Helper()
	rs, err := st.ListRuns(context.Background(), 100, states...)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func etlInstances(t *testing.T, st *runstore.Store, runID string) []runstore.TaskInstance {
	t.Helper()
	tis, err := st.TaskInstances(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	var out []runstore.TaskInstance
	for _, ti := range tis {
		if ti.TaskID == grpipe.TaskETL {
			out = append(out, ti)
		}
	}
	return out
}

var fastScheduler = map[string]string{"GRPIPE_TEST_POLL": "200ms"}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestSchedulerSIGTERMLetsTheRunningTaskFinish(t *testing.T) {
	home := t.TempDir()
	landSample(t, home)
	st := openStore(t, home)
	p := startGrpipe(t, with(fastScheduler, "GRPIPE_TEST_SLOWPOINT", "transform=1500ms"), "--home", home, "scheduler", "--schedule", "@every 1s")
	var runID string
	eventually(t, 20*time.Second, "the ETL task to run", func() bool {
		for _, r := range runsIn(t, st, grpipe.StateRunning) {
			for _, ti := range etlInstances(t, st, r.RunID) {
				if ti.State == grpipe.StateRunning {
					runID = r.RunID
					return true
				}
			}
		}
		return false
	})
	time.Sleep(300 * time.Millisecond) // inside the slow transform step
	// max_active_runs=1: a manual run refuses while the scheduler runs one.
	if r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": home}, "run"); r.code != exitFailed || !strings.Contains(r.stderr, "another run is in progress") {
		t.Errorf("grpipe run during a scheduled run: exit %d %s", r.code, r.stderr)
	}
	p.signal(t, syscall.SIGTERM)
	if code, sig := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d (signal %v) after SIGTERM, want 0:\n%s", code, sig, p.stderr.String())
	}
	rec, err := st.Run(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	etl := etlInstances(t, st, runID)
	if len(etl) != 1 || etl[0].State != grpipe.StateSuccess {
		t.Errorf("ETL instances %+v: the running task should have finished", etl)
	}
	if rec.State != grpipe.StateQueued || !strings.Contains(rec.Error, "shutting down") {
		t.Errorf("run after SIGTERM: %s %q, want queued to resume", rec.State, rec.Error)
	}
	if hb, err := st.LastHeartbeat(context.Background()); err != nil || hb.State != "stopped" {
		t.Errorf("heartbeat %+v %v", hb, err)
	}
	if left := runsIn(t, st, grpipe.StateRunning); len(left) != 0 {
		t.Errorf("runs left running: %+v", left)
	}

	// The next start resumes the run where it stopped.
	p2 := startGrpipe(t, fastScheduler, "--home", home, "scheduler", "--schedule", "@every 1s")
	eventually(t, 30*time.Second, "the stopped run to finish", func() bool {
		r, _ := st.Run(context.Background(), runID)
		return r.State == grpipe.StateSuccess
	})
	p2.signal(t, syscall.SIGINT)
	if code, _ := p2.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("second scheduler exit %d:\n%s", code, p2.stderr.String())
	}
	if etl := etlInstances(t, st, runID); len(etl) != 1 {
		t.Errorf("the finished ETL task ran again: %+v", etl)
	}
	sum, _ := st.Summary(context.Background(), runID)
	if sum.Tables["reviews"].Read != 500 {
		t.Errorf("resumed run's ledger: %+v", sum.Tables["reviews"])
	}
}

func TestSchedulerKill9ThenRestartResumes(t *testing.T) {
	home := t.TempDir()
	landSample(t, home)
	st := openStore(t, home)
	p := startGrpipe(t, with(fastScheduler, "GRPIPE_TEST_CRASHPOINT", "upsert"), "--home", home, "scheduler", "--schedule", "@every 1s")
	if _, sig := p.wait(t, 60*time.Second); sig != syscall.SIGKILL {
		t.Fatalf("scheduler was not killed at upsert:\n%s", p.stderr.String())
	}
	running := runsIn(t, st, grpipe.StateRunning)
	if len(running) != 1 {
		t.Fatalf("after kill -9: running runs %+v, want the one that was killed", running)
	}
	runID := running[0].RunID

	p2 := startGrpipe(t, fastScheduler, "--home", home, "scheduler", "--schedule", "@every 1s")
	eventually(t, 60*time.Second, "the killed run to be resumed and finish", func() bool {
		r, _ := st.Run(context.Background(), runID)
		return r.State == grpipe.StateSuccess
	})
	p2.signal(t, syscall.SIGTERM)
	if code, _ := p2.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p2.stderr.String())
	}
	etl := etlInstances(t, st, runID)
	if len(etl) != 2 || etl[0].State != grpipe.StateFailed || !strings.Contains(etl[0].Error, "process running it stopped") || etl[1].State != grpipe.StateSuccess {
		t.Errorf("ETL tries %+v, want try 1 failed (killed) and try 2 success", etl)
	}
	if left := runsIn(t, st, grpipe.StateRunning); len(left) != 0 {
		t.Errorf("runs left running: %+v", left)
	}
	env := map[string]string{"GRPIPE_HOME": home}
	for q, want := range map[string]string{
		"SELECT count(*) FROM goodreads_quality.loaded_batches": "4", // one per entity: none loaded twice
		"SELECT count(*) FROM goodreads_warehouse.reviews":      "60",
	} {
		r := grpipeCmd(t, env, "query", "--format", "csv", q)
		if r.stdout != "count_star()\n"+want+"\n" {
			t.Errorf("%s: %q %s", q, r.stdout, r.stderr)
		}
	}
}

func TestMaxActiveRunsAcrossProcesses(t *testing.T) {
	home := t.TempDir()
	landSample(t, home)
	st := openStore(t, home)
	// This process holds the run lock, as a running `grpipe run` would.
	lock, err := flock.TryLock(filepath.Join(home, "run.lock"))
	if err != nil {
		t.Fatal(err)
	}
	run := startGrpipe(t, nil, "--home", home, "run")
	if code, _ := run.wait(t, 30*time.Second); code != exitFailed {
		t.Errorf("grpipe run while another run holds the lock: exit %d", code)
	}
	if msg := run.stderr.String(); !strings.Contains(msg, "another run is in progress") || !strings.Contains(msg, "process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("refusal does not say who holds the lock:\n%s", msg)
	}

	sched := startGrpipe(t, fastScheduler, "--home", home, "scheduler", "--schedule", "@every 1s")
	eventually(t, 20*time.Second, "the scheduler to notice the lock", func() bool {
		return strings.Contains(sched.stderr.String(), "run lock is held by another process")
	})
	time.Sleep(time.Second)
	if rs := runsIn(t, st); len(rs) != 0 {
		t.Fatalf("the scheduler ran while the lock was held: %+v", rs)
	}
	lock.Unlock()
	eventually(t, 30*time.Second, "a scheduled run", func() bool { return len(runsIn(t, st, grpipe.StateSuccess)) > 0 })

	second := startGrpipe(t, fastScheduler, "--home", home, "scheduler")
	if code, _ := second.wait(t, 30*time.Second); code != exitFailed || !strings.Contains(second.stderr.String(), "a scheduler already runs in this home") {
		t.Errorf("second scheduler: exit %d:\n%s", code, second.stderr.String())
	}
	sched.signal(t, syscall.SIGTERM)
	if code, _ := sched.wait(t, 30*time.Second); code != 0 {
		t.Errorf("scheduler exit %d", code)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestMetricsScrape(t *testing.T) {
	home := t.TempDir()
	landSample(t, home)
	st := openStore(t, home)
	addr := freePort(t)
	p := startGrpipe(t, fastScheduler, "--home", home, "scheduler", "--schedule", "@every 1s", "--metrics-addr", addr)
	eventually(t, 30*time.Second, "a successful run", func() bool { return len(runsIn(t, st, grpipe.StateSuccess)) > 0 })
	var body string
	eventually(t, 10*time.Second, "metrics", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200 && strings.Contains(body, `grpipe_dag_runs_total{state="success"}`)
	})
	p.signal(t, syscall.SIGTERM)
	p.wait(t, 30*time.Second)
	for _, want := range []string{
		`grpipe_rows_total{stage="read",table="reviews"} 500`,
		`grpipe_rows_total{stage="inserted",table="reviews"} 60`,
		`grpipe_quarantined_rows_total{table="reviews"} 0`,
		`grpipe_task_tries_total{state="success",task="GoodReadsETLJob"}`,
		`grpipe_task_duration_seconds_bucket{state="success",task="Load_best_books"`,
		`grpipe_dag_run_duration_seconds_count{state="success"}`,
		`grpipe_last_run_state{state="success"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var last float64
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "grpipe_last_success_timestamp_seconds "); ok {
			last, _ = strconv.ParseFloat(v, 64)
		}
	}
	if time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last success time %v", last)
	}
}

func TestOrchestrationCommands(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"GRPIPE_HOME": home}
	landSample(t, home)
	if r := grpipeCmd(t, env, "run"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	r := grpipeCmd(t, env, "runs", "list", "--json")
	var runs []grpipe.Run
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || len(runs) != 1 {
		t.Fatalf("runs list --json: %v %q", err, r.stdout)
	}
	id := runs[0].RunID
	if runs[0].RunType != "manual" || runs[0].State != grpipe.StateSuccess {
		t.Errorf("run %+v", runs[0])
	}
	if r := grpipeCmd(t, env, "runs", "list"); r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("runs list: %d %s", r.code, r.stdout)
	}

	r = grpipeCmd(t, env, "runs", "show", id, "--json")
	var sum grpipe.RunSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("runs show --json: %v %q", err, r.stdout)
	}
	if len(sum.Tasks) != 15 || sum.Tasks[1].Tries != 1 || sum.Tasks[1].Kind != "etl" || sum.Tables["reviews"].Read != 500 {
		t.Errorf("runs show: %d tasks, ETL %+v", len(sum.Tasks), sum.Tasks[1])
	}
	var withTries struct {
		TaskTries []struct {
			TaskID    string `json:"task_id"`
			TryNumber int    `json:"try_number"`
			State     string `json:"state"`
		} `json:"task_tries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &withTries); err != nil || len(withTries.TaskTries) != 15 || withTries.TaskTries[0].TryNumber != 1 || withTries.TaskTries[0].State != "success" {
		t.Errorf("runs show --json task_tries: %v %+v", err, withTries.TaskTries)
	}
	if r := grpipeCmd(t, env, "runs", "show", id); !regexp.MustCompile(`(?m)^GoodReadsETLJob +etl +success +1 `).MatchString(r.stdout) {
		t.Errorf("runs show (text):\n%s", r.stdout)
	}
	if r := grpipeCmd(t, env, "tasks", "logs", id, grpipe.TaskETL); r.code != 0 || !strings.Contains(r.stdout, "claimed") {
		t.Errorf("tasks logs: %d %s %s", r.code, r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"runs", "show", "manual__nope"}, "run manual__nope: not found"},
		{[]string{"tasks", "logs", "manual__nope", grpipe.TaskETL}, "run manual__nope: not found"},
		{[]string{"tasks", "logs", id, "No_such_task"}, `task "No_such_task" is not in goodreads_pipeline`},
		{[]string{"tasks", "logs", id, grpipe.TaskETL, "--try", "2"}, "has no try 2 (its tries: 1)"},
		{[]string{"tasks", "clear", "manual__nope", grpipe.TaskETL}, "run manual__nope: not found"},
		{[]string{"tasks", "clear", id, "No_such_task"}, "is not in goodreads_pipeline"},
		{[]string{"runs", "resume", "manual__nope"}, "not found"},
		{[]string{"dags", "frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"scheduler", "--schedule", "every now and then"}, `schedule "every now and then"`},
		{[]string{"scheduler", "--start-date", "yesterday"}, `--start-date "yesterday"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := grpipeCmd(t, env, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}

	// Clear a task and what follows, then resume the run without a scheduler.
	r = grpipeCmd(t, env, "tasks", "clear", id, grpipe.TaskBookTables, "--downstream")
	if r.code != 0 || !strings.Contains(r.stdout, "Load_best_books") || strings.Contains(r.stdout, "Load_best_author,") {
		t.Fatalf("tasks clear: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := grpipeCmd(t, env, "runs", "resume", id, "--json"); r.code != 0 {
		t.Fatalf("runs resume: %d %s", r.code, r.stderr)
	}
	if r := grpipeCmd(t, env, "tasks", "logs", id, grpipe.TaskBestBooks, "--try", "2"); r.code != 0 || !strings.Contains(r.stdout, "try=2") {
		t.Errorf("try 2 log: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := grpipeCmd(t, env, "tasks", "logs", id, grpipe.TaskBestAuthors, "--try", "2"); r.code != exitUsage {
		t.Errorf("an uncleared task got a second try")
	}

	// Pause, trigger, unpause.
	for _, args := range [][]string{{"dags", "pause"}, {"dags", "trigger"}} {
		if r := grpipeCmd(t, env, args...); r.code != 0 {
			t.Fatalf("%v: %s", args, r.stderr)
		}
	}
	st := openStore(t, home)
	if p, _ := st.Paused(context.Background()); !p {
		t.Errorf("not paused")
	}
	if q, _ := st.QueuedRuns(context.Background()); len(q) != 1 || q[0].RunType != "manual" {
		t.Errorf("queued runs %+v, want the triggered one", q)
	}
	if r := grpipeCmd(t, env, "dags", "unpause"); r.code != 0 || !strings.Contains(r.stdout, "unpaused") {
		t.Errorf("unpause: %s", r.stderr)
	}
	if p, _ := st.Paused(context.Background()); p {
		t.Errorf("still paused")
	}
}

func TestFailedRunAlertsTheWebhook(t *testing.T) {
	got := make(chan map[string]any, 2)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a map[string]any
		_ = json.NewDecoder(r.Body).Decode(&a)
		got <- a
	}))
	defer hook.Close()
	for _, how := range []string{"grpipe.yaml", "GRPIPE_ALERTS_WEBHOOK_URL"} {
		t.Run(how, func(t *testing.T) {
			home := t.TempDir()
			env := map[string]string{"GRPIPE_HOME": home}
			if how == "grpipe.yaml" {
				if err := os.WriteFile(filepath.Join(home, "grpipe.yaml"), []byte(fmt.Sprintf("alerts:\n  webhook:\n    url: %s/hook\n", hook.URL)), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				env[how] = hook.URL + "/hook"
			}
			// An empty landing file is refused whole: the run fails.
			if err := os.MkdirAll(filepath.Join(home, "zones", "landing"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(home, "zones", "landing", "reviews.csv"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			r := grpipeCmd(t, env, "run")
			if r.code != exitFailed {
				t.Fatalf("run exit %d: %s", r.code, r.stderr)
			}
			select {
			case a := <-got:
				if a["event"] != "run_failed" || !strings.Contains(fmt.Sprint(a["error"]), "reviews.csv") || a["run_type"] != "manual" {
					t.Errorf("alert %v", a)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no alert")
			}
		})
	}
}

func TestAlertConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"alerts:\n  webhook:\n    url: ftp://x\n", "alerts.webhook.url"},
		{"alerts:\n  email:\n    smtp_addr: mail.example.org\n    from: a@b.c\n    to: [d@e.f]\n", "alerts.email.smtp_addr"},
		{"alerts:\n  email:\n    smtp_addr: mail.example.org:25\n    from: a@b.c\n", "alerts.email.to"},
		{"alerts:\n  email:\n    to: [d@e.f]\n", "need alerts.email.smtp_addr"},
		{"alerts:\n  pager: yes\n", "pager"},
		{"orchestrator:\n  retry_delay: soon\n", "orchestrator.retry_delay"},
		{"orchestrator:\n  retries: -1\n", "orchestrator.retries"},
		{"orchestrator:\n  tasks:\n    No_such_task:\n      retries: 1\n", "orchestrator.tasks.No_such_task: no such task"},
		{"orchestrator:\n  tasks:\n    GoodReadsETLJob:\n      timeout: 0s\n", "orchestrator.tasks.GoodReadsETLJob.timeout"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			home := t.TempDir()
			if err := os.WriteFile(filepath.Join(home, "grpipe.yaml"), []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": home}, "run")
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

func TestBackfill(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"GRPIPE_HOME": home}
	landSample(t, home)
	r := grpipeCmd(t, env, "dags", "backfill", "--start-date", "2026-03-01T00:00:00Z", "--end-date", "2026-03-01T00:20:00Z", "--now")
	if r.code != 0 || !strings.Contains(r.stdout, "3 backfill runs queued (3 intervals)") {
		t.Fatalf("backfill: %d %s %s", r.code, r.stdout, r.stderr)
	}
	st := openStore(t, home)
	runs := runsIn(t, st, grpipe.StateSuccess)
	if len(runs) != 3 {
		t.Fatalf("runs %+v", runs)
	}
	oldest := runs[2]
	if oldest.RunID != "backfill__2026-03-01T00:00:00.000000Z" || oldest.RunType != "backfill" ||
		!oldest.DataIntervalEnd.Equal(time.Date(2026, 3, 1, 0, 10, 0, 0, time.UTC)) {
		t.Errorf("oldest backfill run %+v", oldest)
	}
	if sum, _ := st.Summary(context.Background(), oldest.RunID); sum.Tables["reviews"].Read != 500 {
		t.Errorf("the oldest interval should load the landed files: %+v", sum.Tables["reviews"])
	}
	// Again: the intervals exist, nothing is queued twice.
	if r := grpipeCmd(t, env, "dags", "backfill", "--start-date", "2026-03-01", "--end-date", "2026-03-01T00:20:00Z"); !strings.Contains(r.stdout, "0 backfill runs queued") {
		t.Errorf("second backfill: %s", r.stdout)
	}
	if r := grpipeCmd(t, env, "dags", "backfill", "--start-date", "2026-03-02", "--end-date", "2026-03-01"); r.code != exitUsage || !strings.Contains(r.stderr, "is before --start-date") {
		t.Errorf("end before start: %d %s", r.code, r.stderr)
	}
}
