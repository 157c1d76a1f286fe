package transform

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// FileStats counts what validation did with one input file.
type FileStats struct {
	Source   string // the file's name in the working zone
	Bytes    int64
	Read     int64 // data records (blank lines are not records)
	Rejected int64
	Valid    int64
}

// FileError is a whole input file refused: a missing required column, too many
// rejected rows, an empty file. The file stays in the working zone.
type FileError struct {
	Source string
	Reason string
}

func (e *FileError) Error() string { return fmt.Sprintf("file %s: %s", e.Source, e.Reason) }

// Unwrap makes a FileError an ErrBadInput.
func (e *FileError) Unwrap() error { return grpipe.ErrBadInput }

// MaxRowBytes bounds one clean row: a longer one is quarantined (DuckDB
// reads the clean rows with a line limit just above it).
const MaxRowBytes = 8 << 20

// rawText is a rejected row's text for the quarantine: valid UTF-8, and cut
// after MaxRowBytes with a note saying how long it was.
func rawText(raw []byte) string {
	if len(raw) > MaxRowBytes {
		return string(bytes.ToValidUTF8(raw[:MaxRowBytes], []byte("\uFFFD"))) + fmt.Sprintf("…[cut: the row is %d bytes]", len(raw))
	}
	return string(bytes.ToValidUTF8(raw, []byte("\uFFFD")))
}

