package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/postgres"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// writeParquet writes a Parquet file of n rows with a column of each type
// the warehouse uses, every third value NULL, via DuckDB.
func writeParquet(t testing.TB, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rows.parquet")
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{MemoryLimit: "512MB", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := fmt.Sprintf(`COPY (SELECT
		range::BIGINT AS id,
		CASE WHEN range %% 3 = 0 THEN NULL ELSE 'text ' || range || ' ''quoted'', ümlaut' END AS txt,
		CASE WHEN range %% 3 = 1 THEN NULL ELSE (range %% 5)::DOUBLE / 2 END AS rating,
		(range %% 1000)::INTEGER AS votes,
		(range %% 30)::SMALLINT AS day,
		range %% 2 = 0 AS flag,
		TIMESTAMP '2020-02-19 18:36:17.123456' + to_seconds(range) AS ts
	FROM range(%d)) TO %s (FORMAT PARQUET, COMPRESSION ZSTD)`, n, duckdb.Quote(p))
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	return p
}

var stagingTable = driver.Table{Schema: "s", Name: "t"}

var columns = []string{"id", "txt", "rating", "votes", "day", "flag", "ts"}

const createStaging = `CREATE SCHEMA IF NOT EXISTS s;
DROP TABLE IF EXISTS s.t;
CREATE TABLE s.t (id BIGINT, txt TEXT, rating DOUBLE PRECISION, votes INTEGER, day SMALLINT, flag BOOLEAN, ts TIMESTAMP)`

func open(t *testing.T, dsn string, opts postgres.Options) *postgres.Warehouse {
	t.Helper()
	w, err := postgres.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestLoadParquetTypes(t *testing.T) {
	w := open(t, pgtest.Database(t), postgres.Options{})
	ctx := context.Background()
	if _, err := w.DB().ExecContext(ctx, createStaging); err != nil {
		t.Fatal(err)
	}
	n, err := w.LoadParquet(ctx, stagingTable, columns, []string{writeParquet(t, 1000)})
	if err != nil || n != 1000 {
		t.Fatalf("loaded %d rows, %v; want 1000", n, err)
	}
	var (
		txt    sql.NullString
		rating sql.NullFloat64
		votes  int32
		day    int16
		flag   bool
		ts     time.Time
	)
	row := w.DB().QueryRowContext(ctx, "SELECT txt, rating, votes, day, flag, ts FROM s.t WHERE id = 2")
	if err := row.Scan(&txt, &rating, &votes, &day, &flag, &ts); err != nil {
		t.Fatal(err)
	}
	if txt.String != "text 2 'quoted', ümlaut" || rating.Float64 != 1 || votes != 2 || day != 2 || !flag ||
		!ts.Equal(time.Date(2020, 2, 19, 18, 36, 19, 123456000, time.UTC)) {
		t.Fatalf("row 2 = %q %v %d %d %v %v", txt.String, rating, votes, day, flag, ts)
	}
	var nullTxt, nullRating int
	if err := w.DB().QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE txt IS NULL), count(*) FILTER (WHERE rating IS NULL) FROM s.t").Scan(&nullTxt, &nullRating); err != nil {
		t.Fatal(err)
	}
	if nullTxt != 334 || nullRating != 333 {
		t.Fatalf("NULLs: %d text, %d rating; want 334 and 333", nullTxt, nullRating)
	}
	// The load analyzed the table (the upsert's plan reads its row count),
	// with a statistics target of its own that no pooled session keeps.
	var tuples float64
	var target string
	if err := w.DB().QueryRowContext(ctx, "SELECT reltuples, current_setting('default_statistics_target') FROM pg_class WHERE oid = 's.t'::regclass").Scan(&tuples, &target); err != nil {
		t.Fatal(err)
	}
	if tuples != 1000 || target != "100" {
		t.Fatalf("after the load: reltuples %v, default_statistics_target %s; want 1000 and the server's 100", tuples, target)
	}
}

