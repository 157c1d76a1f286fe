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
	type item struct {
		path, name string
	}
	var items []item
	seen := map[string]string{}
	for _, f := range files {
		name := filepath.Base(f)
		e, err := grpipe.EntityForFile(name)
		if err != nil {
			return nil, err
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: %s and %s would both land as %s: rename one (e.g. %s-<batch>.csv)", grpipe.ErrBadInput, other, f, name, e.FilePrefix)
		}
		seen[name] = f
		if err := sniff(f, e); err != nil {
			return nil, err
		}
		key := objstore.Key(grpipe.Landing, name)
		if _, err := zones.Stat(ctx, key); err == nil {
			return nil, fmt.Errorf("%w: %s is already waiting in the landing zone and has not been processed yet: run `grpipe run` first, or land this file under a batch name such as %s-<batch>.csv", grpipe.ErrBadInput, name, e.FilePrefix)
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
