package bookgraph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	grpipe "github.com/grpipe/grpipe"
)

// wantRecord is what a record of a line must be: a plain split of the
// input at '\n', independent of the reader's blocks and chunks.
type wantRecord struct {
	line   int64
	raw    string
	long   bool
	reason bool
}

// splitLines reads data the simple way: every '\n' ends a line, a last
// line without one counts, '\r' before it is dropped, blank lines are not
// records, a line over maxLine is rejected with its first maxLine bytes.
func splitLines(data []byte, maxLine int) []wantRecord {
	var out []wantRecord
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		long := len(l) > maxLine
		if long {
			l = l[:maxLine]
		}
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var probe parser
		vals := make([]value, len(reviewKeys))
		bad := long || !probe.object(l, vals, reviewSlot)
		out = append(out, wantRecord{line: int64(i + 1), raw: string(l), long: long, reason: bad})
	}
	return out
}

// bigInput is a dump of many review lines of every length, some longer than
// a block (4 MiB) and some longer than maxLine, with blank lines, CRLF,
// broken lines and, when ragged, no line end at the end.
func bigInput(seed uint64, maxLine int, ragged bool) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	var b bytes.Buffer
	for i := 0; b.Len() < 24<<20; i++ {
		switch r := rng.IntN(1000); {
		case r < 5:
			b.WriteString("\n")
		case r < 10:
			b.WriteString("  \r\n")
		case r < 15:
			b.WriteString(`{"review_id": "cut` + "\n")
		case r < 17:
			// Longer than a block, and longer or shorter than maxLine.
			n := maxLine - 10 + rng.IntN(20)
			if rng.IntN(2) == 0 {
				n = 4<<20 + rng.IntN(1<<20)
			}
			b.WriteString(review(`"ok"`, `"`+strings.Repeat("x", n)+`"`) + "\n")
		default:
			text := strings.Repeat("word ", rng.IntN(400))
			line := review(`"ok"`, `"`+text+`"`, "f0e1d2c3b4a5968778695a4b3c2d1e0f", fmt.Sprintf("%032x", i))
			if rng.IntN(50) == 0 {
				line += "\r"
			}
			b.WriteString(line + "\n")
		}
	}
	if ragged {
		b.WriteString(goodReview)
	}
	return b.Bytes()
}

func TestChunksMatchLines(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxLine int
		ragged  bool
		gzip    bool
	}{
		{"bound below a block", 1 << 20, false, false},
		{"bound above a block, gzip", 6 << 20, true, true},
		{"bound above a block", 6 << 20, false, false},
		{"bound below a block, gzip, no last line end", 1 << 20, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bigInput(uint64(tc.maxLine), tc.maxLine, tc.ragged)
			want := splitLines(data, tc.maxLine)
			in := data
			if tc.gzip {
				in = gz(t, data)
			}
			opts := Options{Format: grpipe.FormatUCSDReviews, MaxLineBytes: tc.maxLine}

			// One record at a time.
			got, err := readAll(t, in, opts)
			if err != nil {
				t.Fatal(err)
			}
			compareRecords(t, "Next", got, want)

			// Chunks decoded on three goroutines, put back in order.
			r, err := NewReader(bytes.NewReader(in), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			// Blocks are reused as chunks are released: a worker keeps copies.
			type job struct {
				i int
				c *Chunk
			}
			jobs := make(chan job)
			var (
				mu      sync.Mutex
				results = map[int][]grpipe.InputRecord{}
				wg      sync.WaitGroup
			)
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := r.NewDecoder()
					var rec grpipe.InputRecord
					for j := range jobs {
						var rs []grpipe.InputRecord
						for d.Next(j.c, &rec) {
							rs = append(rs, copyRecord(rec))
						}
						r.Release(j.c)
						mu.Lock()
						results[j.i] = rs
						mu.Unlock()
					}
				}()
			}
			n := 0
			for c, ok := r.NextChunk(); ok; c, ok = r.NextChunk() {
				jobs <- job{n, c}
				n++
			}
			close(jobs)
			wg.Wait()
			if r.Err() != nil {
				t.Fatal(r.Err())
			}
			chunks := make([][]grpipe.InputRecord, n)
			for i, rs := range results {
				chunks[i] = rs
			}
			var all []grpipe.InputRecord
			for _, rs := range chunks {
				all = append(all, rs...)
			}
			compareRecords(t, "chunks", all, want)
			if n < 3 {
				t.Fatalf("%d chunks: the test does not cut the input", n)
			}
		})
	}
}

func compareRecords(t *testing.T, how string, got []grpipe.InputRecord, want []wantRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", how, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line || string(g.Raw) != w.raw || (g.Reason != "") != w.reason ||
			(w.long && !strings.Contains(g.Reason, "longer than")) {
			t.Fatalf("%s: record %d: line %d (want %d), %d raw bytes (want %d), reason %q (want rejected: %v)",
				how, i, g.Line, w.line, len(g.Raw), len(w.raw), g.Reason, w.reason)
		}
	}
}
