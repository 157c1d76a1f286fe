package testsupport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/sample"
)

// Home is a grpipe home in a temporary folder, opened for a test: the
// configuration's defaults (DuckDB limited to 512 MB), local zones, the
// embedded DuckDB warehouse and the SQLite run store.
type Home struct {
	T   testing.TB
	Dir string
	App *app.App
}

// Config returns the test configuration of a home in dir: the defaults with
// DuckDB limited to 512 MB, then tune (nil for none); it must be valid.
func Config(t testing.TB, dir string, tune func(*config.Config)) config.Config {
	t.Helper()
	cfg := config.Default(dir)
	cfg.DuckDB.TransformMemoryLimit, cfg.DuckDB.WarehouseMemoryLimit = "512MB", "512MB"
	if tune != nil {
		tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Set sets a setting of c by its key, as grpipe.yaml would (see config.Config.Set).
func Set(t testing.TB, c *config.Config, key, value string) {
	t.Helper()
	if err := c.Set(key, value); err != nil {
		t.Fatal(err)
	}
}

// NewHome opens a home in a new temporary folder; tune adjusts the
// configuration and options the pipeline. It is closed when the test ends.
func NewHome(t testing.TB, tune func(*config.Config), options ...app.Option) *Home {
	t.Helper()
	return OpenHome(t, Config(t, t.TempDir(), tune), options...)
}

// OpenHome opens the home cfg describes; it is closed when the test ends.
func OpenHome(t testing.TB, cfg config.Config, options ...app.Option) *Home {
	t.Helper()
	a, err := app.Open(context.Background(), cfg, nil, options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &Home{T: t, Dir: cfg.Home, App: a}
}

// Land writes files (name, content) to a folder and lands them, in the order given.
func (h *Home) Land(files ...[2]string) {
	h.T.Helper()
	if _, err := h.LandWith(nil, files...); err != nil {
		h.T.Fatal(err)
	}
}

// LandWith writes files (name, content) to a folder and lands them with
// opts, in the order given, returning what landing.Land returns.
func (h *Home) LandWith(opts *landing.Options, files ...[2]string) ([]string, error) {
	h.T.Helper()
	src := h.T.TempDir()
	var paths []string
	for _, f := range files {
		p := filepath.Join(src, f[0])
		if err := os.WriteFile(p, []byte(f[1]), 0o644); err != nil {
			h.T.Fatal(err)
		}
		paths = append(paths, p)
	}
	return landing.Land(context.Background(), h.App.Zones, paths, opts)
}

// LandSample lands the bundled sample files (reviews.csv, user.csv, author.csv, book.csv).
func (h *Home) LandSample() {
	h.T.Helper()
	paths, err := sample.WriteTo(h.T.TempDir())
	if err != nil {
		h.T.Fatal(err)
	}
	if _, err := landing.Land(context.Background(), h.App.Zones, paths, nil); err != nil {
		h.T.Fatal(err)
	}
}

// SampleText returns the bundled sample file name (reviews.csv, user.csv, ...).
func SampleText(t testing.TB, name string) string {
	t.Helper()
	b, err := sample.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Run runs the DAG once, as `grpipe run` does, and returns the summary.
func (h *Home) Run() *grpipe.RunSummary {
	h.T.Helper()
	sum, err := h.App.Orchestrator.RunNow(context.Background())
	if err != nil {
		h.T.Fatal(err)
	}
	return sum
}

// MustSucceed fails the test unless the run succeeded.
func (h *Home) MustSucceed(sum *grpipe.RunSummary) {
	h.T.Helper()
	if sum.State != grpipe.StateSuccess {
		h.T.Fatalf("run %s: %s: %s", sum.RunID, sum.State, sum.Error)
	}
}

// Query runs q on the warehouse and returns the rows as text (NULL for a null).
func (h *Home) Query(q string) [][]string {
	h.T.Helper()
	rows, err := h.App.Warehouse.Query(context.Background(), q)
	if err != nil {
		h.T.Fatalf("%s: %v", q, err)
	}
	var out [][]string
	for _, r := range rows.Values {
		var s []string
		for _, v := range r {
			s = append(s, Text(v))
		}
		out = append(out, s)
	}
	return out
}

// Count returns the number of rows of a warehouse table.
func (h *Home) Count(table string) int {
	h.T.Helper()
	var n int
	fmt.Sscan(h.Query("SELECT count(*) FROM " + table)[0][0], &n)
	return n
}

// Snapshot returns the warehouse's contents (see Snapshot).
func (h *Home) Snapshot(except ...string) map[string][][]string {
	h.T.Helper()
	return Snapshot(h.T, h.App.Warehouse, except...)
}

// SnapshotHome opens the warehouse of the home in dir read-only (as `grpipe
// query` does, while no run holds it) and returns its Snapshot.
func SnapshotHome(t testing.TB, dir string, except ...string) map[string][][]string {
	t.Helper()
	return SnapshotConfig(t, config.Default(dir), except...)
}

// SnapshotConfig is SnapshotHome for the warehouse cfg names (another
// backend, another path).
func SnapshotConfig(t testing.TB, cfg config.Config, except ...string) map[string][][]string {
	t.Helper()
	wh, err := app.OpenWarehouse(context.Background(), cfg, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	return Snapshot(t, wh, except...)
}
