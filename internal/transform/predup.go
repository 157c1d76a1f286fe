package transform

import (
	"math/bits"
	"runtime/debug"
	"sync"
	"unsafe"
)

// predupLimit bounds the bytes of rows a predup holds.
const predupLimit = 64 << 20

// predupProbe is how many rows a predup sees before it judges whether it
// pays: when fewer than one in twenty of them were superseded, it writes out
// what it holds and passes every later row straight through. (Uniform ids
// over 100 K values, as users, books and authors have in a Goodreads batch,
// give one in five at that point; reviews, over 10 M values, one in 400.)
const predupProbe = 50_000

// A predup also judges earlier, at 4,096, 8,192, 16,384 and 32,768 rows,
// but turns itself off there only when its ids are clearly sparse: n rows
// of ids drawn from N values repeat about n²/2N times, and the early
// judgements turn off when that estimate of N is above predupSparse, four
// times the bound the judgement at predupProbe applies (one in twenty
// superseded at 50,000 rows: N above 500 K). Reviews of a Goodreads batch
// (10 M values) repeat about once in 4,096 rows, where the bound allows
// four; users, books and authors (100 K values) about 84 times. Holding
// 50,000 reviews first cost a 50,000-row file 38 % of its validation.
const (
	predupEarly  = 4_096
	predupSparse = 2_000_000
)

// passes reports whether a predup that has seen p.seen rows (at most
// predupProbe) should turn itself off now.
func (p *predup) passes() bool {
	if p.seen == predupProbe {
		return p.dropped*20 < p.seen
	}
	n := int64(p.seen)
	return n >= predupEarly && n&(n-1) == 0 && 2*int64(p.dropped)*predupSparse < n*n
}

// predupDense is the bound below which ids index a slice rather than a map.
const predupDense = 1 << 21

// predup drops, within one run of rows read in order (a range of a file),
// the clean rows that a later row of the same id supersedes (an equal or
// greater timestamp: the row read last wins ties), before they are written:
// entities with many versions per id (users, books, authors in a Goodreads
// batch) then write and read back a fraction of their rows. It holds the
// current winner of each id in a bounded buffer; when the winners outgrow it
// they are written out and it starts afresh. Every row it drops is
// superseded by a row it writes, so the dedup over all the written rows keeps
// exactly the rows it would have kept over all the valid rows. At the end of
// a span of a CSV file, a predup still on hands the rows it holds to the
// file's merger instead of writing them (cleanOut.close, merge.go).
type predup struct {
	limit   int // bytes the arena may hold
	arena   []byte
	rows    []predupRow // held rows in reading order, superseded ones marked dead
	index   idIndex     // id -> index in rows
	bytes   int         // bytes of live rows
	seen    int
	dropped int
	off     bool        // pass-through: predup did not pay here
	warmed  int         // the arena's lines before this were asked for
	pool    *predupPool // where the buffers go back; nil: nowhere
	// emit writes one row (with its ordinal and '\n') and its keys line.
	emit func(row []byte, r predupRow) error
}

// predupRow is one held row: its place in the arena, its id, its timestamp
// (packed so that integer order is time order, see packTimestamp) and where
// its ordinal starts.
type predupRow struct {
	at, n int
	id    int64
	ts    int64
	ordAt int32
	dead  bool
	tag   uint64 // hash of the source key of a derived id; 0: none
}

// newPredup returns a predup whose arena is sized for about sizeHint bytes
// of rows (at most predupLimit), its buffers taken from pool when it holds
// some (pool may be nil).
func newPredup(sizeHint int, pool *predupPool, emit func(row []byte, r predupRow) error) *predup {
	b := pool.get(min(sizeHint, predupLimit) + 64<<10)
	return &predup{limit: predupLimit, arena: b.arena, rows: b.rows, index: idIndex{dense: b.dense, sparse: b.sparse}, pool: pool, emit: emit}
}

// release gives the buffers back to the pool they came from (the spans of
// a big file come one after the other on each worker); the predup must not
// be used after.
func (p *predup) release() {
	if p.arena != nil {
		p.reset()
		p.pool.put(&predupBuffers{arena: p.arena[:0], rows: p.rows[:0], dense: p.index.dense, sparse: p.index.sparse})
	}
	p.arena, p.rows, p.index = nil, nil, idIndex{}
}

