package transform

import (
	"bytes"
	"context"
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
// bytes are the compressed input.
func BenchmarkUCSDReviews(b *testing.B) {
	var reviews, books, authors bytes.Buffer
	if err := fake.GenerateUCSD(context.Background(), fake.UCSDOptions{Reviews: 50000, Seed: 3}, [3]io.Writer{&reviews, &books, &authors}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "goodreads_reviews_dedup.json.gz")
	if err := os.WriteFile(path, reviews.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	in, _ := grpipe.InputForFile(path)
	src := Source{Entity: in.Entity, Input: in, Name: in.Name, Path: path}
	b.SetBytes(int64(reviews.Len()))
	for i := 0; b.Loop(); i++ {
		rw, _ := quarantine.NewWriter(io.Discard)
		_, err := cleanRecords(context.Background(), slog.New(slog.DiscardHandler), src, 0, filepath.Join(dir, "out"), rw, io.Discard, Options{MaxRejectRatio: 0.01})
		if err != nil {
			b.Fatal(err)
		}
	}
}
