//go:build unix

package landing_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/landing"
)

// Defect 13: a FIFO (or a link to one) is refused before it is opened; Land
// returns at once instead of waiting for a writer forever.
func TestLandRefusesFIFO(t *testing.T) {
	z, _ := zones(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "reviews.csv")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	linkDir := t.TempDir()
	link := filepath.Join(linkDir, "user.csv")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, link} {
		done := make(chan error, 1)
		go func() { _, err := landing.Land(context.Background(), z, []string{p}, nil); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "named pipe") {
				t.Fatalf("Land(%s) = %v, want a refusal naming the pipe", p, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Land(%s) is still waiting on the FIFO", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "reviews.csv")); err != nil {
		t.Fatal(err)
	}
}
