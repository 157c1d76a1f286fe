package transform

import (
	"bytes"
	"strconv"
)

// predupLimit bounds the bytes of rows a predup holds.
const predupLimit = 64 << 20

// predupProbe is how many rows a predup sees before it judges whether it
// pays: when fewer than a fifth of them were superseded in the file, it
// writes out what it holds and passes every later row straight through.
const predupProbe = 200_000

// predup drops, within one file, the clean rows that a later row of the same
// id supersedes (an equal or greater timestamp: the row read last wins ties),
// before they are written: entities with many versions per id (users, books,
// authors in a Goodreads batch) then write and read back a fraction of their
// rows. It holds the current winner of each id in a bounded buffer; when the
// winners outgrow it they are written out and it starts afresh. Every row it
// drops is superseded by a row it writes, so the dedup over all the written
// rows keeps exactly the rows it would have kept over all the valid rows.
type predup struct {
	limit   int // bytes the arena may hold
	arena   []byte
	spare   []byte        // the other arena, reused by compaction
	rows    []predupRow   // held rows in reading order, superseded ones marked dead
	live    map[int64]int // id -> index in rows
	bytes   int           // bytes of live rows
	seen    int
	dropped int
	off     bool // pass-through: predup did not pay in this file
	// emit writes one row (with its ordinal and '\n') and its keys line.
	emit func(row []byte, r predupRow) error
}

// predupRow is one held row: its place in the arena and, relative to its
// start, where its key, timestamp and ordinal are.
type predupRow struct {
	at, n                      int
	keyEnd, tsAt, tsEnd, ordAt int32
	dead                       bool
	tag                        uint64 // hash of the source key of a derived id; 0: none
}

func newPredup(emit func(row []byte, r predupRow) error) *predup {
	return &predup{limit: predupLimit, live: map[int64]int{}, emit: emit}
}

// add offers a clean row whose key is row[:keyEnd] and timestamp row[tsAt:tsEnd].
func (p *predup) add(row []byte, keyEnd, tsAt, tsEnd, ordAt int) error {
	return p.addTagged(row, keyEnd, tsAt, tsEnd, ordAt, 0)
}

// addTagged is add for a row whose id was derived from a source key (tag: a
// hash of the key, 0 for none). Two rows of the same id but different tags
// are both kept: they are a collision of derived ids, which the transform
// quarantines after seeing every key of the batch.
func (p *predup) addTagged(row []byte, keyEnd, tsAt, tsEnd, ordAt int, tag uint64) error {
	r := predupRow{n: len(row), keyEnd: int32(keyEnd), tsAt: int32(tsAt), tsEnd: int32(tsEnd), ordAt: int32(ordAt), tag: tag}
	if p.off {
		return p.emit(row, r)
	}
	id, err := strconv.ParseInt(bstr(row[:keyEnd]), 10, 64)
	if err != nil { // not a plain integer key: no predup for this row
		return p.emit(row, r)
	}
	p.seen++
	if i, ok := p.live[id]; ok && p.rows[i].tag != tag {
		// Another key on this id: write the held row out, hold this one.
		old := &p.rows[i]
		if err := p.emit(p.arena[old.at:old.at+old.n], *old); err != nil {
			return err
		}
		old.dead = true
		p.bytes -= old.n
	} else if ok {
		old := &p.rows[i]
		if bytes.Compare(row[tsAt:tsEnd], p.arena[old.at+int(old.tsAt):old.at+int(old.tsEnd)]) < 0 {
			p.dropped++
			return nil // the held row is newer
		}
		old.dead = true
		p.bytes -= old.n
		p.dropped++
	}
	if p.seen == predupProbe && p.dropped*5 < p.seen {
		p.off = true
		if err := p.flush(); err != nil {
			return err
		}
		return p.emit(row, r)
	}
	if len(p.arena)+len(row) > p.limit {
		if err := p.compact(); err != nil {
			return err
		}
	}
	if p.arena == nil {
		p.arena = make([]byte, 0, p.limit+64<<10)
	}
	r.at = len(p.arena)
	p.arena = append(p.arena, row...)
	p.live[id] = len(p.rows)
	p.rows = append(p.rows, r)
	p.bytes += len(row)
	return nil
}

// compact drops superseded rows from the arena, or writes out every held
// row when the live ones fill half of it.
func (p *predup) compact() error {
	if p.bytes*2 > p.limit {
		return p.flush()
	}
	if p.spare == nil {
		p.spare = make([]byte, 0, p.limit+64<<10)
	}
	next := p.spare[:0]
	kept := p.rows[:0]
	for _, r := range p.rows {
		if r.dead {
			continue
		}
		row := p.arena[r.at : r.at+r.n]
		id, _ := strconv.ParseInt(bstr(row[:r.keyEnd]), 10, 64)
		r.at = len(next)
		next = append(next, row...)
		p.live[id] = len(kept)
		kept = append(kept, r)
	}
	p.spare, p.arena, p.rows = p.arena[:0], next, kept
	return nil
}

// flush writes out every held row, in reading order, and empties the buffer.
func (p *predup) flush() error {
	for _, r := range p.rows {
		if r.dead {
			continue
		}
		if err := p.emit(p.arena[r.at:r.at+r.n], r); err != nil {
			return err
		}
	}
	clear(p.live)
	p.arena, p.rows, p.bytes = p.arena[:0], p.rows[:0], 0
	return nil
}
