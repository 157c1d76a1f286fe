package transform

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// collision is one row whose derived id another key of the batch took first.
type collision struct {
	entity, source, key, winner, file string
	id, line, ord                     int64
}

// sourceKeyColumns are the columns of a source keys TSV file.
var sourceKeyColumns = []csvColumn{{"entity", "VARCHAR"}, {"source", "VARCHAR"}, {"source_key", "VARCHAR"}, {"id", "BIGINT"}, {"line", "BIGINT"}, {"_ord", "BIGINT"}}

// keyPartitionBytes is the most source-keys text one pass of
// sourceKeysToParquet groups at once. The pass holds every key of its part
// in a DuckDB hash table, about its text's size again: 128 MB keeps a pass
// far under the transform's memory limit, and the UCSD dumps' 2.3 GB of
// keys (15.7 M reviews, their users) take 18 passes of a few seconds each.
const keyPartitionBytes = 128 << 20

// sourceKeysToParquet writes, for each entity with source keys, a Parquet
// file of its keys (one row each: its id, and the file and line where it
// first appears) into res.SourceKeys, and returns the rows whose key
// collides with another key of the same entity and id that appeared first
// (by entity, in the order read). Colliding keys are left out of the
// Parquet. The Parquet is zstd at level 1: 32-hex keys hardly compress, and
// level 1 writes 1 M of them in half the CPU time of the default level,
// into a file no larger.
//
// When the files hold more than partBytes (0: keyPartitionBytes), they are
// first split by a hash of the id into parts of about partBytes, and each
// part is grouped in its own pass: every row of an (entity, id) falls in
// one part, so a key's first appearance and a collision are decided within
// a part exactly as in one pass over all the keys, in bounded memory. The
// split files are removed part by part, and the files themselves once
// split (they are scratch the caller removes otherwise).
func sourceKeysToParquet(ctx context.Context, log *slog.Logger, db *sql.DB, files []string, names []string, workDir string, partBytes int64, res *Result) (map[string][]collision, error) {
	t0 := time.Now()
	conn, err := db.Conn(ctx) // temporary tables live in one connection
	if err != nil {
		return nil, fmt.Errorf("transform source keys: %w", err)
	}
	defer conn.Close()
	defer exec(context.WithoutCancel(ctx), conn, "source_keys_drop", nil) //nolint:errcheck // scratch tables of this connection

	if partBytes <= 0 {
		partBytes = keyPartitionBytes
	}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("transform source keys: %w", err)
		}
		total += fi.Size()
	}
	n := int((total + partBytes - 1) / partBytes)
	if n <= 1 {
		out, written, err := sourceKeysPass(ctx, conn, files, names, func(entity string) string {
			return filepath.Join(workDir, entity+".source_keys.parquet")
		})
		if err != nil {
			return nil, err
		}
		for entity, paths := range written {
			res.SourceKeys[entity] = paths[0]
		}
		log.Info("grouped source keys", "bytes", total, "parts", 1, "seconds", time.Since(t0).Seconds())
		return out, nil
	}

	parts, err := splitSourceKeys(files, filepath.Join(workDir, "source_keys"), n)
	if err != nil {
		return nil, err
	}
	defer removeScratch(parts) //nolint:errcheck // on an error path only: each part is removed once grouped
	out := map[string][]collision{}
	written := map[string][]string{}
	for i, part := range parts {
		o, w, err := sourceKeysPass(ctx, conn, []string{part}, names, func(entity string) string {
			return filepath.Join(workDir, fmt.Sprintf("%s.source_keys.%04d.parquet", entity, i))
		})
		if err != nil {
			return nil, err
		}
		for entity, rows := range o {
			out[entity] = append(out[entity], rows...)
		}
		for entity, paths := range w {
			written[entity] = append(written[entity], paths...)
		}
		if err := removeScratch([]string{part}); err != nil {
			return nil, err
		}
	}
	for _, rows := range out {
		slices.SortStableFunc(rows, func(a, b collision) int { return cmp.Compare(a.ord, b.ord) })
	}
	for _, entity := range slices.Sorted(maps.Keys(written)) {
		path := filepath.Join(workDir, entity+".source_keys.parquet")
		if _, err := exec(ctx, conn, "source_keys_merge", struct {
			Files []string
			Out   string
		}{written[entity], path}); err != nil {
			return nil, fmt.Errorf("transform source keys of %s: %w", entity, err)
		}
		if err := removeScratch(written[entity]); err != nil {
			return nil, err
		}
		res.SourceKeys[entity] = path
	}
	log.Info("grouped source keys", "bytes", total, "parts", n, "seconds", time.Since(t0).Seconds())
	return out, nil
}

