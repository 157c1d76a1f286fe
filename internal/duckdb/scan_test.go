package duckdb_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grpipe/grpipe/internal/duckdb"
)

// writeParquetGroups writes the rows of query to a Parquet file of row groups of
// rowGroup rows.
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

// TestEachParquetRow: every row of several files of many row groups (read
// in parts, one ahead) comes exactly once, with its values; an EpochMicros
// column gives the timestamp's microseconds; a file without rows adds none.
func TestEachParquetRow(t *testing.T) {
	ctx := context.Background()
	many := writeParquetGroups(t, `SELECT range AS id, 'name ' || range AS name,
		TIMESTAMP '1969-12-31 23:59:59.999999' + to_microseconds(range) AS at,
		CASE WHEN range % 7 = 0 THEN NULL ELSE range % 7 END AS r FROM range(300000)`, 10000)
	one := writeParquetGroups(t, `SELECT 300000 + range AS id, 'x' AS name, TIMESTAMP '2000-01-01' AS at, 1 AS r FROM range(3)`, 10000)
	empty := writeParquetGroups(t, `SELECT 1 AS id, 'x' AS name, TIMESTAMP '2000-01-01' AS at, 1 AS r WHERE false`, 10000)
	db, err := duckdb.Open(ctx, "", duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var groups int
	if err := db.QueryRow("SELECT count(DISTINCT row_group_id) FROM parquet_metadata(" + duckdb.Quote(many) + ")").Scan(&groups); err != nil || groups < 20 {
		t.Fatalf("the test file has %d row groups (%v), want 20 or more (several parts)", groups, err)
	}

	seen := make([]bool, 300003)
	nulls := 0
	cols := []duckdb.ParquetColumn{{Name: "id"}, {Name: "at", EpochMicros: true}, {Name: "name"}, {Name: "r"}}
	err = duckdb.EachParquetRow(ctx, db, cols, []string{many, empty, one}, func(v []driver.Value) error {
		id, ok := v[0].(int64)
		if !ok || id < 0 || id >= int64(len(seen)) || seen[id] {
			return fmt.Errorf("id %v (%T) unexpected or seen twice", v[0], v[0])
		}
		seen[id] = true
		wantAt := time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro() + id
		wantName := fmt.Sprintf("name %d", id)
		if id >= 300000 {
			wantAt, wantName = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), "x"
		}
		if at, ok := v[1].(int64); !ok || at != wantAt {
			return fmt.Errorf("id %d: at %v (%T), want %d", id, v[1], v[1], wantAt)
		}
		if v[2] != wantName {
			return fmt.Errorf("id %d: name %v, want %s", id, v[2], wantName)
		}
		if v[3] == nil {
			nulls++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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

// TestEachParquetRowStops: an error of fn, or a cancelled context, stops
// the read in its first part and comes back as it is; a file that cannot
// be read fails with its name.
func TestEachParquetRowStops(t *testing.T) {
	file := writeParquetGroups(t, `SELECT range AS id FROM range(500000)`, 10000)
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols := []duckdb.ParquetColumn{{Name: "id"}}

	stop := errors.New("stop here")
	n := 0
	err = duckdb.EachParquetRow(context.Background(), db, cols, []string{file}, func([]driver.Value) error {
		if n++; n == 100 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 100 {
		t.Errorf("fn's error: %v after %d rows, want %v after 100", err, n, stop)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = duckdb.EachParquetRow(ctx, db, cols, []string{file}, func([]driver.Value) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 500000 {
		t.Errorf("cancelled: %v after %d rows, want context.Canceled before the end", err, n)
	}

	missing := filepath.Join(t.TempDir(), "missing.parquet")
	err = duckdb.EachParquetRow(context.Background(), db, cols, []string{file, missing}, func([]driver.Value) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "missing.parquet") {
		t.Errorf("a missing file: %v, want an error naming it", err)
	}
	// The pool is still usable: no connection was left busy.
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("the database after the reads: %d, %v", one, err)
	}
}
