package bench

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/cputime"
	"github.com/grpipe/grpipe/internal/duckdb"
)

// The reference's statements are DuckDB templates (duckdb.ParseStatements):
// identifiers through ident, file names through str.
//
//go:embed sql/*.sql
var sqlFiles embed.FS

// Reference is the bare-DuckDB reference's measurement.
type Reference struct {
	Steps   []Stage `json:"steps"`
	Seconds float64 `json:"seconds"`
	// Ratio is the pipeline's run time over the reference's.
	Ratio float64 `json:"ratio"`
	// CPUSeconds is the CPU time the reference used; CPURatio the
	// pipeline's CPU time over it (steadier than Ratio on a shared machine).
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	CPURatio   float64 `json:"cpu_ratio,omitempty"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
}

// runReference does the core work of a run with DuckDB alone, on the same
// CSV files and with the same DuckDB settings: typed read with broken rows
// skipped, text cleaning and date conversion, dedup, Parquet, staging, the
// newer-wins upsert into an empty warehouse, and two analytics queries. It
// keeps no ledger, quarantines nothing and checks nothing.
func runReference(ctx context.Context, cfg config.Config, files []string, inputBytes int64, dir string) (*Reference, error) {
	if len(files) == 0 {
		return nil, errNoFiles
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	stmts, err := duckdb.ParseStatements(sqlFiles, "sql/*.sql", nil)
	if err != nil {
		return nil, err
	}
	exec := func(ctx context.Context, db *sql.DB, name string, data any) (int64, error) {
		r, err := stmts.Exec(ctx, db, name, data)
		if err != nil {
			return 0, err
		}
		return r.RowsAffected()
	}
	opts := duckdb.Options{MemoryLimit: cfg.DuckDB.TransformMemoryLimit, TempDirectory: cfg.DuckDB.TempDirectory, Threads: cfg.DuckDB.Threads}
	rss := startSampler()
	start := time.Now()
	cpu0 := cputime.Process()
	ref := &Reference{}
	step := func(name string, from time.Time, rows int64) {
		secs := time.Since(from).Seconds()
		ref.Steps = append(ref.Steps, Stage{Stage: name, Seconds: secs, Rows: rows, RowsPerSec: float64(rows) / secs,
			MBPerSec: float64(inputBytes) / 1e6 / secs})
	}

	eng, err := duckdb.Open(ctx, "", opts)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	parquet := map[string]string{}
	var rows int64
	for i, e := range grpipe.Entities() {
		out := filepath.Join(dir, e.Name+".parquet")
		n, err := exec(ctx, eng, "ref_transform", map[string]any{
			"Columns": refColumns(e), "File": files[i], "Key": e.Key, "Out": out})
		if err != nil {
			eng.Close()
			return nil, fmt.Errorf("transform %s: %w", e.Name, err)
		}
		parquet[e.Name] = out
		rows += n
	}
	eng.Close()
	step("transform", t, rows)

	wh, err := duckdb.Open(ctx, filepath.Join(dir, "warehouse.duckdb"), opts)
	if err != nil {
		return nil, err
	}
	defer wh.Close()
	t = time.Now()
	for _, e := range grpipe.Entities() {
		if _, err := exec(ctx, wh, "ref_stage", map[string]string{"Staging": "staging_" + e.Name, "Parquet": parquet[e.Name]}); err != nil {
			return nil, fmt.Errorf("stage %s: %w", e.Name, err)
		}
	}
	step("stage", t, rows)
	t = time.Now()
	for _, e := range grpipe.Entities() {
		data := map[string]string{"Warehouse": "warehouse_" + e.Name, "Staging": "staging_" + e.Name, "Key": e.Key}
		for _, name := range []string{"ref_create", "ref_upsert_delete", "ref_upsert_insert"} {
			if _, err := exec(ctx, wh, name, data); err != nil {
				return nil, fmt.Errorf("upsert %s: %w", e.Name, err)
			}
		}
	}
	step("upsert", t, rows)
	t = time.Now()
	for _, name := range []string{"ref_analytics_count", "ref_analytics_rating"} {
		if _, err := exec(ctx, wh, name, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	step("analytics", t, 0)
	ref.Seconds = time.Since(start).Seconds()
	ref.CPUSeconds = (cputime.Process() - cpu0).Seconds()
	samples := rss.stop()
	for _, s := range samples {
		ref.PeakRSS = max(ref.PeakRSS, s.rss)
	}
	return ref, nil
}

// refColumn is one column of an entity as the reference reads and cleans it.
type refColumn struct {
	Name string
	// ReadType is the type read_csv reads it as (Goodreads dates as text,
	// parsed in the select list).
	ReadType string
	// Text: its white space is folded (HTML: its tags dropped first);
	// GoodreadsTS: it is parsed as a Goodreads date.
	Text, HTML, GoodreadsTS bool
}

func refColumns(e grpipe.Entity) []refColumn {
	out := make([]refColumn, 0, len(e.Columns))
	for _, c := range e.Columns {
		rc := refColumn{Name: c.Name, ReadType: c.Type.SQL(), Text: c.Type == grpipe.Text, HTML: c.HTML, GoodreadsTS: c.Type == grpipe.GoodreadsTS}
		if rc.GoodreadsTS {
			rc.ReadType = "VARCHAR"
		}
		out = append(out, rc)
	}
	return out
}
