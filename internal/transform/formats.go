package transform

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/bookgraph"
	"github.com/grpipe/grpipe/internal/libexport"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// The format seam. A CSV file of one entity is read by the byte scanner of
// csv.go; every other input format (the UCSD Book Graph dumps, a library
// export) is read by a RecordReader, which turns the file into records, each
// the raw rows of one or more entities that one line yields (or the reason
// the line is rejected). Both paths validate and clean every field with the
// same appendValue, so the rules stay one, and write the same clean and keys
// files to the dedup.

// RecordReader reads the records of an input format.
type RecordReader interface {
	// Next fills rec with the next record; false at the end (see Err).
	Next(rec *grpipe.InputRecord) bool
	// Err is the error that ended the file early (ErrBadInput: a damaged file).
	Err() error
	Close() error
}

// progressReader is a RecordReader that can say how far it has read.
type progressReader interface {
	BytesRead() int64
}

// openRecords opens the RecordReader of src's format.
func openRecords(src Source, f io.Reader, opts Options) (RecordReader, error) {
	switch src.Input.Format {
	case grpipe.FormatUCSDBooks, grpipe.FormatUCSDAuthors, grpipe.FormatUCSDReviews, grpipe.FormatUCSDSpoiler:
		return bookgraph.NewReader(f, bookgraph.Options{Format: src.Input.Format, Snapshot: opts.Snapshot})
	case grpipe.FormatLibraryExport:
		return libexport.NewReader(f, libexport.Options{UserID: src.Input.ExportUserID})
	}
	return nil, fmt.Errorf("transform %s: no reader for format %q", src.Name, src.Input.Format)
}

// entityOut writes one entity's clean rows and keys lines of one input file.
type entityOut struct {
	e             grpipe.Entity
	clean, keys   string
	f, kf         *os.File
	w, kw         *bufio.Writer
	pd            *predup
	stats         FileStats
	row, keysLine []byte
	// keyed: some row's id is derived from a source key, so a collision of
	// keys may make the dedup read the clean file again.
	keyed bool
}

func newEntityOut(e grpipe.Entity, base, source string) (*entityOut, error) {
	o := &entityOut{e: e, clean: base + "." + e.Name + ".tsv", stats: FileStats{Source: source}}
	o.keys = o.clean + ".keys"
	var err error
	if o.f, err = os.Create(o.clean); err != nil {
		return nil, err
	}
	if o.kf, err = os.Create(o.keys); err != nil {
		o.f.Close()
		return nil, err
	}
	o.w, o.kw = bufio.NewWriterSize(o.f, 1<<20), bufio.NewWriterSize(o.kf, 256<<10)
	o.pd = newPredup(16<<20, nil, o.emit)
	return o, nil
}

// emit writes a clean row (key first) and its keys line (id, packed
// timestamp, ordinal).
func (o *entityOut) emit(row []byte, r predupRow) error {
	if _, err := o.w.Write(row); err != nil {
		return fmt.Errorf("write %s: %w", o.clean, err)
	}
	k := strconv.AppendInt(o.keysLine[:0], r.id, 10)
	k = append(k, '\t')
	k = strconv.AppendInt(k, r.ts, 10)
	k = append(k, row[r.ordAt:]...)
	o.keysLine = k
	if _, err := o.kw.Write(k); err != nil {
		return fmt.Errorf("write %s: %w", o.keys, err)
	}
	return nil
}

func (o *entityOut) close() error {
	err := o.pd.flush()
	for _, e := range []error{o.w.Flush(), o.f.Close(), o.kw.Flush(), o.kf.Close()} {
		if err == nil && e != nil {
			err = fmt.Errorf("write %s: %w", o.clean, e)
		}
	}
	// Let the predup's arenas (up to 128 MiB) and the buffers go while DuckDB
	// deduplicates: the file's stats and paths are all that is kept.
	o.pd, o.w, o.kw, o.row, o.keysLine = nil, nil, nil, nil, nil
	return err
}

// inputColumn is col as validated in a row of a non-CSV format: only the
// key and record_create_timestamp must be present (a UCSD review's author_id
// is NULL until its book is known).
func inputColumn(e grpipe.Entity, col grpipe.Column) grpipe.Column {
	col.Required = col.Name == e.Key || col.Name == grpipe.TimestampColumn
	return col
}

