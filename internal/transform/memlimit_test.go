package transform_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/transform"
)

// TestCSVMemoryLimit: a batch of CSV files only is deduplicated under
// Options.CSVMemoryLimit, and an entity whose dedup runs out of memory under
// it (1MB: DuckDB's CSV reader alone needs more) is deduplicated again under
// the engine's own limit, with the result of a run without the lower limit;
// the engine's limit is its own again after the run. A batch with a file of
// another format keeps the engine's own limit (under 1MB its source keys
// could not be grouped).
func TestCSVMemoryLimit(t *testing.T) {
	ctx := context.Background()
	var users strings.Builder
	users.WriteString("user_id,user_name,record_create_timestamp\n")
	for i := range 3000 {
		fmt.Fprintf(&users, "%d,User %d,2020-01-%02d 00:00:00\n", i%1000, i, 1+i%28)
	}
	for _, tc := range []struct {
		name     string
		sources  func(t *testing.T, dir string) []transform.Source
		fallback bool // the dedup ran out of memory and ran again
	}{
		{"CSV batch", func(t *testing.T, dir string) []transform.Source {
			return []transform.Source{source(t, dir, "user.csv", users.String(), false)}
		}, true},
		{"UCSD batch", func(t *testing.T, dir string) []transform.Source {
			return []transform.Source{source(t, dir, "goodreads_reviews_dedup.json", reviewLine()+"\n", false),
				source(t, dir, "goodreads_book_authors.json", ucsdAuthor+"\n", false)}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(csvLimit string) (map[string][]string, string, string) {
				dir := t.TempDir()
				db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1, MemoryLimit: "300MB"})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var logs bytes.Buffer
				res, err := transform.Run(ctx, db, tc.sources(t, dir), transform.Options{
					WorkDir: filepath.Join(dir, "work"), MaxRejectRatio: 1, Parallelism: 2, CSVMemoryLimit: csvLimit,
					Log: slog.New(slog.NewTextHandler(&logs, nil)),
				})
				if err != nil {
					t.Fatalf("CSV limit %q: %v", csvLimit, err)
				}
				staged := map[string][]string{}
				for name, er := range res.Entities {
					staged[name] = append([]string{fmt.Sprint(ledger(er))},
						query(t, db, "SELECT CAST(t AS VARCHAR) FROM read_parquet("+duckdb.Quote(er.Parquet)+") t ORDER BY ALL")...)
				}
				return staged, query(t, db, "SELECT current_setting('memory_limit')")[0], logs.String()
			}
			want, own, _ := run("")
			got, after, logs := run("1MB")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("staged under the 1MB CSV limit %v\nwant %v", got, want)
			}
			// DuckDB reports its limit to a tenth of a unit (286.1 MiB for
			// 300MB), which is what is set back.
			if a, o := mib(t, after), mib(t, own); a < o-0.2 || a > o+0.2 {
				t.Errorf("memory_limit after the run %q, want the engine's own %q", after, own)
			}
			if fell := strings.Contains(logs, "out of memory under the CSV batch's limit"); fell != tc.fallback {
				t.Errorf("dedup ran again under the engine's limit: %v, want %v; log:\n%s", fell, tc.fallback, logs)
			}
			if tc.fallback && !strings.Contains(logs, "table=users") {
				t.Errorf("the fallback's warning names no table:\n%s", logs)
			}
			if len(got) == 0 || len(got[grpipe.Users.Name]) == 0 && tc.fallback {
				t.Errorf("nothing staged: %v", got)
			}
		})
	}
}

// mib reads an amount of memory as DuckDB reports it (286.1 MiB, 1.0 GiB).
func mib(t *testing.T, s string) float64 {
	t.Helper()
	var n float64
	var unit string
	if _, err := fmt.Sscanf(s, "%g %s", &n, &unit); err != nil {
		t.Fatalf("memory_limit %q: %v", s, err)
	}
	switch unit {
	case "KiB":
		return n / 1024
	case "MiB":
		return n
	case "GiB":
		return n * 1024
	}
	t.Fatalf("memory_limit %q: unit %q", s, unit)
	return 0
}
