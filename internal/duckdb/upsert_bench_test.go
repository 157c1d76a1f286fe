package duckdb_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/cputime"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// benchReviews is the size of the upsert benchmark's batch
// (GRPIPE_BENCH_ROWS, default 6,000,000: the reviews of the 11.4 GB batch).
func benchReviews(b *testing.B) int64 {
	if s := os.Getenv("GRPIPE_BENCH_ROWS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 6 {
			b.Fatalf("GRPIPE_BENCH_ROWS=%q: want a number of rows, at least 6", s)
		}
		return n
	}
	return 6_000_000
}

// genReviews writes review rows as the transform does (zstd level 1
// Parquet): ids first..first+n-1, a text of five sentences drawn from
// sixteen and a number (about 230 characters, like the fake batches'), URLs
// and timestamps.
// record_create_timestamp is base + id µs, shifted by shift hours for the
// ids ≡ 0 (mod 3) and by -shift hours for the ids ≡ 2 (mod 3).
const genReviews = `COPY (SELECT
	range::BIGINT AS review_id,
	(hash(range) %% 500000)::BIGINT AS user_id,
	(hash(range + 1) %% 200000)::BIGINT AS book_id,
	(hash(range + 2) %% 100000)::BIGINT AS author_id,
	p[1 + (hash(range) %% 16)::INTEGER] || ' ' || p[1 + (hash(range + 3) %% 16)::INTEGER] || ' '
		|| hash(range + 4)::VARCHAR || ' ' || p[1 + (hash(range + 5) %% 16)::INTEGER] || ' '
		|| p[1 + (hash(range + 6) %% 16)::INTEGER] || ' ' || p[1 + (hash(range + 7) %% 16)::INTEGER] AS review_text,
	(range %% 6)::DOUBLE AS review_rating,
	(range %% 100)::INTEGER AS review_votes,
	range %% 7 = 0 AS spoiler_flag,
	'none' AS spoiler_state,
	TIMESTAMP '2020-02-19 18:36:17' + to_seconds(range %% 86400) AS review_added_date,
	TIMESTAMP '2020-02-19 18:36:52' + to_seconds(range %% 86400) AS review_updated_date,
	(range %% 10)::INTEGER AS review_read_count,
	(range %% 3)::INTEGER AS comments_count,
	'https://www.goodreads.com/review/show/' || range AS review_url,
	TIMESTAMP '2020-02-19 21:38:16.689540' + to_microseconds(range)
		+ to_hours(CASE range %% 3 WHEN 0 THEN %[3]d WHEN 2 THEN -%[3]d ELSE 0 END) AS record_create_timestamp
FROM range(%[1]d, %[1]d + %[2]d), (SELECT [
	'Honestly put down amazing honestly audiobook.', 'A library order library audiobook coming never.',
	'And history saw up story, sequel, anyone was dialogue.', 'Flew for places world of.',
	'But, pacing points, better, pacing of library plot romance.', 'Was but voice great felt beautiful.',
	'Every great not audiobook, read "cannot" rain and felt wait.', 'Uneven afternoon book author.',
	'Left has borrowed made afternoon to borrowed points twist again.', 'Second story summer sleep again.',
	'Made picks to up plot coffee more.', 'More a pacing thrillers world, is beautiful honestly gift.',
	'The narrator carried it.', 'I would not read it twice, but I am glad I read it once.',
	'Slow start, brilliant last hundred pages.', 'Three stars for the cover alone.'] AS p)) TO %[4]s (FORMAT PARQUET, COMPRESSION ZSTD, COMPRESSION_LEVEL 1)`

