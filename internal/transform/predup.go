package transform

import (
	"bytes"
	"slices"
	"strconv"
)

// predupLimit bounds the bytes of rows a predup holds.
const predupLimit = 128 << 20

// predup drops, within one file, the clean rows that a later row of the same
// id supersedes (an equal or greater timestamp: the row read last wins ties),
// before they are written: entities with many versions per id (users, books,
// authors in a Goodreads batch) then write and read back a fraction of their
// rows. It holds the current winner of each id in a bounded buffer; when the
// winners outgrow it they are written out and it starts afresh. Every row it
// drops is superseded by a row it writes, so the dedup over all the written
// rows keeps exactly the rows it would have kept over all the valid rows.
type predup struct {
	limit int // bytes the arena may hold
	arena []byte
	live  map[int64]predupRow
	bytes int // bytes of live rows
	// emit writes one row (with its ordinal and '\n') and its keys line.
	emit func(row []byte, r predupRow) error
}

// predupRow is one held row: its place in the arena and, relative to its
// start, where its key, timestamp and ordinal are.
type predupRow struct {
	at, n                      int
	keyEnd, tsAt, tsEnd, ordAt int32
}

func newPredup(emit func(row []byte, r predupRow) error) *predup {
	return &predup{limit: predupLimit, live: map[int64]predupRow{}, emit: emit}
}

// add offers a clean row whose key is row[:keyEnd] and timestamp row[tsAt:tsEnd].
func (p *predup) add(row []byte, keyEnd, tsAt, tsEnd, ordAt int) error {
	id, err := strconv.ParseInt(bstr(row[:keyEnd]), 10, 64)
	if err != nil { // not a plain integer key: no predup for this row
		return p.emit(row, predupRow{n: len(row), keyEnd: int32(keyEnd), tsAt: int32(tsAt), tsEnd: int32(tsEnd), ordAt: int32(ordAt)})
	}
	if old, ok := p.live[id]; ok {
		oldTS := p.arena[old.at+int(old.tsAt) : old.at+int(old.tsEnd)]
		if bytes.Compare(row[tsAt:tsEnd], oldTS) < 0 {
			return nil // the held row is newer
		}
		p.bytes -= old.n
	}
	if len(p.arena)+len(row) > p.limit {
		if err := p.compact(); err != nil {
			return err
		}
	}
	r := predupRow{at: len(p.arena), n: len(row), keyEnd: int32(keyEnd), tsAt: int32(tsAt), tsEnd: int32(tsEnd), ordAt: int32(ordAt)}
	p.arena = append(p.arena, row...)
	p.live[id] = r
	p.bytes += len(row)
	return nil
}

// compact drops superseded rows from the arena, or writes out every held
// row when the live ones fill half of it.
func (p *predup) compact() error {
	if p.bytes*2 > p.limit {
		return p.flush()
	}
	next := make([]byte, 0, max(cap(p.arena), p.bytes))
	for _, id := range p.order() {
		r := p.live[id]
		row := p.arena[r.at : r.at+r.n]
		r.at = len(next)
		next = append(next, row...)
		p.live[id] = r
	}
	p.arena = next
	return nil
}

// order returns the held ids in the order their rows were read.
func (p *predup) order() []int64 {
	ids := make([]int64, 0, len(p.live))
	for id := range p.live {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int64) int { return p.live[a].at - p.live[b].at })
	return ids
}

// flush writes out every held row, in reading order, and empties the buffer.
func (p *predup) flush() error {
	for _, id := range p.order() {
		r := p.live[id]
		if err := p.emit(p.arena[r.at:r.at+r.n], r); err != nil {
			return err
		}
	}
	clear(p.live)
	p.arena = p.arena[:0]
	p.bytes = 0
	return nil
}
