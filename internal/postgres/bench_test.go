package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/postgres"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// benchRows is the size of the benchmark's batch (GRPIPE_BENCH_ROWS, default 1 000 000).
func benchRows(b *testing.B) int {
	if s := os.Getenv("GRPIPE_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("GRPIPE_BENCH_ROWS=%q: %v", s, err)
		}
		return n
	}
	return 1_000_000
}

// reviewsParquet writes n review rows with realistic widths (a 200-character
// review text, URLs, three timestamps) as zstd Parquet.
func reviewsParquet(b *testing.B, n int) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "reviews.parquet")
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{MemoryLimit: "1GB"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	q := fmt.Sprintf(`COPY (SELECT
		range::BIGINT AS review_id,
		(range %% 50000)::BIGINT AS user_id,
		(range %% 20000)::BIGINT AS book_id,
		(range %% 5000)::BIGINT AS author_id,
		repeat('A thoughtful review of the book, with a spoiler or two. ', 4) || range AS review_text,
		(range %% 6)::DOUBLE AS review_rating,
		(range %% 100)::INTEGER AS review_votes,
		range %% 7 = 0 AS spoiler_flag,
		'none' AS spoiler_state,
		TIMESTAMP '2020-02-19 18:36:17' + to_seconds(range %% 86400) AS review_added_date,
		TIMESTAMP '2020-02-19 18:36:52' + to_seconds(range %% 86400) AS review_updated_date,
		(range %% 10)::INTEGER AS review_read_count,
		(range %% 3)::INTEGER AS comments_count,
		'https://www.goodreads.com/review/show/' || range AS review_url,
		TIMESTAMP '2020-02-19 21:38:16.689540' + to_microseconds(range) AS record_create_timestamp
	FROM range(%d)) TO %s (FORMAT PARQUET, COMPRESSION ZSTD)`, n, duckdb.Quote(p))
	if _, err := db.Exec(q); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkLoadUpsert stages a batch of reviews from Parquet and upserts it
// into the warehouse, on DuckDB and on PostgreSQL. The first iteration
// inserts every row, later ones replace every row (same versions).
// Metrics: stage-s and upsert-s are the seconds of each step per batch.
//
//	go test -run '^$' -bench LoadUpsert -benchtime 3x ./internal/postgres/
func BenchmarkLoadUpsert(b *testing.B) {
	n := benchRows(b)
	file := reviewsParquet(b, n)
	ctx := context.Background()
	backends := []struct {
		name string
		open func(b *testing.B) driver.Driver
	}{
		{"duckdb", func(b *testing.B) driver.Driver {
			d, err := duckdb.OpenWarehouse(ctx, filepath.Join(b.TempDir(), "wh.duckdb"), duckdb.Options{MemoryLimit: "2GB", TempDirectory: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			return d
		}},
		{"postgres", func(b *testing.B) driver.Driver {
			d, err := postgres.Open(ctx, pgtest.Database(b), postgres.Options{Scan: duckdb.Options{MemoryLimit: "1GB"}})
			if err != nil {
				b.Fatal(err)
			}
			return d
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			drv := be.open(b)
			w, err := warehouse.New(drv, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			if err := w.Setup(ctx); err != nil {
				b.Fatal(err)
			}
			var stage, upsert time.Duration
			i := 0
			for b.Loop() {
				ledger := grpipe.Ledger{Read: int64(n), Staged: int64(n)}
				t0 := time.Now()
				if err := w.Stage(ctx, grpipe.Reviews, file, "", ledger); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				l, err := w.Upsert(ctx, fmt.Sprintf("bench-%d", i), grpipe.Reviews, ledger)
				if err != nil {
					b.Fatal(err)
				}
				upsert += time.Since(t1)
				stage += t1.Sub(t0)
				if l.Inserted+l.Updated != int64(n) {
					b.Fatalf("ledger %+v: want %d rows applied", l, n)
				}
				i++
			}
			b.ReportMetric(stage.Seconds()/float64(i), "stage-s/op")
			b.ReportMetric(upsert.Seconds()/float64(i), "upsert-s/op")
			b.ReportMetric(float64(n), "rows/op")
		})
	}
}
