package transform

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// fakeProgress is a progressReader whose position the test sets.
type fakeProgress struct{ n atomic.Int64 }

func (f *fakeProgress) BytesRead() int64 { return f.n.Load() }

// TestReadingLogAtEachFifth: a long file logs "reading" at each fifth of
// its bytes at most, so that a task's log (which keeps the first 20 lines
// of a message) shows the progress of every file of a run to its end.
func TestReadingLogAtEachFifth(t *testing.T) {
	var logged bytes.Buffer
	rw, err := quarantine.NewWriter(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := grpipe.EntityByName("reviews")
	prog := &fakeProgress{}
	const size = 1000
	c := &committer{log: slog.New(slog.NewTextHandler(&logged, nil)), src: Source{Name: "goodreads_reviews_dedup.json.gz"}, size: size,
		outs: []*entityOut{{e: e}}, rejects: rw, prog: prog}
	// 100 batches of 16,384 rejected records, the file read 1 % further
	// each, and the last log line "more than 10 s ago" every time.
	batch := &builtBatch{}
	for range 0x4000 {
		batch.recs = append(batch.recs, builtRecord{line: 1, reason: "bad"})
	}
	for i := 1; i <= 100; i++ {
		prog.n.Store(int64(i * size / 100))
		c.last = time.Now().Add(-time.Minute)
		if err := c.commit(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Count(logged.String(), "msg=reading")
	if lines != progressSteps {
		t.Fatalf("%d reading lines, want %d:\n%s", lines, progressSteps, logged.String())
	}
	if !strings.Contains(logged.String(), "percent=100.0") {
		t.Fatalf("the last fifth is not logged:\n%s", logged.String())
	}
}
