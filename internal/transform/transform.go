// Package transform turns claimed CSV files into clean, deduplicated Parquet,
// one file per entity, and quarantines every row it cannot use with a reason.
//
// It works in two passes. A Go pass validates each input file against the
// entity's explicit schema (columns matched by header name), cleans text,
// converts dates to UTC and writes the valid rows as tab-separated clean values;
// rejected rows go to a quarantine CSV with file, line, column and reason. A
// DuckDB pass then keeps the latest version of each id and writes Parquet.
//
// Dedup rule: the row with the greatest record_create_timestamp wins; among
// rows with the same id and timestamp, the one read last wins (files are read
// in the order given, rows in file order).
package transform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// Source is one claimed input file, available as a local file.
type Source struct {
	Entity grpipe.Entity
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
	// Parallelism bounds how many files are validated at once (0: one per core).
	Parallelism int
	Log         *slog.Logger
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

	type fileOut struct {
		stats   FileStats
		clean   string
		rejects string
		err     error
	}
	t0 := time.Now()
	outs := make([]fileOut, len(sources))
	// Largest files first, so that the cores finish together. The ordinals
	// (and so the dedup's "read last") follow the sources' order, not this one.
	order := make([]int, len(sources))
	sizes := make([]int64, len(sources))
	pending := map[string]int{}
	for i, src := range sources {
		order[i] = i
		if fi, err := os.Stat(src.Path); err == nil {
			sizes[i] = fi.Size()
		}
		pending[src.Entity.Name]++
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
	done := make(chan int, len(sources))
	go func() {
		sem := make(chan struct{}, par)
		for _, i := range order {
			src := sources[i]
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; done <- i }()
				o := &outs[i]
				base := filepath.Join(opts.WorkDir, fmt.Sprintf("%04d-%s", i, safeName(src.Name)))
				o.clean = base + ".tsv"
				o.rejects = quarantine.FileName(base)
				o.stats, o.err = cleanOne(ctx, log, src, int64(i)<<40, o.clean, o.rejects, opts.MaxRejectRatio)
			}()
		}
	}()

	// Row order in the Parquet files carries no meaning: let DuckDB write in parallel.
	if _, err := db.ExecContext(ctx, "SET GLOBAL preserve_insertion_order = false"); err != nil {
		for range sources {
			<-done
		}
		return nil, fmt.Errorf("transform engine: %w", err)
	}

	// Each entity is deduplicated as soon as all its files are validated,
	// while the other files are still being validated.
	type dedupOut struct {
		parquet, rejects string
		staged           int64
		err              error
	}
	deduped := map[string]*dedupOut{}
	failed := false
	for range sources {
		i := <-done
		var fe *FileError
		if err := outs[i].err; err != nil && !errors.As(err, &fe) {
			failed = true
		}
		e := sources[i].Entity
		if pending[e.Name]--; pending[e.Name] > 0 || failed {
			continue
		}
		var files, rejects []string
		for j, src := range sources {
			if src.Entity.Name != e.Name {
				continue // other entities' files may still be in validation
			}
			if o := &outs[j]; o.err == nil {
				if o.stats.Valid > 0 {
					files = append(files, o.clean)
				}
				if o.stats.Rejected > 0 {
					rejects = append(rejects, o.rejects)
				}
			}
		}
		d := &dedupOut{}
		deduped[e.Name] = d
		if len(files) > 0 {
			d.parquet = filepath.Join(opts.WorkDir, e.Name+".parquet")
			t1 := time.Now()
			d.staged, d.err = dedupToParquet(ctx, db, e, files, d.parquet)
			log.Info("deduplicated", "table", e.Name, "seconds", time.Since(t1).Seconds())
			if d.err != nil {
				d.err = fmt.Errorf("transform %s: %w", e.Name, d.err)
				failed = true
				continue
			}
		}
		if len(rejects) > 0 {
			d.rejects = filepath.Join(opts.WorkDir, e.Name+".rejects.parquet")
			if err := rejectsToParquet(ctx, db, rejects, d.rejects); err != nil {
				d.err = fmt.Errorf("transform %s rejects: %w", e.Name, err)
				failed = true
			}
		}
	}
	log.Info("validated and deduplicated", "files", len(sources), "seconds", time.Since(t0).Seconds())

	res := &Result{Entities: map[string]*EntityResult{}, RejectFiles: map[string]string{}}
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
		er := res.entity(src.Entity)
		er.Files = append(er.Files, o.stats)
		er.Read += o.stats.Read
		er.Rejected += o.stats.Rejected
	}

	for _, e := range grpipe.Entities() {
		if d := deduped[e.Name]; d != nil && d.err != nil {
			return nil, d.err
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
			er.Superseded = er.Read - er.Rejected - d.staged
		}
		log.Info("transformed", "table", e.Name, "read", er.Read, "rejected", er.Rejected,
			"superseded", er.Superseded, "staged", er.Staged)
	}
	return res, nil
}