func reviewsFile(b *testing.B, path string, first, n int64, shift int) string {
	b.Helper()
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{MemoryLimit: "1GB", TempDirectory: filepath.Join(filepath.Dir(path), "tmp")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf(genReviews, first, n, shift, duckdb.Quote(path))); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchWarehouse opens the warehouse file at path with the pipeline's
// default DuckDB settings.
func benchWarehouse(b *testing.B, path string) *warehouse.Warehouse {
	b.Helper()
	ctx := context.Background()
	drv, err := duckdb.OpenWarehouse(ctx, path, duckdb.Options{MemoryLimit: benchMemoryLimit, TempDirectory: filepath.Join(filepath.Dir(path), "tmp"),
		Unordered: true})
	if err != nil {
		b.Fatal(err)
	}
	w, err := warehouse.New(drv, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	return w
}

// benchMemoryLimit is DuckDB's memory_limit in the benchmark: the
// pipeline's default for the warehouse (duckdb.warehouse_memory_limit;
// internal/app opens the warehouse Unordered, as benchWarehouse does).
const benchMemoryLimit = "512MB"

// upsertOnce stages file and upserts it into w, and returns the ledger and
// the wall and CPU seconds (of the whole process: DuckDB's threads are
// in it) of the upsert.
func upsertOnce(b *testing.B, w *warehouse.Warehouse, batch, file string, n int64) (grpipe.Ledger, float64, float64) {
	b.Helper()
	ctx := context.Background()
	in := grpipe.Ledger{Read: n, Staged: n}
	if err := w.Stage(ctx, grpipe.Reviews, file, "", in); err != nil {
		b.Fatal(err)
	}
	c0, t0 := cpuSeconds(b), time.Now()
	l, err := w.Upsert(ctx, batch, grpipe.Reviews, in)
	if err != nil {
		b.Fatal(err)
	}
	return l, time.Since(t0).Seconds(), cpuSeconds(b) - c0
}

func cpuSeconds(b *testing.B) float64 {
	d := cputime.Process()
	if d <= 0 {
		b.Fatal("the process's CPU time is unknown on this system")
	}
	return d.Seconds()
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUpsert upserts a batch of reviews (GRPIPE_BENCH_ROWS, default
// 6,000,000) into the embedded warehouse, staged from Parquet as the
// pipeline does, in the three shapes the upsert treats apart:
//
//   - fresh: an empty warehouse, every row inserted;
//   - mixed: the warehouse holds a first batch of n rows and the second
//     batch shares half its ids with it (of those, a third newer, a third
//     ties, a third stale): n/2 inserted, n/3 updated, n/6 stale;
//   - replace-all: the warehouse holds the batch and gets it again: every
//     row is a tie and replaced.
//
// Each iteration starts from a copy of the warehouse file (not timed).
// Metrics: upsert-s, the wall seconds of warehouse.Upsert; upsert-cpu-s, the
// CPU seconds the process spent in it; rows/s.
//
//	go test -run '^$' -bench Upsert -benchtime 3x ./internal/duckdb/
func BenchmarkUpsert(b *testing.B) {
	n := benchReviews(b)
	dir := b.TempDir()
	first := reviewsFile(b, filepath.Join(dir, "first.parquet"), 0, n, 0)
	second := reviewsFile(b, filepath.Join(dir, "second.parquet"), n/2, n, 1)

	// The warehouse holding the first batch, loaded once.
	base := filepath.Join(dir, "base.duckdb")
	w := benchWarehouse(b, base)
	if l, _, _ := upsertOnce(b, w, "base", first, n); l.Inserted != n {
		b.Fatalf("base load: ledger %+v, want %d inserted", l, n)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}

	// The second batch's expected ledger: ids n/2..n-1 are stored, their
	// shift by id mod 3 makes them newer, ties or stale.
	var mixed grpipe.Ledger
	for id := n / 2; id < n+n/2; id++ {
		switch {
		case id >= n:
			mixed.Inserted++
		case id%3 == 2:
			mixed.Stale++
		default:
			mixed.Updated++
		}
	}
	cases := []struct {
		name   string
		stored bool
		file   string
		want   grpipe.Ledger
	}{
		{"fresh", false, first, grpipe.Ledger{Inserted: n}},
		{"mixed", true, second, mixed},
		{"replace-all", true, first, grpipe.Ledger{Updated: n}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var wall, cpu float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				path := filepath.Join(dir, fmt.Sprintf("%s-%d.duckdb", c.name, i))
				if c.stored {
					copyFile(b, base, path)
				}
				w := benchWarehouse(b, path)
				b.StartTimer()
				l, s, cs := upsertOnce(b, w, c.name, c.file, n)
				b.StopTimer()
				if l.Inserted != c.want.Inserted || l.Updated != c.want.Updated || l.Stale != c.want.Stale {
					b.Fatalf("ledger %+v, want inserted %d, updated %d, stale %d", l, c.want.Inserted, c.want.Updated, c.want.Stale)
				}
				wall += s
				cpu += cs
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				if err := os.Remove(path); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(wall/float64(b.N), "upsert-s")
			b.ReportMetric(cpu/float64(b.N), "upsert-cpu-s")
			b.ReportMetric(float64(n)*float64(b.N)/wall, "rows/s")
		})
	}
}