// predupBuffers are the buffers of a predup that outlive it: its arena, its
// held rows, its id index (emptied).
type predupBuffers struct {
	arena  []byte
	rows   []predupRow
	dense  []int32
	sparse *idTable
}

// predupPool keeps the buffers of finished predups for the next ones: the
// spans of a transform's CSV files are validated one after the other on a
// few workers, and each span's predup would otherwise allocate a 64 MiB
// arena (and grow its index) afresh, leaving the last one to the garbage
// collector: on the 11.4 GB batch, one arena per span of 256 MiB, most of
// them dropped after the first 50,000 rows of reviews. With the pool, a
// transform holds at most one set of buffers per worker. It is not a
// sync.Pool, which empties itself at every other garbage collection.
type predupPool struct {
	mu   sync.Mutex
	free []*predupBuffers
	max  int // the most free sets kept: the workers'
}

// drop lets go of the free buffers.
func (p *predupPool) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = nil
}

// setMax sets how many free sets the pool keeps, letting go of the
// smallest beyond it.
func (p *predupPool) setMax(n int) {
	p.mu.Lock()
	p.max = n
	dropped := p.trim()
	p.mu.Unlock()
	if dropped {
		freeOSMemory()
	}
}

// trim lets go of the smallest free arenas beyond max, reporting whether it
// did; p.mu is held.
func (p *predupPool) trim() bool {
	dropped := false
	for len(p.free) > p.max {
		small := 0
		for i, f := range p.free {
			if cap(f.arena) < cap(p.free[small].arena) {
				small = i
			}
		}
		p.free = append(p.free[:small], p.free[small+1:]...)
		dropped = true
	}
	return dropped
}

// freeOSMemory gives the memory of dropped buffers back to the system at
// once. The pool drops a set when a dedup takes a worker's place (workGate),
// which is when DuckDB's memory grows: left to the Go runtime, the 64 MiB
// arena was collected within seconds but its pages returned later still,
// and the 11.4 GB batch peaked with them beside DuckDB's dedup. A forced
// collection costs little here: the arenas and row tables hold no pointers.
func freeOSMemory() { debug.FreeOSMemory() }

// get returns buffers whose arena holds size bytes: a free set when one is
// large enough, new ones otherwise. A nil pool always makes new ones.
func (p *predupPool) get(size int) *predupBuffers {
	if p != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, b := range p.free {
			if cap(b.arena) >= size {
				p.free = append(p.free[:i], p.free[i+1:]...)
				return b
			}
		}
	}
	return &predupBuffers{arena: make([]byte, 0, size), sparse: &idTable{}}
}

// put keeps b, emptied, for a later get; with no room, the smallest arena
// is let go.
func (p *predupPool) put(b *predupBuffers) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, b)
	dropped := p.trim()
	p.mu.Unlock()
	if dropped {
		freeOSMemory()
	}
}

// idIndex maps ids to row indexes: a slice for ids below predupDense, an
// idTable for the others.
type idIndex struct {
	dense  []int32 // id -> index + 1
	sparse *idTable
}

func (x *idIndex) get(id int64) (int32, bool) {
	if id >= 0 && id < predupDense {
		if id < int64(len(x.dense)) && x.dense[id] > 0 {
			return x.dense[id] - 1, true
		}
		return 0, false
	}
	return x.sparse.get(id)
}

func (x *idIndex) put(id int64, i int32) {
	if id >= 0 && id < predupDense {
		if id >= int64(len(x.dense)) {
			x.dense = append(x.dense, make([]int32, int(id)+1-len(x.dense)+len(x.dense)/2)...)
		}
		x.dense[id] = i + 1
		return
	}
	if x.sparse == nil {
		x.sparse = &idTable{}
	}
	x.sparse.put(id, i)
}

func (x *idIndex) reset() {
	clear(x.dense)
	x.sparse.reset()
}