// cleanRecords validates the records of a non-CSV source and writes, for
// each entity it yields rows of, a clean file and a keys file (parts, keyed
// by entity name), and its rejected records to rejects. A record is
// rejected whole when any of its rows has a value that does not validate;
// a rejected record counts in the primary entity's stats (read and
// rejected), an accepted one in every entity it yields a row of. The rows
// of one record share its ordinal (ordBase + record index). The keys that
// derived ids stand for go to sourceKeys (entity, source, key, id, line,
// ordinal; tab-separated).
//
// The work has two halves: building a record (decoding, validating and
// cleaning its rows: recordBuilder), which a UCSD dump does on several
// goroutines, chunk by chunk, and committing it (counting, ordinals,
// predup, the clean, keys, source keys and quarantine files: committer),
// which is done in file order, so every output is that of one sequential read.
func cleanRecords(ctx context.Context, log *slog.Logger, src Source, ordBase int64, base string, rejects *quarantine.Writer, sourceKeys io.Writer, opts Options) (map[string]*entityOut, error) {
	f, err := os.Open(src.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src.Name, err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	rr, err := openRecords(src, f, opts)
	if err != nil {
		var fe *FileError
		if isBadInput(err) {
			fe = &FileError{Source: src.Name, Reason: err.Error()}
			return nil, fe
		}
		return nil, err
	}
	defer rr.Close()

	parts := map[string]*entityOut{}
	defer func() {
		for _, p := range parts {
			if p.f != nil {
				p.f.Close()
				p.kf.Close()
			}
		}
	}()
	outs := make([]*entityOut, len(src.Input.Entities))
	for i, e := range src.Input.Entities {
		o, err := newEntityOut(e, base, src.Name)
		if err != nil {
			return nil, fmt.Errorf("transform %s: %w", src.Name, err)
		}
		parts[e.Name], outs[i] = o, o
	}
	cm := &committer{log: log, src: src, size: size, ordBase: ordBase, outs: outs, rejects: rejects, sourceKeys: sourceKeys,
		seenKeys: map[string]struct{}{}, last: time.Now()}
	cm.prog, _ = rr.(progressReader)
	cm.progress = opts.Progress
	workers := opts.Parallelism
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	if cr, ok := rr.(chunkReader); ok && workers > 1 {
		err = cleanChunks(ctx, cr, workers, src, outs, cm)
	} else {
		err = cleanSequential(ctx, rr, newRecordBuilder(src, outs), cm)
	}
	if err != nil {
		return nil, err
	}
	cm.report()
	if err := rr.Err(); err != nil {
		if isBadInput(err) {
			return parts, &FileError{Source: src.Name, Reason: err.Error() + ": nothing of this file was loaded"}
		}
		return nil, fmt.Errorf("read %s: %w", src.Name, err)
	}
	for _, o := range outs {
		if err := o.close(); err != nil {
			return nil, err
		}
		o.f = nil
	}
	primary := outs[0]
	st := primary.stats
	if st.Read == 0 {
		return nil, &FileError{Source: src.Name, Reason: "the file holds no records"}
	}
	if float64(st.Rejected) > opts.MaxRejectRatio*float64(st.Read) {
		return parts, &FileError{Source: src.Name, Reason: fmt.Sprintf(
			"%d of %d records rejected (%.2f%%), over the bound of %.2f%% (setting max_reject_ratio): nothing of this file was loaded; see the quarantine zone for the reasons, fix the file and land it again",
			st.Rejected, st.Read, 100*float64(st.Rejected)/float64(st.Read), 100*opts.MaxRejectRatio)}
	}
	if cm.prog != nil {
		primary.stats.Bytes = cm.prog.BytesRead()
	} else {
		primary.stats.Bytes = size
	}
	log.Info("read", "file", src.Name, "format", string(src.Input.Format), "records", st.Read, "rejected", st.Rejected)
	return parts, nil
}

// chunkReader is a RecordReader whose lines can be decoded on several
// goroutines: it hands out chunks of whole lines in file order, and a
// Decoder per goroutine turns a chunk's lines into records.
type chunkReader interface {
	RecordReader
	NextChunk() (*bookgraph.Chunk, bool)
	Release(c *bookgraph.Chunk)
	NewDecoder() *bookgraph.Decoder
}

var _ chunkReader = (*bookgraph.Reader)(nil)

// builtBatch is the outcome of building a run of records: for each record
// in order, its rows' clean text (without ordinal or line end), their keys
// and timestamps, and its source keys, or the reason it is rejected.
type builtBatch struct {
	recs []builtRecord
	rows []builtRow
	keys []builtKey
	text []byte // the rows' clean text and the source keys
}

type builtRecord struct {
	line           int64
	reason, column string
	raw            string // a rejected record's text, for the quarantine
	rows, keys     int    // how many of the batch's rows and keys are this record's
}

type builtRow struct {
	out        int // the index of the entity's output
	start, end int // the clean text in the batch's text
	id, ts     int64
	tag        uint64 // keyTag of the row's source key; 0: none
}

type builtKey struct {
	entity, source string
	start, end     int // the key in the batch's text
	id             int64
}

func (b *builtBatch) reset() {
	b.recs, b.rows, b.keys, b.text = b.recs[:0], b.rows[:0], b.keys[:0], b.text[:0]
}

// recordBuilder validates and cleans the rows of records into a
// builtBatch. Each goroutine has its own.
type recordBuilder struct {
	src   Source
	names []string          // the outputs' entity names
	cols  [][]grpipe.Column // as validated (inputColumn)
	tsCol []int             // the index of record_create_timestamp, -1: none
}

func newRecordBuilder(src Source, outs []*entityOut) *recordBuilder {
	b := &recordBuilder{src: src, names: make([]string, len(outs)), cols: make([][]grpipe.Column, len(outs)), tsCol: make([]int, len(outs))}
	for i, o := range outs {
		b.names[i] = o.e.Name
		b.cols[i] = make([]grpipe.Column, len(o.e.Columns))
		b.tsCol[i] = -1
		for j, c := range o.e.Columns {
			b.cols[i][j] = inputColumn(o.e, c)
			if c.Name == grpipe.TimestampColumn {
				b.tsCol[i] = j
			}
		}
	}
	return b
}

// build appends rec, built, to out.
func (b *recordBuilder) build(rec *grpipe.InputRecord, out *builtBatch) error {
	r := builtRecord{line: rec.Line, reason: rec.Reason, column: rec.Column}
	text0, rows0 := len(out.text), len(out.rows)
	if r.reason == "" {
	rowsLoop:
		for _, row := range rec.Rows {
			i := 0
			for i < len(b.names) && b.names[i] != row.Entity.Name {
				i++
			}
			if i == len(b.names) {
				return fmt.Errorf("transform %s: the reader yields %s rows, not declared for its format", b.src.Name, row.Entity.Name)
			}
			br := builtRow{out: i, start: len(out.text)}
			var keyEnd, tsAt, tsEnd int
			for j, col := range b.cols[i] {
				if j > 0 {
					out.text = append(out.text, '\t')
				}
				at := len(out.text)
				var why string
				out.text, why = appendValue(out.text, col, row.Fields[j])
				if why != "" {
					r.reason, r.column = why, col.Name
					break rowsLoop
				}
				switch j {
				case 0:
					keyEnd = len(out.text)
				case b.tsCol[i]:
					tsAt, tsEnd = at, len(out.text)
				}
			}
			br.end = len(out.text)
			if br.end-br.start > MaxRowBytes {
				r.reason, r.column = fmt.Sprintf("row is %d bytes after cleaning, over the limit of %d bytes a row", br.end-br.start, MaxRowBytes), ""
				break
			}
			br.id, br.ts = parseDigits(out.text[br.start:keyEnd]), packTimestamp(out.text[tsAt:tsEnd])
			for _, k := range rec.Keys {
				if k.Entity == row.Entity.Name {
					br.tag = keyTag(k.Key)
				}
			}
			out.rows = append(out.rows, br)
		}
	}
	if r.reason != "" {
		out.text, out.rows = out.text[:text0], out.rows[:rows0]
		r.raw = rawText(rec.Raw)
		out.recs = append(out.recs, r)
		return nil
	}
	r.rows = len(out.rows) - rows0
	for _, k := range rec.Keys {
		at := len(out.text)
		out.text = append(out.text, k.Key...)
		out.keys = append(out.keys, builtKey{entity: k.Entity, source: k.Source, start: at, end: len(out.text), id: k.ID})
	}
	r.keys = len(rec.Keys)
	out.recs = append(out.recs, r)
	return nil
}

// committer takes built records in file order: it counts them, gives them
// their ordinals, and writes their rows (through the predups), source keys
// and rejects.
type committer struct {
	log        *slog.Logger
	src        Source
	size       int64
	ordBase    int64
	outs       []*entityOut
	rejects    *quarantine.Writer
	sourceKeys io.Writer
	seenKeys   map[string]struct{}
	skLine     []byte
	n          int64
	last       time.Time
	logged     int64 // the last fifth of the file logged (progressSteps)
	prog       progressReader
	// progress, when set, is told the bytes and records read (Options.Progress);
	// reported and reportedN are what it was told so far.
	progress            func(bytes, records int64)
	reported, reportedN int64
}

// report tells progress what was read since the last report.
func (c *committer) report() {
	if c.prog == nil || c.progress == nil {
		return
	}
	done := c.prog.BytesRead()
	c.progress(done-c.reported, c.n-c.reportedN)
	c.reported, c.reportedN = done, c.n
}

// commit takes the records of b.
func (c *committer) commit(ctx context.Context, b *builtBatch) error {
	primary := c.outs[0]
	rows, keys := b.rows, b.keys
	for _, r := range b.recs {
		c.n++
		if c.n&0x3fff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			c.report()
			if c.prog != nil && time.Since(c.last) > 10*time.Second {
				// A line at each fifth of the file at most: a task's log keeps
				// only the first maxRepeats lines of a message, and a run reads
				// several files (a terminal shows the live progress line).
				done := c.prog.BytesRead()
				if step := done * progressSteps / max(c.size, 1); step > c.logged {
					c.last, c.logged = time.Now(), step
					c.log.Info("reading", "file", c.src.Name, "bytes", done, "of", c.size, "percent", fmt.Sprintf("%.1f", 100*float64(done)/float64(max(c.size, 1))), "records", c.n)
				}
			}
		}
		primary.stats.Read++
		if r.reason != "" {
			primary.stats.Rejected++
			if err := c.rejects.Write(quarantine.Row{SourceFile: c.src.Name, Line: r.line, Column: r.column, Reason: r.reason, Raw: r.raw}); err != nil {
				return err
			}
			continue
		}
		ord := c.ordBase + primary.stats.Read
		for _, row := range rows[:r.rows] {
			o := c.outs[row.out]
			o.row = append(o.row[:0], b.text[row.start:row.end]...)
			ordAt := len(o.row)
			o.row = append(o.row, '\t')
			o.row = strconv.AppendInt(o.row, ord, 10)
			o.row = append(o.row, '\n')
			if o != primary {
				o.stats.Read++
			}
			o.stats.Valid++
			o.keyed = o.keyed || row.tag != 0
			if err := o.pd.addTagged(o.row, row.id, row.ts, ordAt, row.tag); err != nil {
				return err
			}
		}
		rows = rows[r.rows:]
		for _, k := range keys[:r.keys] {
			key := b.text[k.start:k.end]
			if k.entity != primary.e.Name && k.source == grpipe.SourceUCSD {
				// A UCSD user comes with each of its reviews, always the same
				// row (the id, NULLs, the snapshot time): its key is written
				// once per file (while the set stays small), so that a
				// collision quarantines its first line, and its other rows
				// are superseded like any repeated row.
				if _, dup := c.seenKeys[string(key)]; dup {
					continue
				}
				if len(c.seenKeys) < maxSeenKeys {
					c.seenKeys[string(key)] = struct{}{}
				}
			}
			sk := append(c.skLine[:0], k.entity...)
			sk = append(sk, '\t')
			sk = append(sk, k.source...)
			sk = append(sk, '\t')
			sk = append(sk, key...)
			sk = append(sk, '\t')
			sk = strconv.AppendInt(sk, k.id, 10)
			sk = append(sk, '\t')
			sk = strconv.AppendInt(sk, r.line, 10)
			sk = append(sk, '\t')
			sk = strconv.AppendInt(sk, ord, 10)
			sk = append(sk, '\n')
			c.skLine = sk
			if _, err := c.sourceKeys.Write(sk); err != nil {
				return fmt.Errorf("write source keys: %w", err)
			}
		}
		keys = keys[r.keys:]
	}
	return nil
}