func TestReadOnly(t *testing.T) {
	dsn := pgtest.Database(t)
	rw := open(t, dsn, postgres.Options{})
	if _, err := rw.DB().Exec("CREATE TABLE k (a INT)"); err != nil {
		t.Fatal(err)
	}
	ro := open(t, dsn, postgres.Options{ReadOnly: true})
	for _, q := range []string{"INSERT INTO k VALUES (1)", "DROP TABLE k", "CREATE TABLE j (a INT)"} {
		_, err := ro.DB().Exec(q)
		if err == nil || !errors.Is(ro.MapError(err), warehouse.ErrReadOnly) {
			t.Errorf("%s: %v, want a refusal mapped to warehouse.ErrReadOnly", q, err)
		}
	}
	var n int
	if err := ro.DB().QueryRow("SELECT count(*) FROM k").Scan(&n); err != nil || n != 0 {
		t.Fatalf("read on the read-only warehouse: %d, %v", n, err)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("server down", func(t *testing.T) {
		port := pgtest.FreePort(t)
		_, err := postgres.Open(ctx, fmt.Sprintf("postgres://u:s3cretpass@127.0.0.1:%d/db?sslmode=disable", port), postgres.Options{ConnectTimeout: 5 * time.Second})
		var pe *postgres.Error
		if err == nil || !errors.As(err, &pe) {
			t.Fatalf("err %v, want a postgres.Error", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, fmt.Sprintf("127.0.0.1:%d", port)) || !strings.Contains(msg, "cannot connect") || strings.Contains(msg, "s3cretpass") {
			t.Fatalf("message %q: want the address, 'cannot connect' and no password", msg)
		}
	})
	t.Run("bad password", func(t *testing.T) {
		c := pgtest.StartCluster(t)
		dsn := strings.Replace(c.DSN("postgres"), c.Password, "wrong-s3cret", 1)
		_, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err == nil {
			t.Fatal("a wrong password was accepted")
		}
		msg := err.Error()
		if !strings.Contains(msg, "refused the login") || !strings.Contains(msg, c.Addr()) || strings.Contains(msg, "wrong-s3cret") {
			t.Fatalf("message %q: want 'refused the login', the address and no password", msg)
		}
		if _, err := postgres.Open(ctx, c.DSN("postgres"), postgres.Options{}); err != nil {
			t.Fatalf("right password: %v", err)
		}
	})
	t.Run("missing database", func(t *testing.T) {
		c := pgtest.StartCluster(t)
		_, err := postgres.Open(ctx, c.DSN("nosuchdb"), postgres.Options{})
		if err == nil || !strings.Contains(err.Error(), "nosuchdb") || strings.Contains(err.Error(), c.Password) {
			t.Fatalf("err %v: want the database named, no password", err)
		}
	})
}

// TestRestartDuringCopy restarts the server while COPY streams rows: the
// load fails with a clear message, no row of it stays, and the next load
// succeeds.
func TestRestartDuringCopy(t *testing.T) {
	c := pgtest.StartCluster(t)
	ctx := context.Background()
	w := open(t, c.DSN("postgres"), postgres.Options{})
	if _, err := w.DB().ExecContext(ctx, createStaging); err != nil {
		t.Fatal(err)
	}
	const rows = 2_000_000
	file := writeParquet(t, rows)

	watch, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	restarted := make(chan error, 1)
	go func() {
		defer watch.Close()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			err := watch.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'copy %' AND state = 'active'").Scan(&n)
			if err != nil {
				restarted <- err
				return
			}
			if n > 0 {
				time.Sleep(100 * time.Millisecond) // some rows are in
				c.Restart()
				restarted <- nil
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		restarted <- errors.New("no COPY seen within 60 s")
	}()
	n, err := w.LoadParquet(ctx, stagingTable, columns, []string{file})
	if werr := <-restarted; werr != nil {
		t.Fatalf("restart: %v", werr)
	}
	if err == nil {
		t.Fatalf("load survived a server restart (%d rows): the COPY finished before the restart", n)
	}
	if msg := err.Error(); !strings.Contains(msg, c.Addr()) || strings.Contains(msg, c.Password) {
		t.Fatalf("message %q: want the address and no password", msg)
	}
	t.Logf("load error: %v", err)

	var got int
	for i := 0; ; i++ { // the pool may hand out a connection the restart cut
		err = w.DB().QueryRowContext(ctx, "SELECT count(*) FROM s.t").Scan(&got)
		if err == nil || i == 3 {
			break
		}
	}
	if err != nil || got != 0 {
		t.Fatalf("after the failed COPY: %d rows, %v; want 0", got, err)
	}
	n, err = w.LoadParquet(ctx, stagingTable, columns, []string{file})
	if err != nil || n != rows {
		t.Fatalf("load after the restart: %d rows, %v; want %d", n, err, rows)
	}
}

// TestSessionSettingsFromDSN: unknown DSN parameters are session settings
// (the README recommends &work_mem=... for large batches), and sessions
// run in UTC.
func TestSessionSettingsFromDSN(t *testing.T) {
	w := open(t, pgtest.Database(t)+"&work_mem=123MB", postgres.Options{})
	var mem, tz string
	if err := w.DB().QueryRow("SELECT current_setting('work_mem'), current_setting('TimeZone')").Scan(&mem, &tz); err != nil {
		t.Fatal(err)
	}
	if mem != "123MB" || tz != "UTC" {
		t.Fatalf("work_mem %s, TimeZone %s; want 123MB and UTC", mem, tz)
	}
	for _, c := range []struct{ dsn, want string }{{"", postgres.DefaultJIT}, {"&jit=on", "on"}} {
		w := open(t, pgtest.Database(t)+c.dsn, postgres.Options{})
		var jit string
		if err := w.DB().QueryRow("SELECT current_setting('jit')").Scan(&jit); err != nil || jit != c.want {
			t.Errorf("DSN parameters %q: jit %q (%v), want %q", c.dsn, jit, err, c.want)
		}
	}
}

func TestBadDSN(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:Pa55word@127.0.0.1:notaport/db", postgres.Options{})
	if !errors.Is(err, grpipe.ErrBadInput) || strings.Contains(err.Error(), "Pa55word") {
		t.Fatalf("err %v: want bad input without the password", err)
	}
}