// sourceKeysPass groups the keys of files on conn: it writes each entity's
// keys to the Parquet file out(entity) and returns the colliding rows by
// entity (in the order read) and the files written by entity.
func sourceKeysPass(ctx context.Context, conn *sql.Conn, files, names []string, out func(entity string) string) (map[string][]collision, map[string][]string, error) {
	keys := struct {
		tsvFiles
		Names []string
	}{tsvFiles{Files: files, FileColumns: sourceKeyColumns}, names}
	// Each key once, where it first appears; per (entity, id), the first key wins.
	for _, name := range []string{"source_keys_first", "source_keys_taken"} {
		if _, err := exec(ctx, conn, name, keys); err != nil {
			return nil, nil, fmt.Errorf("transform source keys: %w", err)
		}
	}

	// Every row of a losing key (rare: read the keys again only then).
	collided := map[string][]collision{}
	var n int64
	if err := query(ctx, conn, "source_keys_count_taken", nil, func(r *sql.Rows) error { return r.Scan(&n) }); err != nil {
		return nil, nil, fmt.Errorf("transform source keys: %w", err)
	}
	if n > 0 {
		if err := query(ctx, conn, "source_keys_collisions", keys, func(r *sql.Rows) error {
			var c collision
			if err := r.Scan(&c.entity, &c.source, &c.key, &c.winner, &c.file, &c.id, &c.line, &c.ord); err != nil {
				return err
			}
			collided[c.entity] = append(collided[c.entity], c)
			return nil
		}); err != nil {
			return nil, nil, fmt.Errorf("transform source keys: %w", err)
		}
	}
	var entities []string
	if err := query(ctx, conn, "source_keys_entities", nil, func(r *sql.Rows) error {
		var e string
		if err := r.Scan(&e); err != nil {
			return err
		}
		entities = append(entities, e)
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("transform source keys: %w", err)
	}
	written := map[string][]string{}
	for _, entity := range entities {
		path := out(entity)
		if _, err := exec(ctx, conn, "source_keys_write", struct{ Entity, Out string }{entity, path}); err != nil {
			return nil, nil, fmt.Errorf("transform source keys of %s: %w", entity, err)
		}
		written[entity] = append(written[entity], path)
	}
	// Let the pass's tables go before the next pass.
	if _, err := exec(ctx, conn, "source_keys_drop", nil); err != nil {
		return nil, nil, fmt.Errorf("transform source keys: %w", err)
	}
	return collided, written, nil
}

// splitSourceKeys copies the lines of the source keys files into n files
// base.NNNN.tsv by keyPart of their id, removing each file once copied, and
// returns the n files' paths.
func splitSourceKeys(files []string, base string, n int) (paths []string, err error) {
	outs := make([]*bufio.Writer, n)
	fs := make([]*os.File, n)
	paths = make([]string, n)
	defer func() {
		for _, f := range fs {
			if f != nil {
				if cerr := f.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("transform source keys: %w", cerr)
				}
			}
		}
	}()
	for i := range n {
		paths[i] = fmt.Sprintf("%s.%04d.tsv", base, i)
		f, err := os.Create(paths[i])
		if err != nil {
			return nil, fmt.Errorf("transform source keys: %w", err)
		}
		fs[i], outs[i] = f, bufio.NewWriterSize(f, 64<<10)
	}
	for _, file := range files {
		if err := splitSourceKeysFile(file, outs); err != nil {
			return nil, err
		}
		if err := os.Remove(file); err != nil {
			return nil, fmt.Errorf("transform source keys: remove scratch file: %w", err)
		}
	}
	for _, w := range outs {
		if err := w.Flush(); err != nil {
			return nil, fmt.Errorf("transform source keys: %w", err)
		}
	}
	return paths, nil
}

// splitSourceKeysFile copies each line of the source keys file path to
// outs[keyPart(id, len(outs))].
func splitSourceKeysFile(path string, outs []*bufio.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("transform source keys: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var long []byte // a line longer than r's buffer
	for lineNo := int64(1); ; lineNo++ {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("transform source keys: read %s: %w", path, err)
		}
		id, ok := sourceKeyID(line)
		if !ok {
			return fmt.Errorf("transform source keys: %s line %d: no id in the fourth column", path, lineNo)
		}
		if _, werr := outs[keyPart(id, len(outs))].Write(line); werr != nil {
			return fmt.Errorf("transform source keys: %w", werr)
		}
		if err != nil { // io.EOF after a last line without a line end
			return nil
		}
	}
}

// sourceKeyID is the id of a source keys line (its fourth column).
func sourceKeyID(line []byte) (int64, bool) {
	for range 3 {
		i := bytes.IndexByte(line, '\t')
		if i < 0 {
			return 0, false
		}
		line = line[i+1:]
	}
	if i := bytes.IndexByte(line, '\t'); i >= 0 {
		line = line[:i]
	}
	id, err := strconv.ParseInt(string(line), 10, 64)
	return id, err == nil
}

// keyPart is the part of n an id's keys go to: a mix of all its bits
// (splitmix64's finaliser), so that ids close together or sharing their
// low bits spread evenly.
func keyPart(id int64, n int) int {
	x := uint64(id)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return int(x % uint64(n))
}