// cleanSequential builds and commits the records of rr one batch at a time.
func cleanSequential(ctx context.Context, rr RecordReader, b *recordBuilder, cm *committer) error {
	var (
		rec   grpipe.InputRecord
		batch builtBatch
	)
	for rr.Next(&rec) {
		if err := b.build(&rec, &batch); err != nil {
			return err
		}
		if len(batch.recs) >= 1024 || len(batch.text) >= 1<<20 {
			if err := cm.commit(ctx, &batch); err != nil {
				return err
			}
			batch.reset()
		}
	}
	return cm.commit(ctx, &batch)
}

// cleanChunks builds the records of cr's chunks on workers goroutines and
// commits them in file order. At most 2*workers+2 chunks are built or
// waiting at once, so memory stays bounded.
func cleanChunks(ctx context.Context, cr chunkReader, workers int, src Source, outs []*entityOut, cm *committer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		c    *bookgraph.Chunk
		out  *builtBatch
		err  error
		done chan struct{}
	}
	inflight := 2*workers + 2
	pool := make(chan *builtBatch, inflight)
	for range inflight {
		pool <- &builtBatch{}
	}
	jobs := make(chan *job)
	order := make(chan *job, inflight)
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		for {
			var out *builtBatch
			select {
			case out = <-pool:
			case <-ctx.Done():
				return
			}
			c, ok := cr.NextChunk()
			if !ok {
				return
			}
			j := &job{c: c, out: out, done: make(chan struct{})}
			select {
			case jobs <- j:
			case <-ctx.Done():
				cr.Release(c)
				return
			}
			order <- j // never blocks: at most inflight jobs exist
		}
	}()
	for range workers {
		go func() {
			defer wg.Done()
			b := newRecordBuilder(src, outs)
			d := cr.NewDecoder()
			var rec grpipe.InputRecord
			for j := range jobs {
				if ctx.Err() == nil {
					for j.err == nil && d.Next(j.c, &rec) {
						j.err = b.build(&rec, j.out)
					}
				}
				cr.Release(j.c)
				close(j.done)
			}
		}()
	}
	var err error
	for j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
		}
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = j.err
		}
		if err == nil {
			err = cm.commit(ctx, j.out)
		}
		if err != nil {
			cancel()
			continue // drain order, so the dispatcher ends
		}
		j.out.reset()
		pool <- j.out
	}
	cancel()
	wg.Wait()
	return err
}

