package transform

import (
	"bytes"
	"context"
	"github.com/grpipe/grpipe/internal/cputime"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// BenchmarkUCSDReviews measures the Go pass over a generated reviews dump
// (gzip inflate, JSON decode, validate, clean, write clean rows and keys);
// bytes are the compressed input. "workers=1" decodes on one goroutine (the
// inflating goroutine beside it), "workers=N" on one per core. Besides the
// wall time it reports the CPU seconds of the process per operation
// (cpu-s/op), the figure that holds on a machine other work shares.
func BenchmarkUCSDReviews(b *testing.B) {
	var reviews, books, authors bytes.Buffer
	if err := fake.GenerateUCSD(context.Background(), fake.UCSDOptions{Reviews: 200_000, Seed: 3}, [3]io.Writer{&reviews, &books, &authors}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "goodreads_reviews_dedup.json.gz")
	if err := os.WriteFile(path, reviews.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	in, _ := grpipe.InputForFile(path)
	src := Source{Entity: in.Entity, Input: in, Name: in.Name, Path: path}
	for _, bc := range []struct {
		name    string
		workers int
	}{{"workers=1", 1}, {"workers=N", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(reviews.Len()))
			cpu0 := cputime.Process().Seconds()
			for b.Loop() {
				rw, _ := quarantine.NewWriter(io.Discard)
				_, err := cleanRecords(context.Background(), slog.New(slog.DiscardHandler), src, 0, filepath.Join(dir, "out"), rw, io.Discard,
					Options{MaxRejectRatio: 0.01, Parallelism: bc.workers})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cputime.Process().Seconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}