func (r *Result) entity(e grpipe.Entity) *EntityResult {
	er, ok := r.Entities[e.Name]
	if !ok {
		er = &EntityResult{Entity: e}
		r.Entities[e.Name] = er
	}
	return er
}

func cleanOne(ctx context.Context, log *slog.Logger, src Source, ordBase int64, cleanPath, rejectsPath string, maxReject float64) (FileStats, error) {
	// The clean rows go to cleanPath, their keys to cleanPath + ".keys".
	rf, err := os.Create(rejectsPath)
	if err != nil {
		return FileStats{Source: src.Name}, fmt.Errorf("create %s: %w", rejectsPath, err)
	}
	defer rf.Close()
	rw, err := quarantine.NewWriter(rf)
	if err != nil {
		return FileStats{Source: src.Name}, fmt.Errorf("%s: %w", rejectsPath, err)
	}
	st, cerr := cleanFile(ctx, log, src.Entity, src.Path, src.Name, ordBase, cleanPath, cleanPath+".keys", rw, maxReject)
	if err := rw.Flush(); err != nil && cerr == nil {
		cerr = fmt.Errorf("%s: %w", rejectsPath, err)
	}
	if err := rf.Close(); err != nil && cerr == nil {
		cerr = fmt.Errorf("write %s: %w", rejectsPath, err)
	}
	return st, cerr
}

// cleanColumns is the DuckDB column list of a clean file: the entity's columns plus _ord.
func cleanColumns(e grpipe.Entity) string {
	var b strings.Builder
	b.WriteString("{")
	for _, c := range e.Columns {
		fmt.Fprintf(&b, "%s: '%s', ", duckdb.Quote(c.Name), c.Type.SQL())
	}
	b.WriteString("'_ord': 'BIGINT'}")
	return b.String()
}

func quoteIdents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + n + `"`
	}
	return strings.Join(q, ", ")
}

// dedupToParquet keeps the latest version of each id of the clean files and
// writes them to out, returning the number of rows written. The winners (the
// greatest timestamp per id, then the greatest ordinal: the row read last)
// are found in the small keys files the validation pass wrote beside the
// clean files, so the clean rows are read once.
func dedupToParquet(ctx context.Context, db *sql.DB, e grpipe.Entity, files []string, out string) (int64, error) {
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
	opts := fmt.Sprintf("delim='\t', quote='', escape='', header=false, auto_detect=false, nullstr='', max_line_size=%d", MaxRowBytes+(1<<20))
	src := fmt.Sprintf("read_csv(%s, %s, columns=%s)", duckdb.QuoteList(files), opts, cleanColumns(e))
	keys := fmt.Sprintf("read_csv(%s, %s, columns={'k': '%s', 't': 'TIMESTAMP', '_ord': 'BIGINT'})", duckdb.QuoteList(keyFiles), opts, keyType)
	q := fmt.Sprintf(`COPY (
  SELECT %[2]s FROM %[1]s
  WHERE _ord IN (SELECT arg_max(_ord, {'t': t, 'o': _ord}) FROM %[3]s GROUP BY k)
) TO %[4]s (FORMAT parquet, COMPRESSION zstd)`,
		src, quoteIdents(e.ColumnNames()), keys, duckdb.Quote(out))
	r, err := db.ExecContext(ctx, q)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// rejectsToParquet gathers quarantine CSV files into one Parquet file with
// the same columns. The columns are given by position (the header is
// skipped, whatever it names them).
func rejectsToParquet(ctx context.Context, db *sql.DB, files []string, out string) error {
	var cols strings.Builder
	for i, c := range quarantine.Columns() {
		if i > 0 {
			cols.WriteString(", ")
		}
		fmt.Fprintf(&cols, "%s: '%s'", duckdb.Quote(c.Name), c.Type.SQL())
	}
	q := fmt.Sprintf(`COPY (
  SELECT %s
  FROM read_csv(%s, header=true, auto_detect=false, delim=',', quote='"', escape='"', strict_mode=false, max_line_size=%d,
    columns={%s})
) TO %s (FORMAT parquet, COMPRESSION zstd)`, quoteIdents(quarantine.ColumnNames()), duckdb.QuoteList(files), 2*MaxRowBytes+(1<<20), cols.String(), duckdb.Quote(out))
	_, err := db.ExecContext(ctx, q)
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
