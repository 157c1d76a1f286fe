package capture

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/source"
)

// spool is the four local CSV files that hold captured rows until a flush
// lands them: header first, the seed's column order, RFC 4180 quoting.
type spool struct {
	dir   string
	files map[string]*spoolFile // by entity name
	rows  int                   // reviews spooled since the last reset
}

type spoolFile struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	w    *csv.Writer
}

// openSpool opens the spool in dir. A spool left by a process that stopped
// before flushing is discarded (its reviews were never marked captured, so
// they are fetched again); the count of discarded rows is returned.
func openSpool(dir string) (*spool, int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("spool %s: %w", dir, err)
	}
	left := 0
	if f, err := os.Open(filepath.Join(dir, grpipe.Reviews.FilePrefix+".csv")); err == nil {
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		for {
			if _, err := r.Read(); err != nil {
				break // io.EOF, or the half-written row a crash left
			}
			left++
		}
		f.Close()
		left = max(0, left-1) // the header
	}
	s := &spool{dir: dir}
	if err := s.reset(); err != nil {
		return nil, 0, err
	}
	return s, left, nil
}

// reset truncates the four files and writes their headers.
func (s *spool) reset() error {
	s.closeFiles()
	s.files = map[string]*spoolFile{}
	s.rows = 0
	for _, e := range grpipe.Entities() {
		p := filepath.Join(s.dir, e.FilePrefix+".csv")
		f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		buf := bufio.NewWriterSize(f, 64<<10)
		sf := &spoolFile{path: p, f: f, buf: buf, w: csv.NewWriter(buf)}
		s.files[e.Name] = sf
		if err := sf.w.Write(e.ColumnNames()); err != nil {
			return fmt.Errorf("spool %s: %w", p, err)
		}
	}
	return nil
}

// add appends one captured review's four rows.
func (s *spool) add(rec *source.Record) error {
	for _, e := range grpipe.Entities() {
		sf := s.files[e.Name]
		if err := sf.w.Write(rec.Rows(e)); err != nil {
			return fmt.Errorf("spool %s: %w", sf.path, err)
		}
	}
	s.rows++
	return nil
}

// sync writes everything buffered to disk and returns the four files' paths by entity name.
func (s *spool) sync() (map[string]string, error) {
	paths := map[string]string{}
	for name, sf := range s.files {
		sf.w.Flush()
		if err := sf.w.Error(); err != nil {
			return nil, fmt.Errorf("spool %s: %w", sf.path, err)
		}
		if err := sf.buf.Flush(); err != nil {
			return nil, fmt.Errorf("spool %s: %w", sf.path, err)
		}
		if err := sf.f.Sync(); err != nil {
			return nil, fmt.Errorf("spool %s: %w", sf.path, err)
		}
		paths[name] = sf.path
	}
	return paths, nil
}

func (s *spool) closeFiles() {
	for _, sf := range s.files {
		sf.f.Close()
	}
	s.files = nil
}

// close closes the files without flushing: unflushed rows stay behind for
// the next openSpool to discard.
func (s *spool) close() {
	for _, sf := range s.files {
		sf.w.Flush()
		_ = sf.buf.Flush()
	}
	s.closeFiles()
}
