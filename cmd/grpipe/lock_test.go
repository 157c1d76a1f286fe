package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grpipe/grpipe/internal/duckdb"
)

// Defect 15: two `grpipe run` started at once: one runs, the other is
// refused by the run lock with "another run is in progress" (never a raw
// DuckDB lock error).
func TestTwoRunsAtOnce(t *testing.T) {
	home := t.TempDir()
	landSample(t, home)
	a := startGrpipe(t, nil, "--home", home, "run")
	b := startGrpipe(t, nil, "--home", home, "run")
	ca, _ := a.wait(t, 2*time.Minute)
	cb, _ := b.wait(t, 2*time.Minute)
	loser := b
	if ca != 0 {
		ca, cb, loser = cb, ca, a
	}
	if ca != 0 || cb != exitFailed {
		t.Fatalf("exit codes %d and %d, want 0 and %d:\n%s\n---\n%s", ca, cb, exitFailed, a.stderr.String(), b.stderr.String())
	}
	msg := loser.stderr.String()
	if !strings.Contains(msg, "another run is in progress") || strings.Contains(strings.ToLower(msg), "could not set lock") {
		t.Fatalf("the refused run says:\n%s", msg)
	}
}

// Defect 15: a run started while a reader (grpipe query, the web UI's
// warehouse view) has the embedded warehouse open waits for it to let go,
// then runs, instead of failing.
func TestRunWaitsForAReader(t *testing.T) {
	home := t.TempDir()
	landSample(t, home)
	if r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": home}, "run"); r.code != 0 {
		t.Fatalf("first run: %s", r.stderr)
	}
	landSample(t, home)
	reader, err := duckdb.Open(context.Background(), filepath.Join(home, "warehouse.duckdb"), duckdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Exec("SELECT count(*) FROM goodreads_warehouse.reviews"); err != nil {
		t.Fatal(err)
	}
	run := startGrpipe(t, nil, "--home", home, "run")
	ended := func() bool {
		select {
		case <-run.done:
			return true
		default:
			return false
		}
	}
	eventually(t, 30*time.Second, "the run to wait for the reader", func() bool {
		return ended() || strings.Contains(run.stderr.String(), "waiting for it to let go")
	})
	if ended() {
		t.Fatalf("the run ended while a reader held the warehouse instead of waiting for it:\n%s", run.stderr.String())
	}
	reader.Close()
	if code, _ := run.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("run beside a reader: exit %d:\n%s", code, run.stderr.String())
	}
}
