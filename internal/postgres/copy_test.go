package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/postgres"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// parquetOfQuery writes the rows of a DuckDB query to a Parquet file.
func parquetOfQuery(t *testing.T, query string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rows.parquet")
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{MemoryLimit: "512MB", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("COPY (%s) TO %s (FORMAT PARQUET)", query, duckdb.Quote(p))); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadParquetEdgeValues: the values at the edges of each type the
// binary COPY encoder writes reach PostgreSQL unchanged, read back as
// PostgreSQL prints them.
func TestLoadParquetEdgeValues(t *testing.T) {
	w := open(t, pgtest.Database(t), postgres.Options{})
	ctx := context.Background()
	if _, err := w.DB().ExecContext(ctx, `CREATE SCHEMA s; CREATE TABLE s.e (id INTEGER, big BIGINT, i INTEGER, sm SMALLINT,
		d DOUBLE PRECISION, f REAL, b BOOLEAN, txt TEXT, vc VARCHAR(20), ts TIMESTAMP, tz TIMESTAMPTZ, dt DATE)`); err != nil {
		t.Fatal(err)
	}
	file := parquetOfQuery(t, `SELECT * FROM (VALUES
		(1, (-9223372036854775807 - 1)::BIGINT, (-2147483647 - 1)::INTEGER, (-32767 - 1)::SMALLINT, -0.0::DOUBLE, 1.5::FLOAT, false,
		 E'tab\there\nnew line \\ backslash "quoted" ''single''', '', TIMESTAMP '1969-07-20 20:17:40.000001',
		 TIMESTAMPTZ '1999-12-31 23:59:59.999999+00', DATE '1900-01-01'),
		(2, 9223372036854775807::BIGINT, 2147483647::INTEGER, 32767::SMALLINT, 1e-300::DOUBLE, -3.25::FLOAT, true,
		 'ümlaut 日本 😀', 'x', TIMESTAMP '2100-12-31 23:59:59.999999', TIMESTAMPTZ '2000-01-01 00:00:00+00', DATE '2100-12-31'),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
		(4, 0::BIGINT, 0::INTEGER, 0::SMALLINT, 0.1::DOUBLE, 0::FLOAT, true, '', '', TIMESTAMP '2000-01-01 00:00:00',
		 TIMESTAMPTZ '2000-01-01 00:00:00.000001+00', DATE '2000-01-01')
	) v(id, big, i, sm, d, f, b, txt, vc, ts, tz, dt)`)
	cols := []string{"id", "big", "i", "sm", "d", "f", "b", "txt", "vc", "ts", "tz", "dt"}
	n, err := w.LoadParquet(ctx, driver.Table{Schema: "s", Name: "e"}, cols, []string{file})
	if err != nil || n != 4 {
		t.Fatalf("loaded %d rows, %v; want 4", n, err)
	}
	rows, err := w.DB().QueryContext(ctx, `SELECT concat_ws('|', id, coalesce(big::text, 'NULL'), coalesce(i::text, 'NULL'),
		coalesce(sm::text, 'NULL'), coalesce(d::text, 'NULL'), coalesce(f::text, 'NULL'), coalesce(b::text, 'NULL'),
		coalesce(quote_literal(txt), 'NULL'), coalesce(quote_literal(vc), 'NULL'), coalesce(ts::text, 'NULL'),
		coalesce((tz AT TIME ZONE 'UTC')::text, 'NULL'), coalesce(dt::text, 'NULL')) FROM s.e ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	want := []string{
		`1|-9223372036854775808|-2147483648|-32768|-0|1.5|false|E'tab	here` + "\n" + `new line \\ backslash "quoted" ''single'''|''|1969-07-20 20:17:40.000001|1999-12-31 23:59:59.999999|1900-01-01`,
		`2|9223372036854775807|2147483647|32767|1e-300|-3.25|true|'ümlaut 日本 😀'|'x'|2100-12-31 23:59:59.999999|2000-01-01 00:00:00|2100-12-31`,
		`3|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL`,
		`4|0|0|0|0.1|0|true|''|''|2000-01-01 00:00:00|2000-01-01 00:00:00.000001|2000-01-01`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoadParquetOtherTypes: a column of a type the binary encoder does not
// write (NUMERIC here) is loaded through pgx's generic encoder.
func TestLoadParquetOtherTypes(t *testing.T) {
	w := open(t, pgtest.Database(t), postgres.Options{})
	ctx := context.Background()
	if _, err := w.DB().ExecContext(ctx, `CREATE SCHEMA s; CREATE TABLE s.n (id BIGINT, amount NUMERIC(10, 2))`); err != nil {
		t.Fatal(err)
	}
	file := parquetOfQuery(t, `SELECT range AS id, range * 1.25 AS amount FROM range(3)`)
	n, err := w.LoadParquet(ctx, driver.Table{Schema: "s", Name: "n"}, []string{"id", "amount"}, []string{file})
	if err != nil || n != 3 {
		t.Fatalf("loaded %d rows, %v; want 3", n, err)
	}
	var sum string
	if err := w.DB().QueryRowContext(ctx, "SELECT sum(amount)::text FROM s.n").Scan(&sum); err != nil || sum != "3.75" {
		t.Fatalf("sum(amount) = %q, %v; want 3.75", sum, err)
	}
}

// TestLoadParquetOutOfRange: a value that does not fit its column fails the
// load with the row and column named, and no row of the COPY stays.
func TestLoadParquetOutOfRange(t *testing.T) {
	w := open(t, pgtest.Database(t), postgres.Options{})
	ctx := context.Background()
	if _, err := w.DB().ExecContext(ctx, `CREATE SCHEMA s; CREATE TABLE s.r (id BIGINT, votes INTEGER)`); err != nil {
		t.Fatal(err)
	}
	// 300,000 rows: the bad one comes after the first chunks were sent.
	file := parquetOfQuery(t, `SELECT range AS id, CASE WHEN range = 299999 THEN 3000000000 ELSE range END::BIGINT AS votes FROM range(300000)`)
	_, err := w.LoadParquet(ctx, driver.Table{Schema: "s", Name: "r"}, []string{"id", "votes"}, []string{file})
	if err == nil || !strings.Contains(err.Error(), "row 300000, column votes: 3000000000 out of the range of a 4-byte integer column") ||
		!strings.Contains(err.Error(), file) {
		t.Fatalf("load of an out-of-range value: %v", err)
	}
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		t.Errorf("the error is the server's (%v): want the encoder's, before the server sees the value", err)
	}
	var left int
	if err := w.DB().QueryRowContext(ctx, "SELECT count(*) FROM s.r").Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows left after the failed COPY (%v), want 0", left, err)
	}
}

// TestLoadParquetUnreadableFile: a Parquet file that is missing, or is not
// Parquet, fails the load with the file named, and no row stays.
func TestLoadParquetUnreadableFile(t *testing.T) {
	w := open(t, pgtest.Database(t), postgres.Options{})
	ctx := context.Background()
	if _, err := w.DB().ExecContext(ctx, `CREATE SCHEMA s; CREATE TABLE s.u (id BIGINT, at TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	good := parquetOfQuery(t, `SELECT range AS id, TIMESTAMP '2026-01-01' AS at FROM range(5)`)
	notParquet := filepath.Join(t.TempDir(), "rows.parquet")
	if err := os.WriteFile(notParquet, []byte("id,at\n1,2026-01-01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{filepath.Join(t.TempDir(), "missing.parquet"), notParquet} {
		n, err := w.LoadParquet(ctx, driver.Table{Schema: "s", Name: "u"}, []string{"id", "at"}, []string{good, bad})
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("load of %s: %d rows, %v; want an error naming the file", bad, n, err)
		}
	}
	var rows int
	if err := w.DB().QueryRowContext(ctx, "SELECT count(*) FROM s.u").Scan(&rows); err != nil || rows != 0 {
		t.Errorf("the table holds %d rows after the failed loads (%v), want 0", rows, err)
	}
}
