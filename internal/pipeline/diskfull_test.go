//go:build linux

// The disk-full tests mount a tmpfs (Linux, as root).

package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// mountTmpfs mounts a tmpfs of size bytes at a new folder and returns it;
// the test unmounts it at the end. Mounting needs root (CAP_SYS_ADMIN); the
// test is skipped, saying why, where it cannot.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill fills the file system of dir up to leave bytes free, with a file it
// returns; removing the file frees the space again.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := free - leave
	if leave <= 0 {
		n = free + 64<<20 // until the file system refuses
	}
	if n > 0 {
		if _, err := io.CopyN(f, zeros{}, n); err != nil && !errors.Is(err, syscall.ENOSPC) {
			t.Fatal(err)
		}
	}
	return path
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// diskFullHome opens a home whose part (zones, the transform's work folder,
// or the warehouse) lies on a small tmpfs; options may use its folder.
func diskFullHome(t *testing.T, part string, size int64, options func(fs string) []app.Option) (*testsupport.Home, string) {
	t.Helper()
	fs := mountTmpfs(t, size)
	dir := t.TempDir()
	switch part {
	case "zones":
	case "tmp": // the transform's work files and DuckDB's spill folder
		if err := os.Symlink(fs, filepath.Join(dir, "tmp")); err != nil {
			t.Fatal(err)
		}
	case "warehouse":
	}
	cfg := testsupport.Config(t, dir, func(c *config.Config) {
		c.Orchestrator.Retries = 0
		c.MaxRejectRatio = 0.5
		switch part {
		case "zones":
			c.Zones = "file://" + fs
		case "warehouse":
			testsupport.Set(t, c, "warehouse", "duckdb://"+filepath.Join(fs, "warehouse.duckdb"))
		}
	})
	var opts []app.Option
	if options != nil {
		opts = options(fs)
	}
	return testsupport.OpenHome(t, cfg, opts...), fs
}

// TestDiskFull is the fault matrix's disk-full row: the file system under
// the claim (the zones: its manifest), the transform (its work files), the
// Parquet written to the processed zone, and the upsert (the warehouse)
// fills up. The run fails saying "no space left on device", the warehouse
// is as before, and once there is room again the next run finishes the
// batch: the warehouse equals a clean run's and every ledger balances.
func TestDiskFull(t *testing.T) {
	ref := testsupport.NewHome(t, func(c *config.Config) { c.MaxRejectRatio = 0.5 })
	conformanceBatches(ref)
	want := ref.Snapshot()
	// The upsert cell's second batch also holds the sample again (every
	// review rewritten): an upsert that writes more than the WAL's last page.
	landBatch2AndSample := func(h *testsupport.Home) {
		landBatch2(h)
		var files [][2]string
		for _, n := range sample.Names {
			b, err := sample.Bytes(n)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, [2]string{strings.TrimSuffix(n, ".csv") + "-b3.csv", string(b)})
		}
		h.Land(files...)
	}
	ref3 := testsupport.NewHome(t, func(c *config.Config) { c.MaxRejectRatio = 0.5 })
	landBatch1(ref3)
	ref3.MustSucceed(ref3.Run())
	landBatch2AndSample(ref3)
	ref3.MustSucceed(ref3.Run())
	want3 := ref3.Snapshot()

	// The upsert cell fills the warehouse's disk between the staging of the
	// first entity and its upsert.
	var upsertFiller string
	fillAtStage := func(fs string) []app.Option {
		filled := false
		return []app.Option{app.WithCrash(func(point string) {
			if point == "stage" && !filled && upsertFiller == "" {
				filled = true
				upsertFiller = fill(t, fs, 0)
			}
		})}
	}
	cells := []struct {
		name, part string
		size       int64
		options    func(fs string) []app.Option
		// prepare runs before the second batch's failing run; it returns
		// what to remove to make room again.
		prepare func(t *testing.T, h *testsupport.Home, fs string) string
	}{
		{"claim", "zones", 64 << 20, nil, func(t *testing.T, h *testsupport.Home, fs string) string {
			landBatch2(h)
			return fill(t, fs, 0) // not even a claim manifest fits
		}},
		{"transform", "tmp", 64 << 20, nil, func(t *testing.T, h *testsupport.Home, fs string) string {
			landBatch2(h)
			return fill(t, fs, 0)
		}},
		{"parquet", "zones", 64 << 20, nil, func(t *testing.T, h *testsupport.Home, fs string) string {
			landBatch2(h)
			return fill(t, fs, 12<<10) // room for the manifests, not for the Parquet
		}},
		{"upsert", "warehouse", 256 << 20, fillAtStage, func(t *testing.T, h *testsupport.Home, fs string) string {
			landBatch2AndSample(h)
			upsertFiller = "" // the hook fills the disk during the next run
			return ""
		}},
	}
	for _, c := range cells {
		t.Run(c.name, func(t *testing.T) {
			h, fs := diskFullHome(t, c.part, c.size, c.options)
			if c.options != nil {
				upsertFiller = "first run: no filling"
			}
			landBatch1(h)
			first := h.Run()
			h.MustSucceed(first)
			before := h.Snapshot()
			filler := c.prepare(t, h, fs)
			failed := h.Run()
			if failed.State != grpipe.StateFailed || !strings.Contains(strings.ToLower(failed.Error), "no space left on device") {
				t.Fatalf("run on a full disk: %s, %q", failed.State, failed.Error)
			}
			t.Logf("%s: %s", c.name, failed.Error)
			stored, err := h.App.Store.Summary(context.Background(), failed.RunID)
			if err != nil || stored.State != grpipe.StateFailed || !strings.Contains(strings.ToLower(stored.Error), "no space left on device") {
				t.Fatalf("the failed run's record: %v %+v", err, stored)
			}
			// Before any load the warehouse is as it was; in the upsert, the
			// entities committed before the disk filled stay (one
			// transaction per table) and the rerun loads the others.
			if got := h.Snapshot(); c.name != "upsert" && !reflect.DeepEqual(got, before) {
				t.Fatalf("the warehouse changed in the run that failed on a full disk")
			}
			if filler == "" {
				filler = upsertFiller
			}
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			again := h.Run()
			h.MustSucceed(again)
			for name, l := range again.Tables {
				if !l.Balanced() {
					t.Errorf("ledger of %s does not balance: %+v", name, l)
				}
			}
			w := want
			if c.name == "upsert" {
				w = want3
			}
			if got := h.Snapshot(); !reflect.DeepEqual(got, w) {
				for k := range w {
					if !reflect.DeepEqual(got[k], w[k]) {
						t.Errorf("%s differs from a clean run's:\n got %.300v\nwant %.300v", k, got[k], w[k])
					}
				}
			}
		})
	}
}

