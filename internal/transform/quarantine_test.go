package transform_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/transform"
)

// TestQuarantineFiles: the rejected rows of an input file go to its
// quarantine CSV (read back with the quarantine package) and, for the
// entity, to the rejects Parquet with the same columns.
func TestQuarantineFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(dir, "user.csv")
	body := "user_id,user_name,record_create_timestamp\n" +
		"1,Ann,2020-01-01 00:00:00\n" +
		"x,\"Bad, id\",2020-01-01 00:00:00\n" +
		"2,Bob\n" +
		"3,Cy,2020-01-01 00:00:00\n"
	if err := os.WriteFile(in, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := transform.Run(ctx, db, []transform.Source{{Entity: grpipe.Users, Name: "user.csv", Path: in}},
		transform.Options{WorkDir: filepath.Join(dir, "work"), MaxRejectRatio: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []quarantine.Row{
		{SourceFile: "user.csv", Line: 3, Column: "user_id", Reason: `user_id "x" is not an integer`, Raw: `x,"Bad, id",2020-01-01 00:00:00`},
		{SourceFile: "user.csv", Line: 4, Column: "", Reason: "expected 3 fields as in the header, found 2", Raw: "2,Bob"},
	}
	f, err := os.Open(res.RejectFiles["user.csv"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := quarantine.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Page(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("quarantine file rows %+v\nwant %+v", got, want)
	}

	er := res.Entities["users"]
	if er.Rejected != 2 || er.Staged != 2 || er.Rejects == "" {
		t.Fatalf("users result %+v: want 2 rejected, 2 staged, a rejects Parquet", er)
	}
	rows, err := db.QueryContext(ctx, "SELECT * FROM read_parquet("+duckdb.Quote(er.Rejects)+") ORDER BY line")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !reflect.DeepEqual(cols, quarantine.ColumnNames()) {
		t.Fatalf("rejects Parquet columns %v, want %v", cols, quarantine.ColumnNames())
	}
	var pq []quarantine.Row
	for rows.Next() {
		var q quarantine.Row
		var column sql.NullString // an empty column_name is NULL in the Parquet
		if err := rows.Scan(&q.SourceFile, &q.Line, &column, &q.Reason, &q.Raw); err != nil {
			t.Fatal(err)
		}
		q.Column = column.String
		pq = append(pq, q)
	}
	if !reflect.DeepEqual(pq, got) {
		t.Fatalf("rejects Parquet %+v\nquarantine file %+v", pq, got)
	}
}
