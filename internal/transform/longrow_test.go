package transform_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/transform"
)

// TestRowsNearTheLimit: clean rows just under transform.MaxRowBytes, several
// in a row so that they cross the CSV reader's buffers (sized from the line
// limit, not DuckDB's default of sixteen times it) and the Parquet row
// groups (bounded in bytes), come out whole, and under a memory_limit far
// below what DuckDB's default buffers took.
func TestRowsNearTheLimit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(dir, "user.csv")
	var body strings.Builder
	body.WriteString("user_id,user_name,location,record_create_timestamp\n")
	long := transform.MaxRowBytes - 200
	const rows = 6
	for i := range rows {
		fmt.Fprintf(&body, "%d,%s,%s,2020-01-01 00:00:0%d\n", i+1, strings.Repeat(string(rune('a'+i)), long/2), strings.Repeat("z", long/2-10), i)
	}
	fmt.Fprintf(&body, "%d,short,here,2020-01-01 00:00:00\n", rows+1)
	if err := os.WriteFile(in, []byte(body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(ctx, "", duckdb.Options{MemoryLimit: "200MB", TempDirectory: filepath.Join(dir, "spill")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := transform.Run(ctx, db, []transform.Source{{Entity: grpipe.Users, Name: "user.csv", Path: in}},
		transform.Options{WorkDir: filepath.Join(dir, "work"), MaxRejectRatio: 0, Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	er := res.Entities["users"]
	if er.Read != rows+1 || er.Rejected != 0 || er.Staged != rows+1 {
		t.Fatalf("ledger read %d rejected %d staged %d, want %d read and staged", er.Read, er.Rejected, er.Staged, rows+1)
	}
	var n, whole int64
	q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE user_id = 7 OR (length(user_name) = %d AND user_name = repeat(chr(96 + user_id::INTEGER), %d) AND length(location) = %d))
		FROM read_parquet(%s)`, long/2, long/2, long/2-10, duckdb.Quote(er.Parquet))
	if err := db.QueryRowContext(ctx, q).Scan(&n, &whole); err != nil {
		t.Fatal(err)
	}
	if n != rows+1 || whole != n {
		t.Fatalf("%d rows in the Parquet, %d of them whole; want %d whole rows", n, whole, rows+1)
	}
}
