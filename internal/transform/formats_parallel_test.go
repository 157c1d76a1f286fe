package transform

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// TestChunksAsSequential checks that a UCSD dump decoded chunk by chunk on
// several goroutines writes exactly the files one goroutine writes: the
// same clean rows and keys (so the same ordinals and predup), source keys
// (the same lines, the same first occurrence of each user key) and
// quarantine rows (the same line numbers and reasons), and the same counts.
func TestChunksAsSequential(t *testing.T) {
	var reviews, books, authors bytes.Buffer
	if err := fake.GenerateUCSD(context.Background(), fake.UCSDOptions{Reviews: 40_000, Seed: 11}, [3]io.Writer{&reviews, &books, &authors}); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&reviews)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// Mix in what the order matters for: bad lines, blank lines, a review
	// read again with the same and with a later date (the row read last
	// wins a tie), a key colliding with another on its id.
	lines := strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n")
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(l + "\n")
		switch rng.IntN(400) {
		case 0:
			b.WriteString("not json\n")
		case 1:
			b.WriteString("\n  \n")
		case 2:
			b.WriteString(lines[rng.IntN(i+1)] + "\n") // the same review again
		case 3:
			b.WriteString(strings.Replace(lines[rng.IntN(i+1)], `"rating": `, `"rating": 9`, 1) + "\n")
		case 4:
			// The same first 62 bits, another key: a collision of the derived id.
			j := strings.Index(l, `"review_id": "`) + len(`"review_id": "`)
			b.WriteString(l[:j+20] + fmt.Sprintf("%012x", i) + l[j+32:] + "\n")
		}
	}
	b.WriteString(lines[0]) // the first review again, without a line end
	dir := t.TempDir()
	path := filepath.Join(dir, "goodreads_reviews_dedup.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := grpipe.InputForFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := Source{Entity: in.Entity, Input: in, Name: in.Name, Path: path}

	run := func(name string, workers int) (map[string][]byte, map[string]FileStats) {
		base := filepath.Join(dir, name)
		var rejects, keys bytes.Buffer
		rw, err := quarantine.NewWriter(&rejects)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := cleanRecords(context.Background(), slog.New(slog.DiscardHandler), src, 3<<40, base, rw, &keys,
			Options{MaxRejectRatio: 0.5, Parallelism: workers})
		if err != nil {
			t.Fatal(err)
		}
		if err := rw.Flush(); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"rejects": rejects.Bytes(), "source keys": keys.Bytes()}
		stats := map[string]FileStats{}
		for e, p := range parts {
			for _, f := range []string{p.clean, p.keys} {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				files[strings.TrimPrefix(f, base)] = data
			}
			stats[e] = p.stats
		}
		return files, stats
	}
	wantFiles, wantStats := run("one", 1)
	if wantStats["reviews"].Rejected == 0 || len(wantFiles["rejects"]) == 0 {
		t.Fatalf("the input has no rejected lines: %+v", wantStats)
	}
	for _, workers := range []int{2, 5} {
		files, stats := run(fmt.Sprintf("w%d", workers), workers)
		if fmt.Sprint(stats) != fmt.Sprint(wantStats) {
			t.Errorf("%d workers: stats %+v, want %+v", workers, stats, wantStats)
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range wantFiles {
				if !yield(n) {
					return
				}
			}
		})
		if len(files) != len(wantFiles) {
			t.Fatalf("%d workers: %d files, want %d", workers, len(files), len(wantFiles))
		}
		for _, n := range names {
			if !bytes.Equal(files[n], wantFiles[n]) {
				t.Errorf("%d workers: %s differs (%d bytes, want %d)", workers, n, len(files[n]), len(wantFiles[n]))
			}
		}
	}
}
