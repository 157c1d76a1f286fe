// Package transform turns claimed input files into clean, deduplicated
// Parquet, one file per entity, and quarantines every row it cannot use with
// a reason.
//
// It works in two passes. A Go pass validates each input file against the
// entity's explicit schema, cleans text, converts dates to UTC and writes the
// valid rows as tab-separated clean values; rejected rows go to a quarantine
// CSV with file, line, column and reason. A DuckDB pass then keeps the latest
// version of each id and writes Parquet.
//
// The Go pass has two halves with a seam between them:
//   - Reading records of an input format. A CSV file of one entity is read
//     by the byte scanner of csv.go, straight from the mapped file, and is
//     cut into spans validated in parallel (file.go: each span's guessed
//     start is checked against where the span before it stopped, and read
//     again when it was inside a record, so rows, line numbers and rejects
//     are those of one sequential read). Other formats (the UCSD Book Graph
//     dumps, library exports) are read by a RecordReader (formats.go), whose
//     records carry the raw rows of one or several entities.
//   - Validating and cleaning a row into an entity's clean output: a row is
//     a list of raw field values and, per column of the entity, where its
//     value is (rowCleaner for CSV rows; formats.go builds rows in column
//     order). Every value goes through appendValue (clean.go, with
//     internal/text), whatever the format, and every clean row, with its key,
//     packed timestamp and ordinal, goes through a predup to the clean and
//     keys files the dedup reads.
//
// Dedup rule: the row with the greatest record_create_timestamp wins; among
// rows with the same id and timestamp, the one read last wins (files are read
// in the order given, rows in file order). A row's ordinal is its file's
// index (high bits) and its byte offset in the file (CSV) or record number
// (other formats), so the rule holds however the work was split.
//
// A new input format: its Format and landing names in the domain package
// (inputs.go, grpipe.InputForFile; internal/landing checks its header), a
// reader in a package of its own implementing RecordReader (as
// internal/bookgraph and internal/libexport do), and its case in openRecords
// (formats.go). Validation, cleaning, dedup and quarantine then apply to it
// unchanged.
//
// The DuckDB pass's statements are templates in sql/*.sql (statements.go),
// parsed like the warehouse's by duckdb.ParseStatements: identifiers through
// ident, file names through paths and str, nothing pasted in by Sprintf.
package transform

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// Source is one claimed input file, available as a local file.
type Source struct {
	// Entity is the file's (primary) entity.
	Entity grpipe.Entity
	// Input is what the file's name says; its zero Format is a CSV file of Entity.
	Input grpipe.Input
	// Name is the file's name in the working zone, used in messages and quarantine.
	Name string
	// Path is the local file to read.
	Path string
}

// Options configure a transform.
type Options struct {
	// WorkDir receives the intermediate and output files.
	WorkDir string
	// MaxRejectRatio is the share of rejected rows above which a whole file is refused.
	MaxRejectRatio float64
	// Parallelism bounds how many spans of files are validated at once (0: one per core).
	Parallelism int
	// Compression is the codec of the Parquet of staged rows ("": DefaultCompression).
	Compression grpipe.Compression
	// CSVMemoryLimit, when set, is the engine's memory_limit while it
	// deduplicates a batch of CSV files only (the Goodreads format), a
	// DuckDB amount such as 512MB: lower than the engine's own, which a UCSD
	// dump's source keys need. An entity whose dedup runs out of memory
	// under it is deduplicated again under the engine's own limit, which
	// then stays for the rest of the run.
	CSVMemoryLimit string
	// Snapshot is the record_create_timestamp of the books, authors and users
	// of a UCSD dump (setting ucsd_snapshot); zero: bookgraph.DefaultSnapshot.
	Snapshot time.Time
	Log      *slog.Logger
	// Progress, when set, is told the bytes and records read as the files
	// are validated (deltas, from several goroutines at once), for a
	// display; a span read again is counted once.
	Progress func(bytes, records int64)
	// spanBytes, when set, is the size of the spans files are cut into (tests).
	spanBytes int
	// keyPartBytes, when set, is the size of the parts the source keys are
	// grouped in (tests; 0: keyPartitionBytes).
	keyPartBytes int64
	// mergeLimit, when set, bounds the arena of a file's merger (tests; 0:
	// predupLimit).
	mergeLimit int
}

