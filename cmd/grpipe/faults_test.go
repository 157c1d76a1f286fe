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

	grpipe "github.com/grpipe/grpipe"
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
