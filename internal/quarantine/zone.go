package quarantine

import (
	"context"
	"fmt"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/objstore"
)

// Key is the object of source's quarantine file in batch's folder of the
// quarantine zone.
func Key(batch, source string) string {
	return objstore.Key(grpipe.Quarantine, batch, FileName(source))
}

// ParquetKey is the object of the Parquet of entity's rejected rows of batch.
func ParquetKey(batch, entity string) string {
	return objstore.Key(grpipe.Quarantine, batch, ParquetName(entity))
}

// EntityRow is a rejected row with the entity its file belongs to.
type EntityRow struct {
	Entity string `json:"entity"`
	Row
}

// RunRows returns up to limit rejected rows of a run after skipping offset,
// of one entity or of all (entity ""). A run's rows are in the quarantine
// files of its batch folder, quarantine/<run_id>/, and of its later tries,
// quarantine/<run_id>_try<N>/; they are read in key order, each file row by
// row, and only the rows returned are held in memory.
func RunRows(ctx context.Context, zones *objstore.Store, runID, entity string, offset, limit int) ([]EntityRow, error) {
	if offset < 0 || limit < 0 {
		return nil, fmt.Errorf("%w: quarantine rows: offset %d, limit %d: both must be >= 0", grpipe.ErrBadInput, offset, limit)
	}
	files, err := runFiles(ctx, zones, runID)
	if err != nil {
		return nil, err
	}
	var out []EntityRow
	for _, f := range files {
		if len(out) == limit {
			break
		}
		if entity != "" && f.entity != entity {
			continue
		}
		rows, skipped, err := pageObject(ctx, zones, f.key, offset, limit-len(out))
		if err != nil {
			return nil, err
		}
		offset -= skipped
		for _, r := range rows {
			out = append(out, EntityRow{Entity: f.entity, Row: r})
		}
	}
	return out, nil
}

// runFile is one quarantine file of a run.
type runFile struct {
	key, entity string
}

// runFiles lists a run's quarantine files in key order: those of its batch
// folder, quarantine/<run_id>/, and of its later tries, quarantine/<run_id>_try<N>/.
func runFiles(ctx context.Context, zones *objstore.Store, runID string) ([]runFile, error) {
	objs, err := zones.List(ctx, objstore.Key(grpipe.Quarantine, runID))
	if err != nil {
		return nil, err
	}
	var out []runFile
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, string(grpipe.Quarantine)+"/")
		batch, name, ok := strings.Cut(rel, "/")
		if !ok || (batch != runID && !strings.HasPrefix(batch, runID+"_try")) {
			continue
		}
		source, ok := SourceOf(name)
		if !ok {
			continue
		}
		e, err := grpipe.EntityForFile(source)
		if err != nil {
			continue
		}
		out = append(out, runFile{key: o.Key, entity: e.Name})
	}
	return out, nil
}

// pageObject streams one quarantine object: it skips up to offset rows and
// returns up to limit rows after them, and how many it skipped.
func pageObject(ctx context.Context, zones *objstore.Store, key string, offset, limit int) ([]Row, int, error) {
	body, err := zones.NewReader(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	defer body.Close()
	r, err := NewReader(body)
	if err != nil {
		return nil, 0, fmt.Errorf("quarantine file %s: %w", key, err)
	}
	skipped, err := r.Skip(offset)
	if err != nil {
		return nil, 0, fmt.Errorf("quarantine file %s: %w", key, err)
	}
	rows, err := r.Page(0, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("quarantine file %s: %w", key, err)
	}
	return rows, skipped, nil
}