// EntityResult is what the transform made of one entity's files.
type EntityResult struct {
	Entity     grpipe.Entity
	Files      []FileStats // accepted files
	Read       int64
	Rejected   int64
	Superseded int64
	Staged     int64
	// Parquet is the local Parquet file of staged rows; empty when none.
	Parquet string
	// Rejects is the local Parquet file of rejected rows (source_file, line,
	// column_name, reason, raw); empty when none.
	Rejects string
}

// Result is the outcome of a transform.
type Result struct {
	Entities map[string]*EntityResult
	// RejectFiles maps a source file name to its local quarantine CSV (only files with rejects).
	RejectFiles map[string]string
	// FileErrors are the files refused whole; their rows were not staged.
	FileErrors []*FileError
	Bytes      int64
	// SourceKeys maps an entity to the local Parquet file of the source keys
	// of its derived ids (entity, source, source_key, id, source_file, line),
	// one row per key; only entities that have some.
	SourceKeys map[string]string
}

// Run transforms sources with the DuckDB database db.
func Run(ctx context.Context, db *sql.DB, sources []Source, opts Options) (*Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("transform work dir: %w", err)
	}
	par := opts.Parallelism
	if par <= 0 {
		par = runtime.NumCPU()
	}

	type part struct {
		stats FileStats
		clean []string
		keyed bool // rows with derived ids: the clean files may be read again (collisions)
	}
	type fileOut struct {
		parts   map[string]*part // by entity name
		stats   FileStats        // of the file (its primary entity's rows)
		rejects string
		keys    string // the source keys of a non-CSV file
		err     error
	}
	t0 := time.Now()
	outs := make([]fileOut, len(sources))
	pending := map[string]int{}
	for _, src := range sources {
		for _, e := range src.entities() {
			pending[e.Name]++
		}
	}
	done := make(chan int, len(sources))
	arenas := &predupPool{max: par}
	gate := newWorkGate(par, arenas)
	go func() {
		// CSV files are cut into spans; par workers validate spans (and
		// other formats' files whole), the largest file's first, so that its
		// entity is deduplicated while the others are still validated. The
		// ordinals (and so the dedup's "read last") follow the sources'
		// order and the position in the file, not this order.
		files := make([]*csvFile, len(sources))
		sizes := make([]int64, len(sources))
		var total int64
		var order []int
		for i, src := range sources {
			base := filepath.Join(opts.WorkDir, fmt.Sprintf("%04d-%s", i, safeName(src.Name)))
			outs[i].rejects = quarantine.FileName(base)
			if !src.isCSV() {
				if fi, err := os.Stat(src.Path); err == nil {
					sizes[i] = fi.Size()
				}
				order = append(order, i)
				continue
			}
			f, err := openCSV(log, src, base, int64(i)<<40)
			if err != nil {
				outs[i].stats, outs[i].err = FileStats{Source: src.Name, Bytes: f.sizeOr0()}, err
				done <- i
				continue
			}
			f.arenas = arenas
			f.mergeLimit = opts.mergeLimit
			f.progress = opts.Progress
			files[i], sizes[i] = f, f.size
			total += f.size
			order = append(order, i)
		}
		size := opts.spanBytes
		if size <= 0 {
			size = int(min(max(total/int64(4*par), 16<<20), spanBytes))
		}
		left := make([]int, len(sources))
		for _, i := range order {
			left[i] = 1
			if f := files[i]; f != nil {
				f.split(size)
				left[i] = len(f.spans)
			}
		}
		sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
		finishFile := func(i int) {
			o := &outs[i]
			var clean []string
			clean, o.err = finishCSV(ctx, log, files[i], o.err, o.rejects, &o.stats, opts.MaxRejectRatio)
			o.parts = map[string]*part{sources[i].Entity.Name: {stats: o.stats, clean: clean}}
		}
		other := func(i int) {
			src, o := sources[i], &outs[i]
			base := filepath.Join(opts.WorkDir, fmt.Sprintf("%04d-%s", i, safeName(src.Name)))
			o.keys = base + ".source_keys.tsv"
			var eo map[string]*entityOut
			eo, o.err = cleanFormat(ctx, log, src, int64(i)<<40, base, o.rejects, o.keys, opts)
			o.parts = map[string]*part{}
			for name, p := range eo {
				o.parts[name] = &part{stats: p.stats, keyed: p.keyed}
				if p.stats.Valid > 0 {
					o.parts[name].clean = []string{p.clean}
				}
			}
			if p := eo[src.Entity.Name]; p != nil {
				o.stats = p.stats
			}
		}
		type job struct {
			file int
			sp   *span // nil: a whole file of another format
		}
		jobs := make(chan job)
		var mu sync.Mutex
		for range par {
			go func() {
				for j := range jobs {
					if j.sp == nil {
						gate.take()
						other(j.file)
						gate.give()
						done <- j.file
						continue
					}
					gate.take()
					err := files[j.file].read(ctx, j.sp)
					gate.give()
					mu.Lock()
					if err != nil && outs[j.file].err == nil {
						outs[j.file].err = err
					}
					left[j.file]--
					last := left[j.file] == 0
					mu.Unlock()
					if last {
						finishFile(j.file)
						done <- j.file
					}
				}
			}()
		}
		for _, i := range order {
			if files[i] == nil {
				jobs <- job{file: i}
				continue
			}
			for _, sp := range files[i].spans {
				jobs <- job{i, sp}
			}
		}
		close(jobs)
	}()

	// Row order in the Parquet files carries no meaning: let DuckDB write in
	// parallel. A batch of CSV files only is deduplicated under the lower
	// CSVMemoryLimit.
	limit := &memoryLimit{db: db}
	err := func() error {
		if _, err := exec(ctx, db, "parallel_writes", nil); err != nil {
			return err
		}
		if opts.CSVMemoryLimit != "" && !slices.ContainsFunc(sources, func(s Source) bool { return !s.isCSV() }) {
			return limit.lower(ctx, opts.CSVMemoryLimit)
		}
		return nil
	}()
	if err != nil {
		for range sources {
			<-done
		}
		return nil, fmt.Errorf("transform engine: %w", err)
	}
	defer func() {
		if err := limit.restore(context.WithoutCancel(ctx)); err != nil {
			log.Warn("transform engine: memory_limit not restored", "err", err)
		}
	}()

	// Each entity is deduplicated as soon as all its files are validated,
	// while the other files are still being validated.
	type dedupOut struct {
		parquet, rejects string
		files            []string // the clean files
		staged           int64
		err              error
	}
	deduped := map[string]*dedupOut{}
	failed := false
	dedup := func(e grpipe.Entity, exclude []int64, extraRejects ...string) *dedupOut {
		var files, rejects []string
		keyed := false
		rejects = append(rejects, extraRejects...)
		for j, src := range sources {
			if !slices.ContainsFunc(src.entities(), func(x grpipe.Entity) bool { return x.Name == e.Name }) {
				continue // another entity's file, which may still be validated
			}
			o := &outs[j]
			if o.err != nil {
				continue
			}
			if p := o.parts[e.Name]; p != nil {
				files = append(files, p.clean...)
				keyed = keyed || p.keyed
			}
			if src.Entity.Name == e.Name && o.stats.Rejected > 0 {
				rejects = append(rejects, o.rejects)
			}
		}
		d := &dedupOut{files: files}
		if len(files) > 0 {
			d.parquet = filepath.Join(opts.WorkDir, e.Name+".parquet")
			t1 := time.Now()
			d.staged, d.err = dedupToParquet(ctx, db, e, files, d.parquet, exclude, opts.Compression)
			if errors.Is(duckdb.MapError(d.err), duckdb.ErrOutOfMemory) && limit.lowered() {
				log.Warn("deduplication out of memory under the CSV batch's limit: again under the engine's own",
					"table", e.Name, "limit", opts.CSVMemoryLimit, "err", d.err)
				if d.err = limit.restore(ctx); d.err == nil {
					d.staged, d.err = dedupToParquet(ctx, db, e, files, d.parquet, exclude, opts.Compression)
				}
			}
			log.Info("deduplicated", "table", e.Name, "seconds", time.Since(t1).Seconds())
			if d.err != nil {
				d.err = fmt.Errorf("transform %s: %w", e.Name, d.err)
				return d
			}
			if !keyed {
				// No derived ids, so no collision can make the dedup read
				// these again: let them go while other files are validated.
				var scratch []string
				for _, f := range files {
					scratch = append(scratch, f, f+".keys")
				}
				if err := removeScratch(scratch); err != nil {
					d.err = err
					return d
				}
			}
		}
		if len(rejects) > 0 {
			d.rejects = filepath.Join(opts.WorkDir, e.Name+".rejects.parquet")
			if err := rejectsToParquet(ctx, db, rejects, d.rejects); err != nil {
				d.err = fmt.Errorf("transform %s rejects: %w", e.Name, err)
			}
		}
		return d
	}
	for n := range sources {
		i := <-done
		if n == len(sources)-1 {
			// Every file is validated: the predups' buffers (a 64 MiB arena
			// and its index per worker) are garbage, and so would stay in
			// the process's memory beside the last dedups, the upsert and
			// the checks, the Go heap having no reason to collect them.
			arenas.drop()
			debug.FreeOSMemory()
		}
		var fe *FileError
		if err := outs[i].err; err != nil && !errors.As(err, &fe) {
			failed = true
		}
		for _, e := range sources[i].entities() {
			if pending[e.Name]--; pending[e.Name] > 0 || failed {
				continue
			}
			// While files are still validated, the dedup takes a core
			// from the validation (and its predup buffers): with DuckDB
			// and the validation each on their own, their memory does not
			// add up at the batch's peak.
			busy := n < len(sources)-1
			if busy {
				gate.reserve()
			}
			d := dedup(e, nil)
			if busy {
				gate.unreserve()
			}
			deduped[e.Name] = d
			if d.err != nil {
				failed = true
			}
		}
	}
	log.Info("validated and deduplicated", "files", len(sources), "seconds", time.Since(t0).Seconds())

	res := &Result{Entities: map[string]*EntityResult{}, RejectFiles: map[string]string{}, SourceKeys: map[string]string{}}
	var keyFiles []string
	for i, src := range sources {
		o := outs[i]
		res.Bytes += o.stats.Bytes
		if o.stats.Rejected > 0 {
			res.RejectFiles[src.Name] = o.rejects
		}
		var fe *FileError
		if errors.As(o.err, &fe) {
			res.FileErrors = append(res.FileErrors, fe)
			log.Error("file refused", "file", src.Name, "reason", fe.Reason)
			continue
		}
		if o.err != nil {
			return nil, o.err
		}
		if o.keys != "" {
			keyFiles = append(keyFiles, o.keys)
		}
		for _, e := range src.entities() {
			p := o.parts[e.Name]
			if p == nil {
				continue
			}
			er := res.entity(e)
			er.Files = append(er.Files, p.stats)
			er.Read += p.stats.Read
			er.Rejected += p.stats.Rejected
		}
	}
	for _, e := range grpipe.Entities() {
		if d := deduped[e.Name]; d != nil && d.err != nil {
			return nil, d.err
		}
	}

	// Derived ids: keep each key once; a second key on an id taken in this
	// batch is a collision, its rows quarantined.
	if len(keyFiles) > 0 {
		names := make([]string, len(sources))
		for i, src := range sources {
			names[i] = src.Name
		}
		collided, err := sourceKeysToParquet(ctx, log, db, keyFiles, names, opts.WorkDir, opts.keyPartBytes, res)
		if err != nil {
			return nil, err
		}
		for entity, rows := range collided {
			e, ok := grpipe.EntityByName(entity)
			if !ok {
				return nil, fmt.Errorf("transform source keys: unknown entity %q in a keys file", entity)
			}
			extra, err := writeCollisions(filepath.Join(opts.WorkDir, e.Name+".collisions"+quarantine.Suffix), rows)
			if err != nil {
				return nil, err
			}
			var ords []int64
			for _, c := range rows {
				ords = append(ords, c.ord)
			}
			d := dedup(e, ords, extra)
			if d.err != nil {
				return nil, d.err
			}
			deduped[e.Name] = d
			er := res.entity(e)
			er.Rejected += int64(len(rows))
			res.RejectFiles[e.Name+".collisions"] = extra
			log.Warn("derived ids collide: rows quarantined", "table", e.Name, "rows", len(rows))
		}
	}

	for _, e := range grpipe.Entities() {
		er, ok := res.Entities[e.Name]
		if !ok {
			continue
		}
		d := deduped[e.Name]
		if d == nil {
			return nil, fmt.Errorf("transform %s: not deduplicated", e.Name)
		}
		if d.err != nil {
			return nil, d.err
		}
		er.Parquet, er.Rejects = d.parquet, d.rejects
		if d.parquet != "" {
			er.Staged = d.staged
		}
		er.Superseded = er.Read - er.Rejected - er.Staged
		log.Info("transformed", "table", e.Name, "read", er.Read, "rejected", er.Rejected,
			"superseded", er.Superseded, "staged", er.Staged)
	}
	// The clean files are read by the dedup only: let them go now, not when
	// the batch is done, so that the upsert does not wait beside them (the
	// UCSD reviews dump's are 16 GB of text).
	var scratch []string
	for _, o := range outs {
		for _, p := range o.parts {
			for _, f := range p.clean {
				scratch = append(scratch, f, f+".keys")
			}
		}
		if o.keys != "" {
			scratch = append(scratch, o.keys)
		}
	}
	if err := removeScratch(scratch); err != nil {
		return nil, err
	}
	return res, nil
}

