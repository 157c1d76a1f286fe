package transform

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// TestMerger hands a merger the rows of several predups (spans) in an order
// that is not the reading order, with ids that repeat across them, equal
// timestamps (the greater ordinal must win), derived-id tags (rows of one id
// but different tags never supersede each other: the dedup may exclude one
// tag's rows, and then the other's winner must be there) and limits small
// enough to compact, grow and write out many times. For every id and tag,
// the rows written must hold the winner the dedup rule picks over all the
// rows (the greatest timestamp, then the greatest ordinal).
func TestMerger(t *testing.T) {
	for _, limit := range []int{64 << 20, 8 << 10, 700} {
		for _, tags := range []bool{false, true} {
			t.Run(fmt.Sprint(limit, tags), func(t *testing.T) {
				for seed := range uint64(5) {
					checkMerger(t, limit, tags, seed)
				}
			})
		}
	}
}

func checkMerger(t *testing.T, limit int, tags bool, seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(limit)))
	type key struct {
		id  int64
		tag uint64
	}
	type win struct{ ts, ord int64 }
	better := func(a, b win) bool { return a.ts > b.ts || a.ts == b.ts && a.ord > b.ord }
	want, got := map[key]win{}, map[key]win{}
	m := newMerger(filepath.Join(t.TempDir(), "m"), limit)
	const spans = 6
	var pds []*predup
	written := 0
	for s := range spans {
		p := newPredup(1<<20, nil, func(row []byte, pr predupRow) error {
			// A span's own writes (its predup's flushes) count as written.
			ord := parseDigits(row[pr.ordAt+1 : len(row)-1])
			if w, ok := got[key{pr.id, pr.tag}]; !ok || better(win{pr.ts, ord}, w) {
				got[key{pr.id, pr.tag}] = win{pr.ts, ord}
			}
			written++
			return nil
		})
		p.limit = 2 << 10 // some rows written by the span itself
		for i := range 400 {
			id := int64(r.IntN(60))
			if r.IntN(5) == 0 {
				id += predupDense
			}
			var tag uint64
			if tags && id%3 == 0 {
				tag = uint64(1 + r.IntN(2))
			}
			ts := int64(r.IntN(4)) // many ties
			ord := int64(s)<<20 | int64(i)
			row := fmt.Sprintf("%d\t%s\t%d", id, strings.Repeat("y", r.IntN(90)), ts)
			ordAt := len(row)
			row += fmt.Sprintf("\t%d\n", ord)
			if err := p.addTagged([]byte(row), id, ts, ordAt, tag); err != nil {
				t.Fatal(err)
			}
			if w, ok := want[key{id, tag}]; !ok || better(win{ts, ord}, w) {
				want[key{id, tag}] = win{ts, ord}
			}
		}
		pds = append(pds, p)
	}
	// The spans end in any order.
	for _, s := range r.Perm(spans) {
		if err := m.take(pds[s]); err != nil {
			t.Fatal(err)
		}
	}
	path, _, err := m.finish()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := os.ReadFile(path + ".keys")
	if err != nil {
		t.Fatal(err)
	}
	rows, klines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), strings.Split(strings.TrimSuffix(string(keys), "\n"), "\n")
	if len(rows) != len(klines) {
		t.Fatalf("%d rows, %d keys lines", len(rows), len(klines))
	}
	for i, row := range rows {
		f := strings.Split(row, "\t")
		var id, ts, ord int64
		fmt.Sscan(f[0], &id)
		fmt.Sscan(f[2], &ts)
		fmt.Sscan(f[3], &ord)
		if want := fmt.Sprintf("%d\t%d\t%d", id, ts, ord); klines[i] != want {
			t.Fatalf("keys line %q for row %q, want %q", klines[i], row, want)
		}
		written++
		// A row's tag is not in its text: it is the one whose winner it is.
		for tag := range uint64(3) {
			if w, ok := want[key{id, tag}]; ok && w == (win{ts, ord}) {
				got[key{id, tag}] = w
			}
		}
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("seed %d: id %d tag %d: winner %+v not written (best written %+v)", seed, k.id, k.tag, w, got[k])
		}
	}
	if limit == 64<<20 && !tags && len(rows) > len(want) {
		t.Errorf("with room for all, the merger wrote %d rows for %d ids", len(rows), len(want))
	}
}

// readWinners reads the clean and keys files a file's validation wrote and
// returns, per id, the winning row's text (the greatest timestamp, then the
// greatest ordinal) and the number of rows written.
func readWinners(t *testing.T, files []string) (map[int64]string, int) {
	t.Helper()
	type win struct {
		ts, ord int64
		row     string
	}
	best := map[int64]win{}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := os.ReadFile(f + ".keys")
		if err != nil {
			t.Fatal(err)
		}
		rows := strings.SplitAfter(string(data), "\n")
		klines := strings.Split(string(keys), "\n")
		for i, row := range rows {
			if row == "" {
				continue
			}
			n++
			var id, ts, ord int64
			if _, err := fmt.Sscanf(klines[i], "%d\t%d\t%d", &id, &ts, &ord); err != nil {
				t.Fatalf("%s: keys line %d %q: %v", f, i, klines[i], err)
			}
			if !strings.HasSuffix(row, fmt.Sprintf("\t%d\n", ord)) {
				t.Fatalf("%s: row %d %q does not end with its ordinal %d", f, i, row, ord)
			}
			if w, ok := best[id]; !ok || ts > w.ts || ts == w.ts && ord > w.ord {
				best[id] = win{ts, ord, row}
			}
		}
	}
	out := map[int64]string{}
	for id, w := range best {
		out[id] = w.row
	}
	return out, n
}

