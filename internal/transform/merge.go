package transform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// merger holds, for one CSV file cut into several spans, the winners the
// spans' predups still hold when their spans end: one row per id for the
// whole file, not one per span (the 11.4 GB batch's 3.56 GB of books, in 14
// spans, wrote 14 winners of each of its 100 K ids, 0.95 GB of the users',
// books' and authors' clean files, every byte of it read back by the dedup).
//
// The spans end in any order, so the merger compares rows by the dedup's
// rule itself: the greater timestamp, then the greater ordinal (the row
// read last). As in a predup, rows of one id with different tags (derived
// ids from different source keys) never supersede each other: the held one
// is written out. Its memory is bounded: when the winners outgrow limit,
// it writes them out to its own clean and keys files and starts afresh.
// Every row it drops is superseded by one it holds or writes, so the dedup
// over the written rows keeps exactly what it keeps without it.
//
// A span read again (its guessed start was inside a record) may have handed
// it rows that are no records, which may have displaced winners: the file
// then discards the merger and reads again every span that handed it rows
// (csvFile.finish).
type merger struct {
	mu    sync.Mutex
	limit int // bytes the arena may hold
	base  string
	// arena is the start of mapped (limit bytes, outside the Go heap, see
	// letGo); its capacity is how much of it the merger lets itself use.
	arena   []byte
	mapped  []byte
	unmap   func()
	rows    []mergeRow // in arena order, superseded ones marked dead
	index   idIndex
	garbage int  // bytes of the arena in dead rows
	handed  bool // a span handed it rows
	out     *cleanOut
}

// mergeRow is one row held by a merger: its place and room in the arena (a
// newer row of its id that fits is written over it), and its keys.
type mergeRow struct {
	at, n, room int32
	ordAt       int32
	id, ts, ord int64
	tag         uint64
	dead        bool
}

// mergeSlack is the room a merger leaves after each row it appends, so
// that a later version of the id a little longer still fits in place.
const mergeSlack = 16

func newMerger(base string, limit int) *merger {
	if limit <= 0 {
		limit = predupLimit
	}
	return &merger{base: base, limit: limit, index: idIndex{sparse: &idTable{}}}
}

// used reports whether a span handed the merger rows.
func (m *merger) used() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.handed
}

// take offers the merger the rows p holds (a span's predup at the span's
// end, still on), leaving p as it was.
func (m *merger) take(p *predup) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handed = true
	if m.mapped == nil {
		b, unmap, err := mapAnon(m.limit)
		if err != nil {
			return err
		}
		m.mapped, m.unmap = b, unmap
		m.arena = b[:0:min(p.bytes+p.bytes/4+64<<10, m.limit)]
		live := 0
		for i := range p.rows {
			if !p.rows[i].dead {
				live++
			}
		}
		m.rows = make([]mergeRow, 0, live+live/4)
	}
	for i := range p.rows {
		r := &p.rows[i]
		if r.dead {
			continue
		}
		if err := m.add(p.arena[r.at:r.at+r.n], r); err != nil {
			return err
		}
	}
	return nil
}

// add offers one row, ending with "\t<ordinal>\n" (the tab at r.ordAt).
func (m *merger) add(row []byte, r *predupRow) error {
	ord := parseDigits(row[r.ordAt+1 : len(row)-1])
	room := len(row) + mergeSlack
	i, ok := m.index.get(r.id)
	if ok {
		old := &m.rows[i]
		if old.tag != r.tag {
			// Another key on this id: write the held row out.
			if err := m.emit(old); err != nil {
				return err
			}
		} else if r.ts < old.ts || r.ts == old.ts && ord < old.ord {
			return nil // the held row wins
		}
		if len(row) <= int(old.room) {
			copy(m.arena[old.at:], row)
			old.n, old.ordAt, old.ts, old.ord, old.tag = int32(len(row)), r.ordAt, r.ts, ord, r.tag
			return nil
		}
		old.dead = true
		m.garbage += int(old.room)
		// Its versions vary in length: room for a longer one.
		room = max(room, len(row)+len(row)/8)
	}
	if len(m.arena)+room > cap(m.arena) {
		if err := m.makeRoom(room); err != nil {
			return err
		}
		if len(m.arena)+room > cap(m.arena) {
			// Longer than the merger may hold: written out at once.
			return m.write(row, r.id, r.ts, r.ordAt)
		}
	}
	at := len(m.arena)
	m.arena = m.arena[:at+room]
	copy(m.arena[at:], row)
	m.index.put(r.id, int32(len(m.rows)))
	m.rows = append(m.rows, mergeRow{at: int32(at), n: int32(len(row)), room: int32(room), ordAt: r.ordAt, id: r.id, ts: r.ts, ord: ord, tag: r.tag})
	return nil
}

