package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// killedAt runs `grpipe run` in a child process that kills itself with
// SIGKILL at crashpoint, and checks that it did.
func killedAt(t *testing.T, home, crashpoint string, env map[string]string) {
	t.Helper()
	args, _ := json.Marshal([]string{"--home", home, "run"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GRPIPE_TEST_ARGS="+string(args), "GRPIPE_TEST_CRASHPOINT="+crashpoint)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("process was not killed at %s: %v\n%s", crashpoint, err, stderr.String())
	}
}

// rerunMatches runs again after a crash and checks the fault matrix's
// promise: the run succeeds, every ledger balances, the warehouse (and the
// quarantine) equal a clean run's, nothing is left in landing or working,
// and no run stays running.
func rerunMatches(t *testing.T, home string, env map[string]string, want map[string][][]string) *grpipe.RunSummary {
	t.Helper()
	r := grpipeCmd(t, env, "run", "--json")
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	var sum grpipe.RunSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	for name, l := range sum.Tables {
		if !l.Balanced() {
			t.Errorf("rerun's ledger of %s does not balance: %+v", name, l)
		}
	}
	if got := testsupport.SnapshotHome(t, home); !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s differs from a clean run's:\n got %.400v\nwant %.400v", k, got[k], want[k])
			}
		}
	}
	for _, zone := range []string{"landing", "working"} {
		entries, _ := os.ReadDir(filepath.Join(home, "zones", zone))
		if len(entries) > 0 {
			t.Errorf("%s zone not empty after the rerun: %d entries", zone, len(entries))
		}
	}
	st, err := runstore.Open(context.Background(), filepath.Join(home, "grpipe.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if running, _ := st.RunIDs(context.Background(), 10, grpipe.StateRunning); len(running) != 0 {
		t.Errorf("runs left running: %v", running)
	}
	return &sum
}

// TestKill9AtEveryTaskBoundary is the fault matrix's first row: a grpipe
// run killed with SIGKILL right after each of the 15 tasks ends (its try
// recorded, the next not started), then run again.
func TestKill9AtEveryTaskBoundary(t *testing.T) {
	clean := t.TempDir()
	cleanEnv := map[string]string{"GRPIPE_HOME": clean}
	landDirty(t, cleanEnv)
	if r := grpipeCmd(t, cleanEnv, "run"); r.code != 0 {
		t.Fatalf("clean run: %s", r.stderr)
	}
	want := testsupport.SnapshotHome(t, clean)
	for _, task := range grpipe.TaskIDs() {
		t.Run(task, func(t *testing.T) {
			home := t.TempDir()
			env := map[string]string{"GRPIPE_HOME": home}
			landDirty(t, env)
			killedAt(t, home, "after:"+task, nil)
			rerunMatches(t, home, env, want)
		})
	}
}

// TestKill9AtEveryTaskBoundaryDistributed is the first row of the fault
// matrix for executor: distributed: the scheduler that drives a run (its
// tasks run on a grpipe worker; metadata and warehouse on PostgreSQL, zones
// on S3) is killed with SIGKILL right after each of the 15 tasks ends (its
// try recorded by the scheduler, the next not started); a new scheduler
// takes the run over. The run succeeds, its ledgers balance, the warehouse
// and the quarantine equal a clean local run's on the same files, landing
// and working are empty, and no run is left running.
func TestKill9AtEveryTaskBoundaryDistributed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes per task")
	}
	clean := map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_WAREHOUSE": pgtest.Database(t)}
	landDirty(t, clean)
	if r := grpipeCmd(t, clean, "run"); r.code != 0 {
		t.Fatalf("clean run: %s", r.stderr)
	}
	want := snapshotEnv(t, clean)
	for _, task := range grpipe.TaskIDs() {
		t.Run(task, func(t *testing.T) {
			c := newCluster(t)
			landDirty(t, c.home(""))
			worker := startGrpipe(t, c.home(""), "worker", "--name", "w1", "--concurrency", "2")
			sched := []string{"scheduler", "--schedule", "@every 24h", "--start-date", "2100-01-01"}
			killed := startGrpipe(t, c.home("orchestrator:\n  retry_delay: 1s\n", "GRPIPE_TEST_CRASHPOINT", "after:"+task), sched...)
			runID := c.trigger(c.home(""))
			if _, sig := killed.wait(t, 3*time.Minute); sig != syscall.SIGKILL {
				t.Fatalf("the scheduler was not killed after %s:\n%s\n--- worker:\n%s", task, killed.stderr.String(), worker.stderr.String())
			}
			if r, err := c.store.Run(context.Background(), runID); err != nil || r.State != grpipe.StateRunning {
				t.Fatalf("after the kill, run %s is %+v (%v), want running", runID, r.State, err)
			}
			next := startGrpipe(t, c.home("orchestrator:\n  retry_delay: 1s\n"), sched...)
			if got := c.waitRun(runID, 3*time.Minute, next, worker); got.State != grpipe.StateSuccess {
				t.Fatalf("run %s taken over ended %s: %s\n%s", runID, got.State, got.Error, next.stderr.String())
			}
			sum, err := c.store.Summary(context.Background(), runID)
			if err != nil {
				t.Fatal(err)
			}
			for name, l := range sum.Tables {
				if !l.Balanced() {
					t.Errorf("ledger of %s does not balance: %+v", name, l)
				}
			}
			if got := snapshotEnv(t, c.home("")); !reflect.DeepEqual(got, want) {
				for k := range want {
					if !reflect.DeepEqual(got[k], want[k]) {
						t.Errorf("%s differs from a clean run's:\n got %.400v\nwant %.400v", k, got[k], want[k])
					}
				}
			}
			zones, err := objstore.Open(context.Background(), c.shared["GRPIPE_ZONES"])
			if err != nil {
				t.Fatal(err)
			}
			defer zones.Close()
			for _, zone := range []grpipe.Zone{grpipe.Landing, grpipe.Working} {
				if objs, err := zones.List(context.Background(), string(zone)+"/"); err != nil || len(objs) != 0 {
					t.Errorf("%s zone after the run: %v (%v)", zone, objs, err)
				}
			}
			if running, _ := c.store.RunIDs(context.Background(), 10, grpipe.StateRunning); len(running) != 0 {
				t.Errorf("runs left running: %v", running)
			}
		})
	}
}

// snapshotEnv returns the warehouse snapshot of the home env describes.
func snapshotEnv(t *testing.T, env map[string]string) map[string][][]string {
	t.Helper()
	cfg, err := config.Load(env["GRPIPE_HOME"], envGetter(env), nil)
	if err != nil {
		t.Fatal(err)
	}
	return testsupport.SnapshotConfig(t, cfg)
}
