package fake

import (
	"bytes"
	"context"
	"io"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/bookgraph"
)

func generateUCSD(t testing.TB, reviews int64) [3]*bytes.Buffer {
	t.Helper()
	var bufs [3]*bytes.Buffer
	var w [3]io.Writer
	for i := range bufs {
		bufs[i] = &bytes.Buffer{}
		w[i] = bufs[i]
	}
	if err := GenerateUCSD(context.Background(), UCSDOptions{Reviews: reviews, Seed: 7}, w); err != nil {
		t.Fatal(err)
	}
	return bufs
}

// TestUCSDReadsBack: every generated line is accepted by the dump reader,
// with the counts of the real proportions, and the same seed gives the same bytes.
func TestUCSDReadsBack(t *testing.T) {
	const n = 20000
	bufs := generateUCSD(t, n)
	books, authors, users := UCSDCounts(n)
	if books != 2999 || authors != 1054 || users != 591 {
		t.Fatalf("counts %d %d %d", books, authors, users)
	}
	formats := []grpipe.Format{grpipe.FormatUCSDReviews, grpipe.FormatUCSDBooks, grpipe.FormatUCSDAuthors}
	for i, want := range []int64{n, books, authors} {
		r, err := bookgraph.NewReader(bytes.NewReader(bufs[i].Bytes()), bookgraph.Options{Format: formats[i]})
		if err != nil {
			t.Fatal(err)
		}
		var rec grpipe.InputRecord
		got := int64(0)
		seenUsers := map[string]bool{}
		for r.Next(&rec) {
			if rec.Reason != "" {
				t.Fatalf("%s line %d rejected: %s: %s", formats[i], rec.Line, rec.Reason, rec.Raw)
			}
			if formats[i] == grpipe.FormatUCSDReviews {
				seenUsers[string(rec.Keys[1].Key)] = true
			}
			got++
		}
		r.Close()
		if r.Err() != nil || got != want {
			t.Fatalf("%s: %d lines, want %d, err %v", formats[i], got, want, r.Err())
		}
		if formats[i] == grpipe.FormatUCSDReviews && int64(len(seenUsers)) > users {
			t.Fatalf("%d users, more than %d", len(seenUsers), users)
		}
	}
	again := generateUCSD(t, n)
	for i := range bufs {
		if !bytes.Equal(bufs[i].Bytes(), again[i].Bytes()) {
			t.Fatalf("file %d differs for the same seed", i)
		}
	}
	per := float64(bufs[0].Len()+bufs[1].Len()+bufs[2].Len()) / n
	t.Logf("compressed bytes per review: %.0f (reviews %.0f, books %.0f per book, authors %.0f per author)",
		per, float64(bufs[0].Len())/n, float64(bufs[1].Len())/float64(books), float64(bufs[2].Len())/float64(authors))
	if per < UCSDBytesPerReview*0.8 || per > UCSDBytesPerReview*1.2 {
		t.Fatalf("%.0f bytes per review, UCSDBytesPerReview says %d", per, UCSDBytesPerReview)
	}
}

func BenchmarkGenerateUCSD(b *testing.B) {
	var n int64
	for b.Loop() {
		bufs := generateUCSD(b, 20000)
		n = int64(bufs[0].Len() + bufs[1].Len() + bufs[2].Len())
	}
	b.SetBytes(n)
}