// TestDiskFullUnderTheRunStore: the run store's disk fills during a run
// (here, while the ETL transforms): the run's records cannot be written.
// The run fails, its end is kept in the room reserved for it, and the next
// execution records why ("no space left on device") before it runs.
func TestDiskFullUnderTheRunStore(t *testing.T) {
	ref := testsupport.NewHome(t, func(c *config.Config) { c.MaxRejectRatio = 0.5 })
	conformanceBatches(ref)
	want := ref.Snapshot()

	home := mountTmpfs(t, 16<<20)
	other := t.TempDir()
	if err := os.Symlink(filepath.Join(other), filepath.Join(home, "tmp")); err != nil {
		t.Fatal(err)
	}
	cfg := testsupport.Config(t, home, func(c *config.Config) {
		c.Orchestrator.Retries = 0
		c.MaxRejectRatio = 0.5
		c.Zones = "file://" + filepath.Join(other, "zones")
		testsupport.Set(t, c, "warehouse", "duckdb://"+filepath.Join(other, "warehouse.duckdb"))
	})
	armed, filler := false, ""
	h := testsupport.OpenHome(t, cfg, app.WithCrash(func(point string) {
		if point == "transform" && armed && filler == "" {
			filler = fill(t, home, 0)
		}
	}))
	landBatch1(h)
	first := h.Run()
	h.MustSucceed(first)
	landBatch2(h)
	armed = true
	ctx := context.Background()
	sum, err := h.App.Orchestrator.RunNow(ctx)
	if err == nil || !strings.Contains(err.Error(), "run-record.pending") {
		t.Fatalf("run on a full run-store disk: %v", err)
	}
	t.Logf("run error: %v", err)
	if sum == nil || sum.State != grpipe.StateFailed {
		t.Fatalf("summary %+v", sum)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	again, err := h.App.Orchestrator.RunNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.MustSucceed(again)
	stored, err := h.App.Store.Summary(ctx, sum.RunID)
	if err != nil || stored.State != grpipe.StateFailed || !strings.Contains(strings.ToLower(stored.Error), "no space left on device") {
		t.Fatalf("the failed run's record: %v, %s, %q", err, stored.State, stored.Error)
	}
	if got := h.Snapshot(); !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s differs from a clean run's:\n got %.300v\nwant %.300v", k, got[k], want[k])
			}
		}
	}
}