// workGate bounds how many workers validate at once: every worker, or one
// fewer while an entity is deduplicated beside them. The dedup (DuckDB's
// scan, grouping and Parquet writing) and the validation each want every
// core, so the reserved core costs the validation no time it would have had;
// what it saves is memory: on the 11.4 GB batch the reviews' dedup ran beside
// the validation of books and users, two workers each holding a 64 MiB
// predup arena and its index, and the two engines' peaks added up.
//
// Workers pass in the order they came (a ticket each): while a dedup held
// a place, the worker that had just finished a span took the free place
// again and again, and a span of the file before waited at the gate behind
// ten spans of the next file, keeping its file (and its merger's winners)
// unfinished beside the dedup.
type workGate struct {
	mu      sync.Mutex
	cond    sync.Cond
	active  int // workers validating
	limit   int // how many may
	par     int // the workers
	pool    *predupPool
	next    uint64 // the ticket the next worker to come gets
	serving uint64 // the ticket of the worker to pass next
}

func newWorkGate(par int, pool *predupPool) *workGate {
	g := &workGate{limit: par, par: par, pool: pool}
	g.cond.L = &g.mu
	return g
}

// take waits until the worker may validate a span (or a file).
func (g *workGate) take() {
	g.mu.Lock()
	defer g.mu.Unlock()
	ticket := g.next
	g.next++
	for g.active >= g.limit || ticket != g.serving {
		g.cond.Wait()
	}
	g.serving++
	g.active++
	g.cond.Broadcast() // the next ticket may pass too
}