// makeRoom makes room for need more bytes in the arena: it drops the dead
// rows when they are an eighth of it, grows it (by an eighth, up to limit)
// when that is not enough, and writes every held row out when it cannot.
// The arena stays close to the winners' size: a file's merger is held
// until its last span ends, and may be beside another entity's dedup,
// where the process peaks (at first, with the arena grown by half, dead
// rows up to a quarter of it and a quarter more room for a row that
// outgrew its place, the 11.4 GB batch's books and users held 64 and 58 MB
// for 39 and 32 MB of winners). Growing it copies nothing: it is mapped
// whole (limit bytes), and only the part used takes memory.
func (m *merger) makeRoom(need int) error {
	if m.garbage*8 >= len(m.arena) {
		m.compact()
		if len(m.arena)+need <= cap(m.arena) {
			return nil
		}
	}
	if c := cap(m.arena); c < m.limit {
		m.arena = m.mapped[:len(m.arena):min(max(c+c/8, len(m.arena)+need), m.limit)]
		if len(m.arena)+need <= cap(m.arena) {
			return nil
		}
	}
	return m.flush()
}

// compact drops the dead rows, moving the live ones down in place in arena
// order (a row never overwrites one not yet moved).
func (m *merger) compact() {
	next := 0
	kept := m.rows[:0]
	for _, r := range m.rows {
		if r.dead {
			continue
		}
		copy(m.arena[next:], m.arena[r.at:r.at+r.n])
		r.at = int32(next)
		next += int(r.room)
		m.index.put(r.id, int32(len(kept)))
		kept = append(kept, r)
	}
	m.arena, m.rows, m.garbage = m.arena[:next], kept, 0
}

// emit writes one held row to the merger's files.
func (m *merger) emit(r *mergeRow) error {
	return m.write(m.arena[r.at:r.at+r.n], r.id, r.ts, r.ordAt)
}

// write writes a row to the merger's files, making them first.
func (m *merger) write(row []byte, id, ts int64, ordAt int32) error {
	if m.out == nil {
		out, err := newCleanOut(m.base, false, 0, nil, nil)
		if err != nil {
			return err
		}
		m.out = out
	}
	return m.out.emit(row, predupRow{id: id, ts: ts, ordAt: ordAt})
}

// flush writes every held row out and empties the merger.
func (m *merger) flush() error {
	for i := range m.rows {
		if r := &m.rows[i]; !r.dead {
			if err := m.emit(r); err != nil {
				return err
			}
		}
	}
	m.index.reset()
	m.arena, m.rows, m.garbage = m.arena[:0], m.rows[:0], 0
	return nil
}

// finish writes out what the merger holds, closes its files and lets go
// of its buffers; it returns its clean file ("" when it wrote none) and
// the rows it wrote.
func (m *merger) finish() (string, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.flush()
	m.letGo()
	if m.out == nil {
		return "", 0, err
	}
	if cerr := m.out.close(); err == nil {
		err = cerr
	}
	if err != nil || m.out.written == 0 {
		return "", 0, err
	}
	return m.out.cleanPath(), m.out.written, nil
}

// discard lets go of what the merger holds and removes the files it wrote.
func (m *merger) discard() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.letGo()
	if m.out == nil {
		return nil
	}
	var errs []error
	errs = append(errs, m.out.close())
	for _, p := range []string{m.out.cleanPath(), m.out.keysPath()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("transform: remove scratch file: %w", err))
		}
	}
	m.out = nil
	return errors.Join(errs...)
}

// letGo gives the merger's arena back to the system and drops its other
// buffers. The arena is mapped apart from the Go heap: the file's dedup
// starts when the merger is done, DuckDB's memory then grows, and the heap
// would have kept the arena (tens of MB) until its next collection; and as
// live heap it would have raised the collector's goal by as much again
// (GOGC), which the batch's peak showed (BENCHMARKS.md, issue 14, round 9).
func (m *merger) letGo() {
	if m.unmap != nil {
		m.unmap()
	}
	m.arena, m.mapped, m.unmap, m.rows, m.index = nil, nil, nil, nil, idIndex{}
}