// isCSV reports whether src is a CSV file of one entity.
func (s Source) isCSV() bool { return s.Input.Format == "" || s.Input.Format == grpipe.FormatCSV }

// entities lists the entities src yields rows of, its primary entity first.
func (s Source) entities() []grpipe.Entity {
	if s.isCSV() || len(s.Input.Entities) == 0 {
		return []grpipe.Entity{s.Entity}
	}
	return s.Input.Entities
}

func isBadInput(err error) bool { return errors.Is(err, grpipe.ErrBadInput) }

// cleanFormat runs cleanRecords with its quarantine and source-keys files.
func cleanFormat(ctx context.Context, log *slog.Logger, src Source, ordBase int64, base, rejectsPath, keysPath string, opts Options) (map[string]*entityOut, error) {
	rf, err := os.Create(rejectsPath)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", rejectsPath, err)
	}
	defer rf.Close()
	rw, err := quarantine.NewWriter(rf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rejectsPath, err)
	}
	kf, err := os.Create(keysPath)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", keysPath, err)
	}
	defer kf.Close()
	kw := bufio.NewWriterSize(kf, 1<<20)
	parts, cerr := cleanRecords(ctx, log, src, ordBase, base, rw, kw, opts)
	for _, err := range []error{rw.Flush(), rf.Close(), kw.Flush(), kf.Close()} {
		if err != nil && cerr == nil {
			cerr = fmt.Errorf("transform %s: %w", src.Name, err)
		}
	}
	return parts, cerr
}

// writeCollisions writes the quarantine CSV of colliding rows and returns its path.
func writeCollisions(path string, rows []collision) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w, err := quarantine.NewWriter(f)
	if err != nil {
		return "", err
	}
	for _, c := range rows {
		e, ok := grpipe.EntityByName(c.entity)
		if !ok {
			return "", fmt.Errorf("collisions: unknown entity %q", c.entity)
		}
		if err := w.Write(quarantine.Row{SourceFile: c.file, Line: c.line, Column: e.Key,
			Reason: fmt.Sprintf("%s key %s maps to id %d, already taken by key %s in this batch (a collision of the derived id)", c.source, c.key, c.id, c.winner),
			Raw:    c.key}); err != nil {
			return "", err
		}
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return path, f.Close()
}

// progressSteps is how many "reading" lines a file logs at most.
const progressSteps = 5

// maxSeenKeys bounds the set of secondary keys a file writes once (about
// 100 MB); past it, every further key is written (the dedup in DuckDB still
// keeps one row per key).
const maxSeenKeys = 2 << 20

// keyTag is a 64-bit FNV-1a hash of a source key, never 0.
func keyTag(key []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h | 1
}
