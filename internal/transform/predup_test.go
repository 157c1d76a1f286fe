package transform

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// TestPredup feeds rows with repeated ids and timestamps through a predup
// small enough to compact and flush many times, then checks that the rows it
// wrote hold, for every id, the row the dedup rule picks over all rows (the
// greatest timestamp, then the one read last).
func TestPredup(t *testing.T) {
	for _, limit := range []int{1 << 20, 4 << 10, 600} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			checkPredup(t, limit, nil, uint64(limit))
		})
	}
}

// TestPredupPool runs predups one after the other on buffers from one
// pool, as the spans of a file are on a worker: each must start empty
// (no id of the one before it held), and the buffers must be reused, not
// made anew.
func TestPredupPool(t *testing.T) {
	pool := &predupPool{max: 1}
	var arena *byte
	for i := range 4 {
		p := checkPredup(t, 4<<10, pool, uint64(i))
		if i == 0 {
			arena = unsafe.SliceData(p.arena)
		} else if got := unsafe.SliceData(p.arena); got != arena {
			t.Errorf("predup %d: a new arena, not the pooled one", i)
		}
		p.release()
	}
	if len(pool.free) != 1 {
		t.Fatalf("%d buffer sets kept, want 1", len(pool.free))
	}
	pool.put(&predupBuffers{arena: make([]byte, 0, 10)})
	if len(pool.free) != 1 || cap(pool.free[0].arena) == 10 {
		t.Errorf("over the pool's bound: kept %d sets, the smallest not let go", len(pool.free))
	}
	if b := pool.get(1 << 30); cap(b.arena) != 1<<30 || len(pool.free) != 1 {
		t.Errorf("a pooled arena too small for the request was returned (cap %d)", cap(b.arena))
	}
}

// checkPredup feeds 5,000 random rows through a predup of the given limit
// (its buffers from pool) and checks the winners it wrote; it returns the
// predup, flushed, before its release.
func checkPredup(t *testing.T, limit int, pool *predupPool, seed uint64) *predup {
	t.Helper()
	r := rand.New(rand.NewPCG(1, seed))
	type win struct {
		ts  string
		ord int
	}
	want := map[string]win{}
	var written []string
	p := newPredup(limit, pool, func(row []byte, pr predupRow) error {
		if want := fmt.Sprintf("%d\t", pr.id); !strings.HasPrefix(string(row), want) || row[pr.ordAt] != '\t' {
			t.Fatalf("bad row for %+v: %q", pr, row)
		}
		written = append(written, string(row))
		return nil
	})
	p.limit = limit
	for ord := 1; ord <= 5000; ord++ {
		idn := r.IntN(300)
		if r.IntN(4) == 0 {
			idn += predupDense // some ids in the map, not the slice
		}
		id := fmt.Sprint(idn)
		tsn := r.IntN(20)
		ts := fmt.Sprintf("2020-02-19 21:38:%02d.000000", tsn)
		pad := strings.Repeat("x", r.IntN(80))
		row := id + "\t" + pad + "\t" + ts
		ordAt := len(row)
		row += fmt.Sprintf("\t%d\n", ord)
		// The hints the validation pass gives, right and wrong: they must
		// change nothing (nor panic, on any id).
		p.warmRow(int64(idn))
		p.warm(int64(r.IntN(2*predupDense)) - 10)
		p.warmRow(r.Int64() - r.Int64())
		if err := p.add([]byte(row), int64(idn), int64(tsn), ordAt); err != nil {
			t.Fatal(err)
		}
		p.warm(int64(idn))
		if w, ok := want[id]; !ok || ts >= w.ts {
			want[id] = win{ts, ord}
		}
	}
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]win{}
	for _, row := range written {
		f := strings.Split(strings.TrimSuffix(row, "\n"), "\t")
		var ord int
		fmt.Sscan(f[3], &ord)
		if w, ok := got[f[0]]; !ok || f[2] > w.ts || (f[2] == w.ts && ord > w.ord) {
			got[f[0]] = win{f[2], ord}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d ids written, want %d", len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("id %s: winner %+v, want %+v", id, got[id], w)
		}
	}
	if limit == 1<<20 && len(written) != len(want) {
		t.Errorf("with room for all, %d rows written for %d ids", len(written), len(want))
	}
	return p
}

// TestIDTable checks the predup's id table against a map through random
// sets, gets and resets (ids clustered, spread, negative), and a reset when
// the generation wraps around.
func TestIDTable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var tab idTable
	want := map[int64]int32{}
	for op := range 400_000 {
		var id int64
		switch r.IntN(3) {
		case 0:
			id = int64(r.IntN(5000))
		case 1:
			id = r.Int64()
		default:
			id = -int64(r.IntN(5000)) * 1 << 20
		}
		switch k := r.IntN(1000); {
		case k == 0:
			tab.reset()
			clear(want)
		case k < 500:
			tab.put(id, int32(op))
			want[id] = int32(op)
		default:
			got, ok := tab.get(id)
			if w, wok := want[id]; ok != wok || got != w {
				t.Fatalf("op %d: get(%d) = %d, %v; want %d, %v", op, id, got, ok, w, wok)
			}
		}
	}
	for id, w := range want {
		if got, ok := tab.get(id); !ok || got != w {
			t.Fatalf("get(%d) = %d, %v; want %d", id, got, ok, w)
		}
	}
	tab.gen = ^uint32(0)
	tab.put(7, 1)
	tab.reset()
	if _, ok := tab.get(7); ok || tab.gen != 1 {
		t.Fatalf("after a wrapped reset: id 7 still set, or generation %d", tab.gen)
	}
}

