package drivertest

import (
	"fmt"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// testUpsertCases: the newer-or-equal rule on the shapes of batch a faster
// upsert form would treat apart: a fresh (empty) table, a batch of ties
// only, a batch of stale rows only, and a mixed batch larger than one
// vector of rows (2,048 in DuckDB) whose expected table is computed here by
// the rule, row by row.
func testUpsertCases(t *testing.T, h Harness) {
	w := setUp(t, h)
	base := ts("2020-01-01 00:00:00")
	at := func(d time.Duration) string { return base.Add(d).Format("2006-01-02 15:04:05.999999") }
	const n = 2500

	// Fresh table: every staged row is inserted.
	var first []row
	for id := int64(1); id <= n; id++ {
		first = append(first, review(id, 100+id%7, 200+id%11, 3.0, fmt.Sprintf("v1-%d", id), at(time.Duration(id)*time.Second)))
	}
	l := load(t, w, "fresh", grpipe.Reviews, parquetOf(t, grpipe.Reviews, first...), "", grpipe.Ledger{Read: n, Staged: n})
	if want := (grpipe.Ledger{Read: n, Staged: n, Inserted: n}); l != want {
		t.Errorf("fresh table ledger %+v, want %+v", l, want)
	}
	want := map[int64][]any{}
	for id := int64(1); id <= n; id++ {
		want[id] = []any{id, 3.0, fmt.Sprintf("v1-%d", id), at(time.Duration(id) * time.Second)}
	}
	check := func(stage string) {
		t.Helper()
		var rows [][]any
		for id := int64(1); id <= int64(len(want)); id++ {
			rows = append(rows, want[id])
		}
		if got := query(t, w, "SELECT review_id, review_rating, review_text, record_create_timestamp FROM goodreads_warehouse.reviews ORDER BY review_id"); !sameRows(normalize(got), normalize(rows)) {
			t.Fatalf("%s: the table is not what the newer-or-equal rule gives (%d rows, want %d)", stage, len(got), len(rows))
		}
	}
	check("fresh table")

	// Ties only: every stored row is replaced by the staged one.
	var ties []row
	for id := int64(1); id <= 100; id++ {
		ties = append(ties, review(id, 101, 201, 4.0, fmt.Sprintf("tie-%d", id), at(time.Duration(id)*time.Second)))
		want[id] = []any{id, 4.0, fmt.Sprintf("tie-%d", id), at(time.Duration(id) * time.Second)}
	}
	l = load(t, w, "ties", grpipe.Reviews, parquetOf(t, grpipe.Reviews, ties...), "", grpipe.Ledger{Read: 100, Staged: 100})
	if want := (grpipe.Ledger{Read: 100, Staged: 100, Updated: 100}); l != want {
		t.Errorf("ties ledger %+v, want %+v", l, want)
	}
	check("ties")

	// Stale only: nothing changes.
	var stale []row
	for id := int64(101); id <= 200; id++ {
		stale = append(stale, review(id, 101, 201, 1.0, "stale", at(time.Duration(id)*time.Second-time.Microsecond)))
	}
	l = load(t, w, "stale", grpipe.Reviews, parquetOf(t, grpipe.Reviews, stale...), "", grpipe.Ledger{Read: 100, Staged: 100})
	if want := (grpipe.Ledger{Read: 100, Staged: 100, Stale: 100}); l != want {
		t.Errorf("stale ledger %+v, want %+v", l, want)
	}
	check("stale")

	// Mixed, over two thousand rows: by id, newer, tie, stale and new rows.
	var mixed []row
	var wl grpipe.Ledger
	for id := int64(1); id <= n+500; id += 1 {
		stored, ok := want[id]
		var created string
		switch {
		case !ok: // new id
			created = at(time.Hour + time.Duration(id)*time.Second)
			wl.Inserted++
		case id%3 == 0: // newer
			created = at(time.Duration(id)*time.Second + time.Minute)
			wl.Updated++
		case id%3 == 1: // tie
			created = stored[3].(string)
			wl.Updated++
		default: // stale
			created = at(time.Duration(id)*time.Second - time.Minute)
			wl.Stale++
		}
		text := fmt.Sprintf("mixed-%d", id)
		mixed = append(mixed, review(id, 102, 202, 2.0, text, created))
		if !ok || id%3 != 2 {
			want[id] = []any{id, 2.0, text, created}
		}
	}
	staged := int64(len(mixed))
	wl.Read, wl.Staged = staged, staged
	l = load(t, w, "mixed", grpipe.Reviews, parquetOf(t, grpipe.Reviews, mixed...), "", grpipe.Ledger{Read: staged, Staged: staged})
	if l != wl || !l.Balanced() {
		t.Errorf("mixed ledger %+v, want %+v", l, wl)
	}
	check("mixed")
}
