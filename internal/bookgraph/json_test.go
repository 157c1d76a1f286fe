package bookgraph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
)

// TestSpecialMatchesByteLoop checks the eight-bytes-at-a-time scan against
// the plain byte loop it replaces, on strings whose special byte (a quote,
// a backslash, a control character) sits at every offset of a word, with
// bytes above 0x7f and just above 0x20 around it.
func TestSpecialMatchesByteLoop(t *testing.T) {
	plain := func(b []byte) int {
		for i, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				return i
			}
		}
		return len(b)
	}
	alphabet := []byte{'a', ' ', '!', '#', '[', ']', 0x7f, 0x80, 0xc3, 0xa9, 0xff, '"', '\\', 0x00, 0x1f, '\n', 0x21, 0x5b, 0x5d}
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
			if r.IntN(3) > 0 { // mostly plain bytes, so runs cross words
				b[i] = "ab é~ÿ"[r.IntN(7)]
			}
		}
		if got, want := special(b), plain(b); got != want {
			t.Fatalf("case %d: special(%q) = %d, want %d", n, b, got, want)
		}
	}
}

// BenchmarkReviews decodes review lines of the dump's shape, with texts of
// the dump's typical length (about 700 bytes, one escape each), one at a
// time as the transform's single-file path does.
func BenchmarkReviews(b *testing.B) {
	var data bytes.Buffer
	text := strings.Repeat("A slow start, then a lovely ending; I would read the sequel. ", 11) + `\n(view spoiler)[it was him]`
	for i := range 20000 {
		fmt.Fprintf(&data, `{"user_id": "%032x", "book_id": "%d", "review_id": "%032x", "rating": %d, "review_text": "%s", "date_added": "Sun Jul 30 07:44:10 -0700 2017", "date_updated": "Wed Aug 30 00:00:26 -0700 2017", "read_at": "Sat Aug 26 12:05:52 -0700 2017", "started_at": "", "n_votes": 3, "n_comments": 0}`+"\n",
			i*7919, 1000+i%5000, i*104729, i%6, text)
	}
	b.SetBytes(int64(data.Len()))
	var rec grpipe.InputRecord
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data.Bytes()), Options{Format: grpipe.FormatUCSDReviews})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for r.Next(&rec) {
			if rec.Reason != "" {
				b.Fatalf("line %d: %s", rec.Line, rec.Reason)
			}
			n++
		}
		if err := r.Close(); err != nil || n != 20000 {
			b.Fatalf("%d records, %v", n, err)
		}
	}
}