// TestPredupTurnsOff feeds a predup more rows than its probe, all of
// distinct ids: it must write them all, pass the later ones through, and
// flush and release again without its buffers (as cleanOut.close does).
func TestPredupTurnsOff(t *testing.T) {
	for _, base := range []int64{1, predupDense} { // ids in the slice, in the table
		written := 0
		p := newPredup(1<<20, &predupPool{max: 1}, func(row []byte, pr predupRow) error {
			written++
			return nil
		})
		for i := range int64(predupProbe + 10) {
			row := fmt.Sprintf("%d\tx\t%d\n", base+i, i)
			if err := p.add([]byte(row), base+i, 1, strings.LastIndexByte(row, '\t')); err != nil {
				t.Fatal(err)
			}
		}
		if !p.off || written != predupProbe+10 {
			t.Fatalf("off %v, %d rows written, want %d", p.off, written, predupProbe+10)
		}
		if err := p.flush(); err != nil {
			t.Fatal(err)
		}
		p.release()
	}
}

// TestPredupResetClearsIDs holds a few rows whose ids span the id slice
// (so reset clears their entries one by one), superseding some, compacting
// and flushing, and checks that every entry of the slice is empty after.
func TestPredupResetClearsIDs(t *testing.T) {
	p := newPredup(1<<20, nil, func([]byte, predupRow) error { return nil })
	p.limit = 200
	for i, id := range []int64{predupDense - 1, 5, 5, 70_000, 3, predupDense - 1, 5, 12, 70_000} {
		row := fmt.Sprintf("%d\t%s\t%d\n", id, strings.Repeat("x", 30), i)
		if err := p.add([]byte(row), id, int64(i), strings.LastIndexByte(row, '\t')); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.rows) >= len(p.index.dense)/16 {
		t.Fatalf("%d rows for an id slice of %d: the test does not reach the clearing by rows", len(p.rows), len(p.index.dense))
	}
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	for id, v := range p.index.dense {
		if v != 0 {
			t.Fatalf("after flush, id %d still set (%d)", id, v)
		}
	}
}

// TestPredupJudgesEarly feeds 60,000 rows of ids drawn from N values: a
// predup must turn itself off at an early judgement only for clearly
// sparse ids (10 M values, as reviews), at the judgement of predupProbe
// rows for ids spread over 1 M values, and never for 100 K values (users,
// books, authors). Whenever it turns off, the rows it wrote must still hold
// every id's winner (greatest timestamp, then read last).
func TestPredupJudgesEarly(t *testing.T) {
	for _, c := range []struct {
		values  int64
		off     bool
		atMost  int // the most rows seen before it turned off
		atLeast int
	}{
		{values: 10_000_000, off: true, atLeast: predupEarly, atMost: 2 * predupEarly},
		{values: 1 << 62, off: true, atLeast: predupEarly, atMost: predupEarly},
		{values: 1_000_000, off: true, atLeast: predupProbe, atMost: predupProbe},
		{values: 100_000, off: false},
	} {
		t.Run(fmt.Sprint(c.values), func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(c.values)))
			type win struct{ ts, ord int64 }
			want, got := map[int64]win{}, map[int64]win{}
			p := newPredup(64<<20, nil, func(row []byte, pr predupRow) error {
				var ord int64
				fmt.Sscan(string(row[pr.ordAt+1:]), &ord)
				if w, ok := got[pr.id]; !ok || pr.ts > w.ts || (pr.ts == w.ts && ord > w.ord) {
					got[pr.id] = win{pr.ts, ord}
				}
				return nil
			})
			for ord := int64(1); ord <= 60_000; ord++ {
				id := r.Int64N(c.values)
				ts := r.Int64N(1000)
				row := fmt.Sprintf("%d\tx\t%d\t%d\n", id, ts, ord)
				ordAt := strings.LastIndexByte(row, '\t')
				if err := p.add([]byte(row), id, ts, ordAt); err != nil {
					t.Fatal(err)
				}
				if w, ok := want[id]; !ok || ts >= w.ts {
					want[id] = win{ts, ord}
				}
			}
			if p.off != c.off {
				t.Fatalf("off = %v after %d rows judged (%d superseded), want %v", p.off, p.seen, p.dropped, c.off)
			}
			if c.off && (p.seen < c.atLeast || p.seen > c.atMost) {
				t.Fatalf("turned off after %d rows (%d superseded), want between %d and %d", p.seen, p.dropped, c.atLeast, c.atMost)
			}
			if err := p.flush(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d ids written, want %d", len(got), len(want))
			}
			for id, w := range want {
				if got[id] != w {
					t.Fatalf("id %d: winner %+v, want %+v", id, got[id], w)
				}
			}
		})
	}
}

// TestPeekID checks the guess at the next record's id that warms the
// predup's index: leading digits up to a comma, else -1.
func TestPeekID(t *testing.T) {
	for _, c := range []struct {
		data string
		at   int
		want int64
	}{
		{"12,a\n345,b\n", 5, 345},
		{"12,a\n0,b\n", 5, 0},
		{"7,", 0, 7},
		{"123456789012345678,x", 0, 123456789012345678},
		{"1234567890123456789,x", 0, -1}, // 19 digits: not a small id
		{"12,a\n", 5, -1},                // the end of the data
		{"12,a\n", 4, -1},                // a line feed (after a CR LF line end)
		{"12,a\n\"3\",b", 5, -1},         // a quoted id
		{"12,a\n,b", 5, -1},              // an empty id
		{"12,a\n34", 5, -1},              // no comma
		{"12,a\n3x,b", 5, -1},
		{"12,a\n-3,b", 5, -1},
		{"abc", -1, -1},
		{"abc", 9, -1},
	} {
		if got := peekID([]byte(c.data), c.at); got != c.want {
			t.Errorf("peekID(%q, %d) = %d, want %d", c.data, c.at, got, c.want)
		}
	}
}
