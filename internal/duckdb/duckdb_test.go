package duckdb_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

func setting(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("SELECT current_setting($1)::VARCHAR", name).Scan(&v); err != nil {
		t.Fatalf("setting %s: %v", name, err)
	}
	return v
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	tmp := filepath.Join(t.TempDir(), "spill", "here")
	db, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "x.duckdb"), duckdb.Options{MemoryLimit: "123MB", Threads: 3, TempDirectory: tmp})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, want := range map[string]string{
		"memory_limit":           "117.3 MiB", // 123 MB
		"threads":                "3",
		"temp_directory":         tmp,
		"TimeZone":               "UTC",
		"enable_external_access": "true",
	} {
		if got := setting(t, db, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if fi, err := os.Stat(tmp); err != nil || !fi.IsDir() {
		t.Errorf("temp directory not created: %v", err)
	}
	var s string // ICU is loaded: time zone arithmetic works
	if err := db.QueryRow("SELECT (TIMESTAMPTZ '2020-01-01 00:00:00+02')::VARCHAR").Scan(&s); err != nil || s != "2019-12-31 22:00:00+00" {
		t.Errorf("time zone conversion: %q, %v", s, err)
	}

	mem, err := duckdb.Open(ctx, "", duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if got := setting(t, mem, "TimeZone"); got != "UTC" {
		t.Errorf("in-memory TimeZone = %q, want UTC", got)
	}
	if got := setting(t, mem, "preserve_insertion_order"); got != "true" {
		t.Errorf("preserve_insertion_order = %q by default, want true", got)
	}
	unordered, err := duckdb.Open(ctx, "", duckdb.Options{Unordered: true})
	if err != nil {
		t.Fatal(err)
	}
	defer unordered.Close()
	if got := setting(t, unordered, "preserve_insertion_order"); got != "false" {
		t.Errorf("preserve_insertion_order = %q with Unordered, want false", got)
	}
}

// databaseWithOneRow creates a database file holding the table k of one row
// (a = 1), closed.
func databaseWithOneRow(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.duckdb")
	rw, err := duckdb.Open(context.Background(), path, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := rw.Exec("CREATE TABLE k (a INTEGER); INSERT INTO k VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadOnly: a read-only database refuses every write with
// warehouse.ErrReadOnly, touches no other file, and its settings are locked.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	path := databaseWithOneRow(t)

	tmp := filepath.Join(t.TempDir(), "never")
	ro, err := duckdb.Open(ctx, path, duckdb.Options{ReadOnly: true, TempDirectory: tmp})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only open made its temp directory: %v", err)
	}
	for _, q := range []string{"INSERT INTO k VALUES (2)", "DELETE FROM k", "CREATE TABLE j (a INTEGER)", "DROP TABLE k", "CREATE SCHEMA IF NOT EXISTS s"} {
		_, err := ro.Exec(q)
		if err == nil {
			t.Errorf("%s: accepted on a read-only database", q)
			continue
		}
		if !errors.Is(duckdb.MapError(err), warehouse.ErrReadOnly) {
			t.Errorf("%s: %v, want it mapped to ErrReadOnly", q, err)
		}
	}
	for _, q := range []string{"SELECT * FROM read_csv('/etc/hostname')", "COPY k TO '/tmp/grpipe-duckdb-test.csv'", "SET enable_external_access = true", "SET threads = 1"} {
		if _, err := ro.Exec(q); err == nil {
			t.Errorf("%s: accepted on a read-only database", q)
		}
	}
	var n int
	if err := ro.QueryRow("SELECT count(*) FROM k").Scan(&n); err != nil || n != 1 {
		t.Errorf("read: %d, %v", n, err)
	}
}

// TestReadOnlyConcurrent: a read-only database answers on several
// connections at once (its configuration is locked by the first one: the
// later ones must not try to set it), each in UTC whatever the process's
// time zone.
func TestReadOnlyConcurrent(t *testing.T) {
	t.Setenv("TZ", "America/New_York")
	ctx := context.Background()
	path := databaseWithOneRow(t)
	ro, err := duckdb.Open(ctx, path, duckdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	const n = 4
	conns := make([]*sql.Conn, n) // held at once: n connections of the pool
	for i := range conns {
		if conns[i], err = ro.Conn(ctx); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer conns[i].Close()
	}
	for i, c := range conns {
		var tz, ts string
		if err := c.QueryRowContext(ctx, "SELECT current_setting('TimeZone'), CAST(TIMESTAMPTZ '2026-01-01 00:00:00+00' AS VARCHAR)").Scan(&tz, &ts); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if tz != "UTC" || ts != "2026-01-01 00:00:00+00" {
			t.Errorf("connection %d: time zone %q, a UTC midnight reads %q: want UTC", i, tz, ts)
		}
		if _, err := c.ExecContext(ctx, "INSERT INTO k VALUES (2)"); !errors.Is(duckdb.MapError(err), warehouse.ErrReadOnly) {
			t.Errorf("connection %d: a write gave %v, want ErrReadOnly", i, err)
		}
	}
}

// holdEnv makes the test binary a process that holds a DuckDB file open
// (see TestMain): the value is the file, then "ro" or "rw".
const holdEnv = "GRPIPE_DUCKDB_TEST_HOLD"

func TestMain(m *testing.M) {
	if v := os.Getenv(holdEnv); v != "" {
		os.Exit(hold(v))
	}
	os.Exit(m.Run())
}

// hold opens the file, says "open" on stdout and keeps it open until stdin
// closes.
func hold(v string) int {
	path, mode, _ := strings.Cut(v, "|")
	db, err := duckdb.Open(context.Background(), path, duckdb.Options{ReadOnly: mode == "ro"})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("open")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// holder starts a process holding path open; it exits when the test ends.
func holder(t *testing.T, path, mode string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path+"|"+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "open" {
		t.Fatalf("holder process: %q", line)
	}
}

// TestBusy: while another process has the file open for writing, opening
// it (for writing or reading) fails with warehouse.ErrBusy and says what to
// do; while another process reads it, it can be read but not written.
func TestBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.duckdb")
	db, err := duckdb.Open(ctx, path, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	t.Run("writer holds it", func(t *testing.T) {
		holder(t, path, "rw")
		for _, ro := range []bool{false, true} {
			_, err := duckdb.OpenWarehouse(ctx, path, duckdb.Options{ReadOnly: ro})
			if !errors.Is(err, warehouse.ErrBusy) {
				t.Fatalf("open (read-only %v) while another process writes: %v, want ErrBusy", ro, err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "wait for its run to end") {
				t.Errorf("message %q: want the file and what to do", err)
			}
		}
	})
	t.Run("reader holds it", func(t *testing.T) {
		holder(t, path, "ro")
		if _, err := duckdb.Open(ctx, path, duckdb.Options{}); !errors.Is(err, warehouse.ErrBusy) {
			t.Fatalf("open for writing while another process reads: %v, want ErrBusy", err)
		}
		ro, err := duckdb.Open(ctx, path, duckdb.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("open read-only beside another reader: %v", err)
		}
		ro.Close()
	})
	// Released: the file opens for writing again.
	db, err = duckdb.Open(ctx, path, duckdb.Options{})
	if err != nil {
		t.Fatalf("open after the other processes ended: %v", err)
	}
	db.Close()
}

func TestMapError(t *testing.T) {
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if duckdb.MapError(nil) != nil {
		t.Error("MapError(nil) != nil")
	}
	other := errors.New("something else")
	if duckdb.MapError(other) != other {
		t.Error("a non-DuckDB error was changed")
	}
	for q, want := range map[string]error{
		"SELECT * FROM nosuch":         warehouse.ErrNoTable,
		"SELECT * FROM nosuchschema.t": warehouse.ErrNoTable,
	} {
		_, err := db.Exec(q)
		if !errors.Is(duckdb.MapError(err), want) {
			t.Errorf("%s: %v, want it mapped to %v", q, err, want)
		}
	}
	for _, q := range []string{"SELECT nosuchfunction(1)", "SELECT FROM WHERE", "SELECT 1/'x'"} {
		_, err := db.Exec(q)
		mapped := duckdb.MapError(err)
		if err == nil || errors.Is(mapped, warehouse.ErrNoTable) || errors.Is(mapped, warehouse.ErrReadOnly) || errors.Is(mapped, warehouse.ErrBusy) {
			t.Errorf("%s: %v mapped to a sentinel", q, mapped)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/data/a.parquet":   "'/data/a.parquet'",
		"it's":              "'it''s'",
		"'); DROP TABLE x;": "'''); DROP TABLE x;'",
		"":                  "''",
	} {
		if got := duckdb.Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := duckdb.QuoteList([]string{"a", "b'c"}); got != "['a', 'b''c']" {
		t.Errorf("QuoteList = %s", got)
	}
}

// writeParquet writes rows (id INTEGER, name VARCHAR) to a Parquet file in
// a folder whose name holds a quote.
func writeParquet(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "it's here")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "rows.parquet")
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := fmt.Sprintf("COPY (SELECT range::INTEGER AS id, 'name ' || range AS name FROM range(%d)) TO %s (FORMAT parquet)", n, duckdb.Quote(p))
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStageParquet: staging is a view over the files with the definition's
// types, an empty table when there are no files, and each call replaces
// what the last one made.
func TestStageParquet(t *testing.T) {
	ctx := context.Background()
	w, err := duckdb.OpenWarehouse(ctx, filepath.Join(t.TempDir(), "w.duckdb"), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.DB().Exec(`CREATE SCHEMA "odd schema"`); err != nil {
		t.Fatal(err)
	}
	def := driver.TableDef{Table: driver.Table{Schema: "odd schema", Name: `the "table"`},
		Columns: []driver.ColumnDef{{Name: "id", Type: "BIGINT"}, {Name: "name", Type: "VARCHAR"}}}
	file := writeParquet(t, 5)
	kind := func() (string, string) {
		t.Helper()
		var k, typ string
		err := w.DB().QueryRow(`SELECT 'VIEW' FROM duckdb_views() WHERE schema_name = $1 AND view_name = $2
			UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2`, def.Table.Schema, def.Table.Name).Scan(&k)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.DB().QueryRow(`SELECT data_type FROM duckdb_columns() WHERE schema_name = $1 AND table_name = $2 AND column_name = 'id'`,
			def.Table.Schema, def.Table.Name).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		return k, typ
	}
	for _, step := range []struct {
		files    []string
		n        int64
		kind     string
		rowCount int
	}{
		{[]string{file}, 5, "VIEW", 5},
		{[]string{file, file}, 10, "VIEW", 10},
		{nil, 0, "TABLE", 0},
		{[]string{file}, 5, "VIEW", 5},
	} {
		n, err := w.StageParquet(ctx, def, step.files)
		if err != nil || n != step.n {
			t.Fatalf("StageParquet(%d files) = %d, %v; want %d", len(step.files), n, err, step.n)
		}
		if k, typ := kind(); k != step.kind || typ != "BIGINT" {
			t.Errorf("staging after %d files: %s with id %s, want %s with id BIGINT", len(step.files), k, typ, step.kind)
		}
		var rows int
		var last sql.NullString
		if err := w.DB().QueryRow(`SELECT count(*), max(name) FROM "odd schema"."the ""table"""`).Scan(&rows, &last); err != nil || rows != step.rowCount {
			t.Errorf("staging holds %d rows, %v; want %d", rows, err, step.rowCount)
		}
	}

	rows, err := duckdb.ScanParquet(ctx, w.DB(), []string{"name", "id"}, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		var id int64
		if err := rows.Scan(&name, &id); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d=%s", id, name))
	}
	if strings.Join(got, " ") != "0=name 0 1=name 1 2=name 2 3=name 3 4=name 4" {
		t.Errorf("ScanParquet rows %v", got)
	}
}