// give ends what take began.
func (g *workGate) give() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	g.cond.Broadcast()
}

// reserve takes a worker's place for a dedup until unreserve: the next
// worker to finish its span waits, and the pool keeps one set of buffers
// fewer. With a single worker it does nothing.
func (g *workGate) reserve() {
	if g.par < 2 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.limit = g.par - 1
	g.pool.setMax(g.limit)
}

// unreserve gives the reserved place back.
func (g *workGate) unreserve() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.limit = g.par
	g.pool.setMax(g.par)
	g.cond.Broadcast()
}

// memoryLimit lowers the transform engine's memory_limit for a run and
// restores it.
type memoryLimit struct {
	db  *sql.DB
	own string // the engine's limit before lower, as DuckDB reports it; "" when not lowered
}

// lower sets the engine's memory_limit to to, keeping its own for restore.
func (m *memoryLimit) lower(ctx context.Context, to string) error {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var own string
	if err := query(ctx, conn, "memory_limit", nil, func(r *sql.Rows) error { return r.Scan(&own) }); err != nil {
		return fmt.Errorf("read memory_limit: %w", err)
	}
	if _, err := exec(ctx, conn, "set_memory_limit", to); err != nil {
		return fmt.Errorf("memory_limit %s: %w", to, err)
	}
	m.own = own
	return nil
}

