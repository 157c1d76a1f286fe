package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/objstore"
)

// Land puts local CSV files into the landing zone, atomically (a run never
// sees half a file). Every file is checked before any is landed: an accepted
// name, a readable regular file whose first line holds the entity's key
// column, and no file of the same name already waiting in landing.
func Land(ctx context.Context, zones *objstore.Store, files []string) ([]string, error) {
	return LandInputs(ctx, zones, files, 0)
}

// LandInputs is Land for every input format: the CSV files, the UCSD Book
// Graph dumps by their published names, and library exports, which land
// under a name carrying exportUserID (the member's Goodreads user id; an
// export without one is refused, naming the file).
func LandInputs(ctx context.Context, zones *objstore.Store, files []string, exportUserID int64) ([]string, error) {
	type item struct {
		path, name string
	}
	var items []item
	seen := map[string]string{}
	for _, f := range files {
		name := filepath.Base(f)
		if grpipe.IsLibraryExportName(name) {
			n, err := grpipe.ExportLandingName(name, exportUserID)
			if err != nil {
				return nil, err
			}
			name = n
		}
		in, err := grpipe.InputForFile(name)
		if err != nil {
			return nil, err
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: %s and %s would both land as %s: rename one (e.g. %s)", grpipe.ErrBadInput, other, f, name, batchHint(in))
		}
		seen[name] = f
		if err := sniffInput(f, in); err != nil {
			return nil, err
		}
		key := objstore.Key(grpipe.Landing, name)
		if _, err := zones.Stat(ctx, key); err == nil {
			return nil, fmt.Errorf("%w: %s is already waiting in the landing zone and has not been processed yet: run `grpipe run` first, or land this file under a batch name such as %s", grpipe.ErrBadInput, name, batchHint(in))
		} else if !objstore.IsNotFound(err) {
			return nil, err
		}
		items = append(items, item{f, name})
	}
	var landed []string
	for _, it := range items {
		if _, err := zones.PutFile(ctx, objstore.Key(grpipe.Landing, it.name), it.path); err != nil {
			return landed, err
		}
		landed = append(landed, it.name)
	}
	return landed, nil
}

// sniff checks that path is a readable regular file whose header names e's key column.
func sniff(path string, e grpipe.Entity) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %w", grpipe.ErrBadInput, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", grpipe.ErrBadInput, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", grpipe.ErrBadInput, path)
	}
	line, err := bufio.NewReaderSize(f, 64<<10).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: read %s: %w", grpipe.ErrBadInput, path, err)
	}
	line = strings.TrimPrefix(line, "\ufeff")
	for _, col := range strings.Split(line, ",") {
		if strings.EqualFold(strings.Trim(strings.TrimSpace(col), `"`), e.Key) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s does not look like a %s file: its first line should be a header naming %s (columns: %s)",
		grpipe.ErrBadInput, path, e.FilePrefix, e.Key, strings.Join(e.ColumnNames(), ","))
}

// sniffInput checks that path looks like a file of in's format: a CSV
// header naming the key, a gzip stream or a JSON object for a dump, a
// header naming Book Id for an export.
func sniffInput(path string, in grpipe.Input) error {
	switch in.Format {
	case grpipe.FormatCSV:
		return sniff(path, in.Entity)
	case grpipe.FormatLibraryExport:
		return sniff(path, grpipe.Entity{FilePrefix: "goodreads_library_export", Key: "Book Id", Columns: []grpipe.Column{{Name: "Book Id"}}})
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %w", grpipe.ErrBadInput, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", grpipe.ErrBadInput, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", grpipe.ErrBadInput, path)
	}
	head := make([]byte, 2)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	gz := len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b
	if !gz && !strings.HasPrefix(strings.TrimLeft(string(head), " \t\r\n"), "{") {
		return fmt.Errorf("%w: %s does not look like a UCSD Book Graph dump: it should be gzip (.json.gz) or JSON Lines starting with '{'", grpipe.ErrBadInput, path)
	}
	return nil
}

// batchHint is an example of another accepted name for a file like in.
func batchHint(in grpipe.Input) string {
	switch in.Format {
	case grpipe.FormatCSV:
		return in.Entity.FilePrefix + "-<batch>.csv"
	case grpipe.FormatLibraryExport:
		return "goodreads_library_export-<batch>.csv"
	}
	name := in.Name
	ext := ".json"
	if strings.HasSuffix(name, ".json.gz") {
		ext = ".json.gz"
	}
	return strings.TrimSuffix(name, ext) + "-<batch>" + ext
}