// The id index and the held rows are read at random (the index of 100 K
// author ids is 400 KB, their 50,000 held rows 2.4 MB): their loads missed
// the cache, 8 % and 6 % of the validation pass of authors. The validation
// pass warms both a row ahead, without waiting for either: warm with the
// id of the row after the one it cleans (the index entry), warmRow with
// the id of the row it is about to clean (the held row of that id, through
// the entry warmed a row before). Both are hints: they change no result.

// warm starts bringing the id index's entry for id into the cache.
func (p *predup) warm(id int64) {
	if p.off {
		return
	}
	if id >= 0 && id < int64(len(p.index.dense)) {
		prefetch(unsafe.Pointer(&p.index.dense[id]))
	} else if t := p.index.sparse; id >= predupDense && t != nil && t.n > 0 {
		prefetch(unsafe.Pointer(&t.slots[t.slot(id)]))
	}
}

// warmRow starts bringing the held row of id, if any, into the cache.
func (p *predup) warmRow(id int64) {
	if p.off {
		return
	}
	if i, ok := p.index.get(id); ok && int(i) < len(p.rows) {
		// A 48-byte row straddles two cache lines one time in two.
		r := &p.rows[i]
		prefetch(unsafe.Pointer(r))
		prefetch(unsafe.Pointer(&r.tag))
	}
}

// reset empties the id index. The ids set in the slice are those of the
// held rows (a row is marked dead only for a held row of its id, and
// compact sets again the ids of the rows it keeps), so when they are few
// for its length, only their entries are cleared: a few ids below
// predupDense among 50,000 reviews grew it to megabytes, cleared at every
// flush and release.
func (p *predup) reset() {
	if len(p.rows) < len(p.index.dense)/16 {
		for _, r := range p.rows {
			if r.id >= 0 && r.id < int64(len(p.index.dense)) {
				p.index.dense[r.id] = 0
			}
		}
	} else {
		clear(p.index.dense)
	}
	p.index.sparse.reset()
}

// add offers a clean row (ending with its ordinal, which starts at ordAt,
// and '\n') of key id and packed timestamp ts.
func (p *predup) add(row []byte, id, ts int64, ordAt int) error {
	return p.addTagged(row, id, ts, ordAt, 0)
}

// addTagged is add for a row whose id was derived from a source key (tag: a
// hash of the key, 0 for none). Two rows of the same id but different tags
// are both kept: they are a collision of derived ids, which the transform
// quarantines after seeing every key of the batch.
func (p *predup) addTagged(row []byte, id, ts int64, ordAt int, tag uint64) error {
	r := predupRow{n: len(row), id: id, ts: ts, ordAt: int32(ordAt), tag: tag}
	if p.off {
		return p.emit(row, r)
	}
	p.seen++
	if i, ok := p.index.get(id); ok && p.rows[i].tag != tag {
		// Another key on this id: write the held row out, hold this one.
		old := &p.rows[i]
		if err := p.emit(p.arena[old.at:old.at+old.n], *old); err != nil {
			return err
		}
		old.dead = true
		p.bytes -= old.n
	} else if ok {
		old := &p.rows[i]
		if ts < old.ts {
			p.dropped++
			return nil // the held row is newer
		}
		old.dead = true
		p.bytes -= old.n
		p.dropped++
	}
	if p.seen <= predupProbe && p.passes() {
		p.off = true
		if err := p.flush(); err != nil {
			return err
		}
		p.release() // for the next span's predup
		return p.emit(row, r)
	}
	if len(p.arena)+len(row) > p.limit {
		if err := p.compact(); err != nil {
			return err
		}
	}
	r.at = len(p.arena)
	p.arena = append(p.arena, row...)
	// The arena's next lines, not touched since the last flush.
	if p.warmed < len(p.arena) {
		p.warmed = len(p.arena)
	}
	for end := min(len(p.arena)+flushAhead, cap(p.arena)); p.warmed < end; p.warmed += 64 {
		prefetch(unsafe.Pointer(unsafe.SliceData(p.arena[p.warmed:cap(p.arena)])))
	}
	p.index.put(id, int32(len(p.rows)))
	p.rows = append(p.rows, r)
	p.bytes += len(row)
	return nil
}