// cleanFile validates the CSV file at path, the working-zone object source of
// entity e, and writes its valid rows to outPath as tab-separated clean values
// in the entity's column order plus a final ordinal column (ordBase + record
// index), and its rejected rows to rejects.
// keysPath receives, for each valid row, its key, its timestamp and its
// ordinal (tab-separated): the small input of the dedup's winner search.
func cleanFile(ctx context.Context, log *slog.Logger, e grpipe.Entity, path, source string, ordBase int64, outPath, keysPath string, rejects *quarantine.Writer, maxRejectRatio float64) (FileStats, error) {
	st := FileStats{Source: source}
	data, unmap, err := mapFile(path)
	if err != nil {
		return st, fmt.Errorf("read %s: %w", source, err)
	}
	defer unmap()
	st.Bytes = int64(len(data))

	sc := newScanner(data)
	var hdr record
	if !sc.next(&hdr) {
		return st, &FileError{Source: source, Reason: "the file is empty: a header row with the column names is required"}
	}
	if hdr.err != "" {
		return st, &FileError{Source: source, Reason: "the header row cannot be parsed: " + hdr.err}
	}
	mapping, err := mapHeader(log, e, source, hdr.fields)
	if err != nil {
		return st, err
	}

	out, err := os.Create(outPath)
	if err != nil {
		return st, fmt.Errorf("create %s: %w", outPath, err)
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	kout, err := os.Create(keysPath)
	if err != nil {
		return st, fmt.Errorf("create %s: %w", keysPath, err)
	}
	defer kout.Close()
	kw := bufio.NewWriterSize(kout, 1<<20)
	keyCol, tsCol := -1, -1
	for i, c := range e.Columns {
		switch c.Name {
		case e.Key:
			keyCol = i
		case grpipe.TimestampColumn:
			tsCol = i
		}
	}
	var keyAt, keyEnd, tsAt, tsEnd int
	var keys []byte
	// emit writes a clean row and its keys line; r's offsets are relative to
	// r.at, where the key starts.
	emit := func(row []byte, r predupRow) error {
		if _, err := w.Write(row); err != nil {
			return fmt.Errorf("write %s: %w", outPath, err)
		}
		k := row[r.at:]
		keys = append(keys[:0], k[:r.keyEnd]...)
		keys = append(keys, '\t')
		keys = append(keys, k[r.tsAt:r.tsEnd]...)
		keys = append(keys, k[r.ordAt:]...)
		if _, err := kw.Write(keys); err != nil {
			return fmt.Errorf("write %s: %w", keysPath, err)
		}
		return nil
	}
	var pd *predup
	if keyCol == 0 && tsCol >= 0 && e.Columns[0].Type == grpipe.BigInt {
		pd = newPredup(func(row []byte, r predupRow) error {
			r.at = 0
			return emit(row, r)
		})
	}

	var rec record
	var row []byte
	width := len(hdr.fields)
	released := 0
	for sc.next(&rec) {
		if st.Read&0xffff == 0 {
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			released = release(data, rec.raw, released)
		}
		st.Read++
		reason, column := "", ""
		if rec.err != "" {
			reason = rec.err
		} else if len(rec.fields) != width {
			reason = fmt.Sprintf("expected %d fields as in the header, found %d", width, len(rec.fields))
		} else {
			row = row[:0]
			for i, col := range e.Columns {
				if i > 0 {
					row = append(row, '\t')
				}
				var in []byte
				if src := mapping[i]; src >= 0 {
					in = rec.fields[src]
				}
				var why string
				at := len(row)
				row, why = appendValue(row, col, in)
				if why != "" {
					reason, column = why, col.Name
					break
				}
				switch i {
				case keyCol:
					keyAt, keyEnd = at, len(row)
				case tsCol:
					tsAt, tsEnd = at, len(row)
				}
			}
		}
		if reason == "" && len(row) > MaxRowBytes {
			reason = fmt.Sprintf("row is %d bytes after cleaning, over the limit of %d bytes a row", len(row), MaxRowBytes)
		}
		if reason != "" {
			st.Rejected++
			if err := rejects.Write(quarantine.Row{SourceFile: source, Line: rec.line, Column: column, Reason: reason, Raw: rawText(rec.raw)}); err != nil {
				return st, err
			}
			continue
		}
		st.Valid++
		ordAt := len(row)
		row = append(row, '\t')
		row = strconv.AppendInt(row, ordBase+st.Read, 10)
		row = append(row, '\n')
		var err error
		if pd != nil && keyAt == 0 {
			err = pd.add(row, keyEnd, tsAt, tsEnd, ordAt)
		} else {
			err = emit(row, predupRow{at: keyAt, n: len(row), keyEnd: int32(keyEnd - keyAt), tsAt: int32(tsAt - keyAt), tsEnd: int32(tsEnd - keyAt), ordAt: int32(ordAt - keyAt)})
		}
		if err != nil {
			return st, err
		}
	}
	if pd != nil {
		if err := pd.flush(); err != nil {
			return st, err
		}
	}
	if err := w.Flush(); err != nil {
		return st, fmt.Errorf("write %s: %w", outPath, err)
	}
	if err := out.Close(); err != nil {
		return st, fmt.Errorf("write %s: %w", outPath, err)
	}
	if err := kw.Flush(); err != nil {
		return st, fmt.Errorf("write %s: %w", keysPath, err)
	}
	if err := kout.Close(); err != nil {
		return st, fmt.Errorf("write %s: %w", keysPath, err)
	}
	if st.Read > 0 && float64(st.Rejected) > maxRejectRatio*float64(st.Read) {
		return st, &FileError{Source: source, Reason: fmt.Sprintf(
			"%d of %d rows rejected (%.2f%%), over the bound of %.2f%% (setting max_reject_ratio): nothing of this file was loaded; see the quarantine zone for the reasons, fix the file and land it again",
			st.Rejected, st.Read, 100*float64(st.Rejected)/float64(st.Read), 100*maxRejectRatio)}
	}
	return st, nil
}

// mapHeader matches header names to the entity's columns: mapping[i] is the
// index in the file of e.Columns[i], or -1 when the file lacks it.
func mapHeader(log *slog.Logger, e grpipe.Entity, source string, header [][]byte) ([]int, error) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(string(h)))
		if _, dup := pos[name]; dup {
			return nil, &FileError{Source: source, Reason: fmt.Sprintf("column %q appears twice in the header", name)}
		}
		pos[name] = i
	}
	mapping := make([]int, len(e.Columns))
	var missing []string
	for i, c := range e.Columns {
		j, ok := pos[c.Name]
		if !ok {
			mapping[i] = -1
			if c.Required {
				missing = append(missing, c.Name)
			} else {
				log.Warn("column missing from file: loaded as NULL", "file", source, "column", c.Name)
			}
			continue
		}
		mapping[i] = j
		delete(pos, c.Name)
	}
	if len(missing) > 0 {
		return nil, &FileError{Source: source, Reason: fmt.Sprintf(
			"required column %s missing from the header (a %s file needs %s)",
			strings.Join(missing, ", "), e.FilePrefix, strings.Join(e.ColumnNames(), ","))}
	}
	for name := range pos {
		log.Warn("unknown column ignored", "file", source, "column", name)
	}
	return mapping, nil
}

// releaseChunk is how much read input is let go of at a time.
const releaseChunk = 64 << 20

// release drops the pages of data before the record cur from the process's
// resident memory (they stay in the page cache), so that validating a big
// file does not grow the process by the file's size. released is the offset
// already dropped; release returns the new one.
func release(data, cur []byte, released int) int {
	if len(cur) == 0 || len(data) == 0 {
		return released
	}
	at := int(uintptr(unsafe.Pointer(unsafe.SliceData(cur))) - uintptr(unsafe.Pointer(unsafe.SliceData(data))))
	if at < 0 || at > len(data) {
		return released
	}
	upto := at &^ (releaseChunk - 1)
	if upto-released < releaseChunk {
		return released
	}
	_ = syscall.Madvise(data[released:upto], syscall.MADV_DONTNEED)
	return upto
}

// mapFile maps a file into memory read-only.
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap: %w", err)
	}
	_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL)
	return data, func() { _ = syscall.Munmap(data) }, nil
}
