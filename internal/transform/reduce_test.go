package transform_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/transform"
)

// TestReduceEqualsOneTransform: transforming files one by one and reducing
// the parts gives the same rows as transforming them together, ties on id
// and timestamp included (the later file wins, and within a file the later
// line). The work directory's name has quotes in it: every file name
// reaches DuckDB's statements as a quoted literal.
func TestReduceEqualsOneTransform(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), `o'brien's "files"`)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hdr := "user_id,user_name,record_create_timestamp\n"
	files := []string{
		hdr + "1,a-first,2020-01-01 00:00:00\n2,b-old,2020-01-01 00:00:00\n3,c-only,2020-01-03 00:00:00\n1,a-later-line,2020-01-01 00:00:00\n",
		hdr + "1,a-second-file,2020-01-01 00:00:00\n2,b-newer,2020-01-02 00:00:00\nbad,row,x\n4,d,2020-01-01 00:00:00\n",
		hdr + "2,b-older-in-last-file,2020-01-01 12:00:00\n4,d-last-file-tie,2020-01-01 00:00:00\n5,e,2020-01-05 00:00:00\n",
	}
	var sources []transform.Source
	for i, body := range files {
		p := filepath.Join(dir, fmt.Sprintf("user-%d.csv", i))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, transform.Source{Entity: grpipe.Users, Name: filepath.Base(p), Path: p})
	}
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, codec := range grpipe.Compressions() {
		t.Run(string(codec), func(t *testing.T) {
			opts := func(sub string) transform.Options {
				return transform.Options{WorkDir: filepath.Join(dir, string(codec), sub), MaxRejectRatio: 1, Parallelism: 1, Compression: codec}
			}

			whole, err := transform.Run(ctx, db, sources, opts("whole"))
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			var read, rejected int64
			for i, src := range sources {
				res, err := transform.Run(ctx, db, []transform.Source{src}, opts(fmt.Sprintf("part%d", i)))
				if err != nil {
					t.Fatal(err)
				}
				er := res.Entities["users"]
				read, rejected = read+er.Read, rejected+er.Rejected
				if er.Parquet != "" {
					parts = append(parts, er.Parquet)
				}
			}
			out := filepath.Join(dir, string(codec), "reduced.parquet")
			staged, err := transform.Reduce(ctx, db, grpipe.Users, parts, out, codec)
			if err != nil {
				t.Fatal(err)
			}
			we := whole.Entities["users"]
			if staged != we.Staged || read != we.Read || rejected != we.Rejected {
				t.Fatalf("fan-out: read %d rejected %d staged %d; one transform: %+v", read, rejected, staged, we)
			}
			rows := func(p string) [][2]string {
				r, err := db.QueryContext(ctx, "SELECT user_id::VARCHAR, user_name FROM read_parquet("+duckdb.Quote(p)+") ORDER BY user_id")
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				var out [][2]string
				for r.Next() {
					var kv [2]string
					if err := r.Scan(&kv[0], &kv[1]); err != nil {
						t.Fatal(err)
					}
					out = append(out, kv)
				}
				return out
			}
			want := [][2]string{{"1", "a-second-file"}, {"2", "b-newer"}, {"3", "c-only"}, {"4", "d-last-file-tie"}, {"5", "e"}}
			if got := rows(we.Parquet); !reflect.DeepEqual(got, want) {
				t.Fatalf("one transform: %v, want %v", got, want)
			}
			if got := rows(out); !reflect.DeepEqual(got, want) {
				t.Fatalf("reduced parts: %v, want %v", got, want)
			}
			// Both files are written with the codec asked for.
			for _, p := range []string{we.Parquet, out} {
				var got string
				if err := db.QueryRowContext(ctx, "SELECT string_agg(DISTINCT compression, ',') FROM parquet_metadata("+duckdb.Quote(p)+")").Scan(&got); err != nil {
					t.Fatal(err)
				}
				if !strings.EqualFold(got, string(codec)) {
					t.Errorf("%s is compressed with %s, want %s", filepath.Base(p), got, codec)
				}
			}
		})
	}
}