// compact drops superseded rows from the arena, moving the live ones down
// in place (in reading order, so a row never overwrites one not yet moved),
// or writes out every held row when the live ones fill three quarters of it
// (a Goodreads batch's 100 K books fill more than half of it, and writing
// them out at each compaction would write each book many times).
func (p *predup) compact() error {
	if p.bytes*4 > p.limit*3 {
		return p.flush()
	}
	next := 0
	kept := p.rows[:0]
	for _, r := range p.rows {
		if r.dead {
			continue
		}
		copy(p.arena[next:], p.arena[r.at:r.at+r.n])
		r.at = next
		next += r.n
		p.index.put(r.id, int32(len(kept)))
		kept = append(kept, r)
	}
	p.arena, p.rows, p.warmed = p.arena[:next], kept, next
	return nil
}

// flush writes out every held row, in reading order, and empties the buffer.
//
// The held rows were written to the arena long before and are out of the
// cache: it asks for the arena's lines flushAhead bytes ahead of the row
// it copies.
func (p *predup) flush() error {
	ahead := 0
	for _, r := range p.rows {
		for end := min(r.at+r.n+flushAhead, len(p.arena)); ahead < end; ahead += 64 {
			prefetch(unsafe.Pointer(&p.arena[ahead]))
		}
		if r.dead {
			continue
		}
		if err := p.emit(p.arena[r.at:r.at+r.n], r); err != nil {
			return err
		}
	}
	p.reset()
	p.arena, p.rows, p.bytes, p.warmed = p.arena[:0], p.rows[:0], 0, 0
	return nil
}

// flushAhead is how far ahead of the row it writes out a flush asks for
// the arena's lines.
const flushAhead = 2048

// idTable maps ids to row indexes: open addressing with linear probing.
// It is emptied at once by starting a new generation (a slot set in an
// earlier one is empty), not by clearing its slots: a predup is emptied at
// every flush and release, and clearing a Go map of 50,000 review ids took
// 4 % of the validation pass of reviews, its lookups 14 %.
type idTable struct {
	slots []idSlot
	n     int    // ids set in this generation
	gen   uint32 // the current generation; a zeroed slot (0) is empty
	shift uint   // 64 less log2(len(slots))
}

type idSlot struct {
	id  int64
	i   int32
	gen uint32
}

// slot is where id's probe starts (Fibonacci hashing: the high bits of id
// times 2^64/φ).
func (t *idTable) slot(id int64) int { return int(uint64(id) * 0x9e3779b97f4a7c15 >> t.shift) }

func (t *idTable) get(id int64) (int32, bool) {
	if t == nil || t.n == 0 {
		return 0, false
	}
	mask := len(t.slots) - 1
	for h := t.slot(id); ; h = (h + 1) & mask {
		s := &t.slots[h]
		if s.gen != t.gen {
			return 0, false
		}
		if s.id == id {
			return s.i, true
		}
	}
}

func (t *idTable) put(id int64, i int32) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	mask := len(t.slots) - 1
	for h := t.slot(id); ; h = (h + 1) & mask {
		s := &t.slots[h]
		if s.gen != t.gen {
			*s = idSlot{id: id, i: i, gen: t.gen}
			t.n++
			return
		}
		if s.id == id {
			s.i = i
			return
		}
	}
}

// grow doubles the slots (1,024 at first), setting again the ids of the
// current generation.
func (t *idTable) grow() {
	old, gen := t.slots, t.gen
	n := max(2*len(old), 1024)
	t.slots = make([]idSlot, n)
	t.shift = uint(64 - bits.TrailingZeros(uint(n)))
	t.n, t.gen = 0, 1
	for _, s := range old {
		if s.gen == gen && gen != 0 {
			t.put(s.id, s.i)
		}
	}
}

// reset empties the table (a nil one: a released predup's).
func (t *idTable) reset() {
	if t == nil || t.n == 0 {
		return
	}
	t.n = 0
	t.gen++
	if t.gen == 0 { // wrapped: slots of every generation look set
		clear(t.slots)
		t.gen = 1
	}
}