// dupUsers is a users file of n rows over ids distinct ids, each with
// several versions and equal timestamps (the row read last must win).
// With tricky set, some rows hold quoted line breaks followed by a line
// that looks like a record, where a span's guessed start goes wrong.
func dupUsers(n, ids int, tricky bool) string {
	var b strings.Builder
	b.WriteString("user_id,user_name,location,record_create_timestamp\n")
	for i := range n {
		id := (i * 7) % ids
		name := fmt.Sprintf("name %d", i)
		if tricky && i%13 == 5 {
			// A valid row, newer than any, if read from a wrong start.
			name = fmt.Sprintf("\"name %d\n%d,garbage %d,x,2030-01-01 00:00:09\nend\"", i, id, i)
		}
		fmt.Fprintf(&b, "%d,%s,city %d,2020-01-01 00:00:%02d\n", id, name, i%5, (i/ids)%3)
	}
	return b.String()
}

// TestMergedSpans validates a users file of ids repeated across spans, its
// spans read in orders that are not the file's (the merger then gets the
// spans' winners out of order), and checks that the clean files give every
// id the winner one sequential read gives, with one row per id when the
// merger holds them all: equal timestamps across spans included (the later
// ordinal wins), a merger that writes out when its arena is full, and a
// span read again (its guessed start inside a quoted field), which makes
// the file drop the merger and read again the spans that gave it rows.
func TestMergedSpans(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		tricky     bool
		mergeLimit int
	}{
		{"merged", false, 0},
		{"overflow", false, 3 << 10},
		{"read again", true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "user.csv")
			if err := os.WriteFile(path, []byte(dupUsers(6000, 300, c.tricky)), 0o644); err != nil {
				t.Fatal(err)
			}
			read := func(name string, size int, order func(n int) []int) (map[int64]string, int, string, int64) {
				counter := &countHandler{}
				log := slog.New(counter)
				f, err := openCSV(log, Source{Entity: grpipe.Users, Name: "user.csv", Path: path}, filepath.Join(dir, name), 3<<40)
				if err != nil {
					t.Fatal(err)
				}
				f.mergeLimit = c.mergeLimit
				f.split(size)
				for _, i := range order(len(f.spans)) {
					if err := f.read(ctx, f.spans[i]); err != nil {
						t.Fatal(err)
					}
				}
				var rej bytes.Buffer
				w, err := quarantine.NewWriter(&rej)
				if err != nil {
					t.Fatal(err)
				}
				st, clean, err := f.finish(ctx, log, w, 1)
				if err != nil {
					t.Fatal(err)
				}
				w.Flush()
				if size < 1<<20 && len(f.spans) < 5 {
					t.Fatalf("%d spans: the test needs several", len(f.spans))
				}
				winners, n := readWinners(t, clean)
				return winners, n, fmt.Sprintf("%+v\n%s", st, rej.String()), int64(counter.count(msgMergeDropped))
			}
			forward := func(n int) []int {
				o := make([]int, n)
				for i := range o {
					o[i] = i
				}
				return o
			}
			want, _, wantStats, _ := read("whole", 1<<30, forward)
			if len(want) != 300 {
				t.Fatalf("%d ids, want 300", len(want))
			}
			for _, o := range []struct {
				name  string
				order func(n int) []int
			}{
				{"forward", forward},
				{"backward", func(n int) []int { o := forward(n); slices.Reverse(o); return o }},
				{"shuffled", func(n int) []int { return rand.New(rand.NewPCG(1, 2)).Perm(n) }},
			} {
				got, rows, stats, dropped := read("spans-"+o.name, 8<<10, o.order)
				if stats != wantStats {
					t.Errorf("%s: counts and rejects differ:\n got %s\nwant %s", o.name, stats, wantStats)
				}
				if len(got) != len(want) {
					t.Errorf("%s: %d ids, want %d", o.name, len(got), len(want))
				}
				for id, w := range want {
					if got[id] != w {
						t.Errorf("%s: id %d: winner %q, want %q", o.name, id, got[id], w)
					}
				}
				switch {
				case c.tricky && dropped == 0:
					t.Errorf("%s: no span read again dropped the merger", o.name)
				case !c.tricky && dropped != 0:
					t.Errorf("%s: the merger was dropped", o.name)
				case !c.tricky && c.mergeLimit == 0 && rows != len(want):
					t.Errorf("%s: %d rows written for %d ids, want one each", o.name, rows, len(want))
				case c.mergeLimit != 0 && rows <= len(want):
					t.Errorf("%s: %d rows written for %d ids: the merger's arena did not overflow", o.name, rows, len(want))
				}
			}
		})
	}
}
