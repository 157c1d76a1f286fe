package duckdb_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpipe/grpipe/internal/duckdb"
)

// writeParquetGroups writes the rows of query to a Parquet file of row
// groups of rowGroup rows.
func writeParquetGroups(t *testing.T, query string, rowGroup int) string {
	t.Helper()
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := filepath.Join(t.TempDir(), "rows.parquet")
	if _, err := db.Exec(fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, ROW_GROUP_SIZE %d)", query, duckdb.Quote(p), rowGroup)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEachParquetChunk: every row of several files (one of many row groups,
// one empty) comes exactly once, from DuckDB's threads side by side, with
// its values, its file and its row number; text is borrowed, an
// EpochMicros column gives the timestamp's microseconds, NULLs are nil.
func TestEachParquetChunk(t *testing.T) {
	ctx := context.Background()
	many := writeParquetGroups(t, `SELECT range AS id, 'name ' || range AS name,
		TIMESTAMP '1969-12-31 23:59:59.999999' + to_microseconds(range) AS at,
		CASE WHEN range % 7 = 0 THEN NULL ELSE range % 7 END AS r FROM range(300000)`, 10000)
	one := writeParquetGroups(t, `SELECT 300000 + range AS id, NULL::VARCHAR AS name, TIMESTAMP '2000-01-01' AS at, 1 AS r FROM range(3)`, 10000)
	empty := writeParquetGroups(t, `SELECT 1 AS id, 'x' AS name, TIMESTAMP '2000-01-01' AS at, 1 AS r WHERE false`, 10000)
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var mu sync.Mutex
	seen := make([]bool, 300003)
	nulls := 0
	cols := []duckdb.ParquetColumn{{Name: "id"}, {Name: "at", EpochMicros: true}, {Name: "name"}, {Name: "r"}}
	n, err := duckdb.EachParquetChunk(ctx, db, cols, []string{many, empty, one}, func(c *duckdb.Chunk) error {
		if c.IsText(0) || !c.IsText(2) || !c.IsText(4) || c.IsText(5) {
			return fmt.Errorf("text columns: %v %v %v %v, want only name and the file", c.IsText(0), c.IsText(2), c.IsText(4), c.IsText(5))
		}
		for row := range c.Len() {
			v, err := c.Value(0, row)
			if err != nil {
				return err
			}
			id, ok := v.(int64)
			if !ok || id < 0 || id >= int64(len(seen)) {
				return fmt.Errorf("id %v (%T) unexpected", v, v)
			}
			wantAt := time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro() + id
			wantName, wantNamed, wantFile, wantRow := fmt.Sprintf("name %d", id), true, many, id
			if id >= 300000 {
				wantAt, wantName, wantNamed, wantFile, wantRow = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), "", false, one, id-300000
			}
			if at, err := c.Value(1, row); err != nil || at != any(wantAt) {
				return fmt.Errorf("id %d: at %v (%T), %v; want %d", id, at, at, err, wantAt)
			}
			if name, ok, err := c.Text(2, row); err != nil || ok != wantNamed || name != wantName {
				return fmt.Errorf("id %d: name %q %v %v, want %q %v", id, name, ok, err, wantName, wantNamed)
			}
			r, err := c.Value(3, row)
			if err != nil {
				return err
			}
			if file, ok, err := c.Text(4, row); err != nil || !ok || file != wantFile {
				return fmt.Errorf("id %d: file %q, %v", id, file, err)
			}
			if at, err := c.Value(5, row); err != nil || at != any(wantRow) {
				return fmt.Errorf("id %d: row %v, %v; want %d", id, at, err, wantRow)
			}
			mu.Lock()
			dup := seen[id]
			seen[id] = true
			if r == nil {
				nulls++
			}
			mu.Unlock()
			if dup {
				return fmt.Errorf("id %d read twice", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(seen)) {
		t.Errorf("%d rows counted, want %d", n, len(seen))
	}
	for id, ok := range seen {
		if !ok {
			t.Fatalf("id %d never read", id)
		}
	}
	if nulls != 300000/7+1 {
		t.Errorf("%d NULLs, want %d", nulls, 300000/7+1)
	}
}

// TestEachParquetChunkStops: an error of fn (the very error), a cancelled
// context, or a file that cannot be read stop the read; the database is
// still usable after each.
func TestEachParquetChunkStops(t *testing.T) {
	file := writeParquetGroups(t, `SELECT range AS id FROM range(2000000)`, 100000)
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols := []duckdb.ParquetColumn{{Name: "id"}}
	usable := func(when string) {
		t.Helper()
		var one int
		if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Errorf("the database after %s: %d, %v", when, one, err)
		}
	}

	stop := errors.New("stop here")
	var mu sync.Mutex
	calls := 0
	_, err = duckdb.EachParquetChunk(context.Background(), db, cols, []string{file}, func(*duckdb.Chunk) error {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls >= 2000000/2048 {
		t.Errorf("fn's error: %v after %d chunks, want %v before the end", err, calls, stop)
	}
	usable("fn's error")

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	_, err = duckdb.EachParquetChunk(ctx, db, cols, []string{file}, func(*duckdb.Chunk) error {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 3 {
			cancel()
		}
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v after %d chunks, want context.Canceled", err, calls)
	}
	usable("a cancelled read")

	missing := filepath.Join(t.TempDir(), "missing.parquet")
	_, err = duckdb.EachParquetChunk(context.Background(), db, cols, []string{file, missing}, func(*duckdb.Chunk) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "missing.parquet") {
		t.Errorf("a missing file: %v, want an error naming it", err)
	}
	usable("a missing file")
}