// lowered reports whether the limit is lowered.
func (m *memoryLimit) lowered() bool { return m.own != "" }

// restore sets the engine's own limit back, if lower changed it.
func (m *memoryLimit) restore(ctx context.Context) error {
	if m.own == "" {
		return nil
	}
	if _, err := exec(ctx, m.db, "set_memory_limit", m.own); err != nil {
		return fmt.Errorf("restore memory_limit %s: %w", m.own, err)
	}
	m.own = ""
	return nil
}

// removeScratch removes files the transform no longer needs; one that does
// not exist is no error.
func removeScratch(files []string) error {
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("transform: remove scratch file: %w", err)
		}
	}
	return nil
}

func (r *Result) entity(e grpipe.Entity) *EntityResult {
	er, ok := r.Entities[e.Name]
	if !ok {
		er = &EntityResult{Entity: e}
		r.Entities[e.Name] = er
	}
	return er
}

// finishCSV ends the validation of a CSV file whose spans were all read
// (readErr: the first error reading them): it checks the spans and writes the
// file's quarantine file at rejectsPath, filling st, and returns the clean
// files.
func finishCSV(ctx context.Context, log *slog.Logger, f *csvFile, readErr error, rejectsPath string, st *FileStats, maxRejectRatio float64) ([]string, error) {
	if readErr != nil {
		for _, sp := range f.spans {
			if sp.out != nil {
				sp.out.close()
			}
		}
		f.dropMerge()
		f.unmap()
		return nil, readErr
	}
	rf, err := os.Create(rejectsPath)
	if err != nil {
		f.unmap()
		return nil, fmt.Errorf("create %s: %w", rejectsPath, err)
	}
	defer rf.Close()
	bw := bufio.NewWriterSize(rf, 64<<10)
	rw, err := quarantine.NewWriter(bw)
	if err != nil {
		f.unmap()
		return nil, fmt.Errorf("%s: %w", rejectsPath, err)
	}
	var clean []string
	*st, clean, err = f.finish(ctx, log, rw, maxRejectRatio)
	werr := rw.Flush()
	if werr == nil {
		werr = bw.Flush()
	}
	if cerr := rf.Close(); werr == nil {
		werr = cerr
	}
	if err == nil && werr != nil {
		err = fmt.Errorf("write %s: %w", rejectsPath, werr)
	}
	return clean, err
}

