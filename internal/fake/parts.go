package fake

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/split"
)

// maxParts bounds Job.Parts.
const maxParts = 100000

// writeParts writes a batch as parts: the files are generated whole into a
// scratch folder, then each is cut into n parts of about equal size at
// record boundaries (<entity>-<name>-NNNN.csv, as grpipe land --split),
// written to out or landed (zones not nil) in order. The manifest counts
// the whole files.
func writeParts(ctx context.Context, zones *objstore.Store, out, name string, o Options, n int) (*Manifest, error) {
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, fmt.Errorf("fake --parts: %w", err)
		}
	}
	scratch, err := os.MkdirTemp(out, ".grpipe-fake-")
	if err != nil {
		return nil, fmt.Errorf("fake --parts: %w", err)
	}
	defer os.RemoveAll(scratch)
	files, m, err := WriteBatch(ctx, scratch, name, o)
	if err != nil {
		return nil, err
	}
	dst := out
	if zones != nil {
		dst = filepath.Join(scratch, "parts")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, fmt.Errorf("fake --parts: %w", err)
		}
	}
	var all []string
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("fake --parts: %w", err)
		}
		// Each part repeats the header: n parts of the rows, each with it.
		h, err := headerLength(f)
		if err != nil {
			return nil, err
		}
		size := h + max((st.Size()-h+int64(n)-1)/int64(n), 1)
		parts, err := split.File(ctx, f, filepath.Base(f), size, func(part string) (io.WriteCloser, error) {
			return os.Create(filepath.Join(dst, part))
		})
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			all = append(all, filepath.Join(dst, p.Name))
		}
	}
	if zones != nil {
		if _, err := landing.Land(ctx, zones, all, nil); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// headerLength returns the length of the first line of the file at path, line end included.
func headerLength(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return int64(len(line)), nil
}
