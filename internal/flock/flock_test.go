package flock_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/flock"
)

func TestSecondLockIsRefusedNamingTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.lock")
	l, err := flock.TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = flock.TryLock(path)
	if !errors.Is(err, grpipe.ErrBusy) {
		t.Fatalf("second TryLock: %v, want grpipe.ErrBusy", err)
	}
	if want := "process " + strconv.Itoa(os.Getpid()) + " holds " + path; !strings.Contains(err.Error(), want) {
		t.Errorf("refusal %q does not say %q", err, want)
	}
	if err := flock.Held(path); !errors.Is(err, grpipe.ErrBusy) {
		t.Errorf("Held while locked: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	if err := flock.Held(path); err != nil {
		t.Errorf("Held after Unlock: %v", err)
	}
	l2, err := flock.TryLock(path)
	if err != nil {
		t.Fatalf("TryLock after Unlock: %v", err)
	}
	l2.Unlock()
}

// TestDeadHolderReleases: a process that dies holding the lock leaves it free.
func TestDeadHolderReleases(t *testing.T) {
	if os.Getenv("FLOCK_TEST_HOLD") != "" {
		if _, err := flock.TryLock(os.Getenv("FLOCK_TEST_HOLD")); err != nil {
			os.Exit(3)
		}
		os.Exit(0) // dies holding the lock
	}
	path := filepath.Join(t.TempDir(), "run.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeadHolderReleases$")
	cmd.Env = append(os.Environ(), "FLOCK_TEST_HOLD="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("holder: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("lock file holds %q, want the holder's pid %d", b, cmd.Process.Pid)
	}
	l, err := flock.TryLock(path)
	if err != nil {
		t.Fatalf("lock of a dead holder: %v", err)
	}
	l.Unlock()
}

func TestUnwritablePath(t *testing.T) {
	_, err := flock.TryLock(filepath.Join(t.TempDir(), "no", "such", "dir", "x.lock"))
	if err == nil || errors.Is(err, grpipe.ErrBusy) || !strings.Contains(err.Error(), "x.lock") {
		t.Errorf("lock in a missing folder: %v", err)
	}
}