// cleanColumns is the DuckDB column list of a clean file: the entity's columns plus _ord.
func cleanColumns(e grpipe.Entity) []csvColumn {
	cols := make([]csvColumn, 0, len(e.Columns)+1)
	for _, c := range e.Columns {
		cols = append(cols, csvColumn{c.Name, c.Type.SQL()})
	}
	return append(cols, csvColumn{"_ord", "BIGINT"})
}

// csvBufferBytes is the buffer DuckDB's CSV reader reads a file through
// when its longest line is maxLine bytes: twice that (a line must fit in
// one buffer with room to spare). Left to itself, DuckDB sizes its buffers
// at sixteen times the line limit, 144 MiB for the clean files' 9 MiB: the
// reviews' dedup then took 760 MB at its peak instead of 540 MB, and failed
// with an out-of-memory error under a 500MB memory_limit.
func csvBufferBytes(maxLine int) int { return 2 * maxLine }

// rowGroupBytes bounds the rows a Parquet writer holds before it writes a
// row group (DuckDB's default is a row count, 122,880 rows: 50 MB of
// reviews per thread). Fewer bytes held keep the transform within a small
// memory_limit; 32 MB still makes row groups of tens of thousands of rows.
const rowGroupBytes = "32MB"

// dedupToParquet keeps the latest version of each id of the clean files and
// writes them to out with codec c, returning the number of rows written. The winners (the
// greatest timestamp per id, then the greatest ordinal: the row read last)
// are found in the small keys files the validation pass wrote beside the
// clean files, so the clean rows are read once; only the rows that lose to
// them are looked up while the clean rows are written (sql/dedup.sql).
func dedupToParquet(ctx context.Context, db *sql.DB, e grpipe.Entity, files []string, out string, exclude []int64, c grpipe.Compression) (int64, error) {
	keyType := "BIGINT"
	for _, c := range e.Columns {
		if c.Name == e.Key {
			keyType = c.Type.SQL()
		}
	}
	keyFiles := make([]string, len(files))
	for i, f := range files {
		keyFiles[i] = f + ".keys"
	}
	maxLine := MaxRowBytes + (1 << 20)
	r, err := exec(ctx, db, "dedup", struct {
		tsvFiles
		Columns            []string
		KeyFiles           []string
		KeyColumns         []csvColumn
		Exclude            []int64
		Out, RowGroupBytes string
		Compression        grpipe.Compression
	}{
		Compression:   c,
		tsvFiles:      tsvFiles{Files: files, FileColumns: cleanColumns(e), MaxLine: maxLine, Buffer: csvBufferBytes(maxLine)},
		Columns:       e.ColumnNames(),
		KeyFiles:      keyFiles,
		KeyColumns:    []csvColumn{{"k", keyType}, {"t", "BIGINT"}, {"_ord", "BIGINT"}},
		Exclude:       exclude,
		Out:           out,
		RowGroupBytes: rowGroupBytes,
	})
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// rejectsToParquet gathers quarantine CSV files into one Parquet file with
// the same columns. The columns are given by position (the header is
// skipped, whatever it names them).
func rejectsToParquet(ctx context.Context, db *sql.DB, files []string, out string) error {
	var cols []csvColumn
	for _, c := range quarantine.Columns() {
		cols = append(cols, csvColumn{c.Name, c.Type.SQL()})
	}
	maxLine := 2*MaxRowBytes + (1 << 20)
	_, err := exec(ctx, db, "rejects", struct {
		Files              []string
		Columns            []string
		FileColumns        []csvColumn
		MaxLine, Buffer    int
		Out, RowGroupBytes string
	}{files, quarantine.ColumnNames(), cols, maxLine, csvBufferBytes(maxLine), out, rowGroupBytes})
	return err
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}
