package transform

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
)

// TestDedupWinnerEdges runs the dedup on clean and keys files written by
// hand whose keys sit at the edges of the winner's packing (the greatest
// t·2⁶³ + ordinal): packed timestamps of the years 1 and 9999, ordinals
// with a file index in their high bits and up to 2⁶² + offset, ties of the
// timestamp broken by the ordinal, and excluded ordinals that would
// otherwise win. The rows kept must be, per id, those the rule picks,
// computed here.
func TestDedupWinnerEdges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := exec(ctx, db, "parallel_writes", nil); err != nil {
		t.Fatal(err)
	}
	e := grpipe.Users
	ts := []string{
		"0001-01-01 00:00:00.000000", "1970-01-01 00:00:00.000000", "2020-02-19 21:38:01.000001",
		"2020-02-19 21:38:01.000002", "9999-12-31 23:59:59.999999",
	}
	ords := []int64{0, 1, 7 << 40, 7<<40 + 1, 1<<62 + 5, 1<<62 + 6, 1<<63 - 1}
	r := rand.New(rand.NewPCG(3, 4))
	type row struct {
		id, ord int64
		ts      string
	}
	var rows []row
	used := map[int64]bool{}
	for id := int64(1); id <= 200; id++ {
		for range 1 + r.IntN(4) {
			ord := ords[r.IntN(len(ords))] - int64(r.IntN(3))*(1<<20)
			if ord < 0 || used[ord] {
				ord = int64(len(used)+1) << 21 // unique and small
			}
			used[ord] = true
			rows = append(rows, row{id, ord, ts[r.IntN(len(ts))]})
		}
	}
	exclude := []int64{rows[0].ord, rows[len(rows)-1].ord}
	var files []string
	for part := range 2 { // two files: rows of one id in both
		var clean, keys strings.Builder
		for i, rw := range rows {
			if i%2 != part {
				continue
			}
			for _, c := range e.Columns {
				switch c.Name {
				case e.Key:
					fmt.Fprint(&clean, rw.id)
				case "user_name":
					fmt.Fprintf(&clean, "name %d", rw.ord)
				case grpipe.TimestampColumn:
					clean.WriteString(rw.ts)
				}
				clean.WriteByte('\t')
			}
			fmt.Fprintf(&clean, "%d\n", rw.ord)
			fmt.Fprintf(&keys, "%d\t%d\t%d\n", rw.id, packTimestamp([]byte(rw.ts)), rw.ord)
		}
		f := filepath.Join(dir, fmt.Sprintf("part%d.tsv", part))
		if err := os.WriteFile(f, []byte(clean.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f+".keys", []byte(keys.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	want := map[int64]row{}
	for _, rw := range rows {
		if rw.ord == exclude[0] || rw.ord == exclude[1] {
			continue
		}
		if w, ok := want[rw.id]; !ok || rw.ts > w.ts || (rw.ts == w.ts && rw.ord > w.ord) {
			want[rw.id] = rw
		}
	}
	out := filepath.Join(dir, "users.parquet")
	n, err := dedupToParquet(ctx, db, e, files, out, exclude, "")
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) {
		t.Errorf("%d rows staged, want %d (one per id)", n, len(want))
	}
	got, err := db.QueryContext(ctx, "SELECT user_id, user_name FROM read_parquet("+duckdb.Quote(out)+")")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	seen := 0
	for got.Next() {
		var id int64
		var name sql.NullString
		if err := got.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		seen++
		if w := fmt.Sprintf("name %d", want[id].ord); name.String != w {
			t.Errorf("id %d: kept %q, want %q (%s)", id, name.String, w, want[id].ts)
		}
	}
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("%d rows read back, want %d", seen, len(want))
	}
}
