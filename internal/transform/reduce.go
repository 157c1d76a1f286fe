package transform

import (
	"context"
	"database/sql"
	"fmt"

	grpipe "github.com/grpipe/grpipe"
)

// Reduce is the second half of a transform that fans out per file (the
// distributed executor's mapped GoodReadsETLJob): each file was transformed
// on its own (Run with one source), giving a Parquet part with one row per
// id; Reduce keeps the winner of each id across the parts and writes them to
// out as Parquet with codec c, returning the number of rows written.
//
// The tie-break is the transform's: the greatest record_create_timestamp
// wins; among equal timestamps, the row read last, which across parts is the
// row of the later part. parts must be given in landing order (the batch's
// manifest order), the order Run reads files in.
func Reduce(ctx context.Context, db *sql.DB, e grpipe.Entity, parts []string, out string, c grpipe.Compression) (int64, error) {
	if len(parts) == 0 {
		return 0, fmt.Errorf("reduce %s: no parts", e.Name)
	}
	r, err := exec(ctx, db, "reduce", struct {
		Columns        []string
		Parts          []string
		Key, Timestamp string
		Out            string
		Compression    grpipe.Compression
	}{e.ColumnNames(), parts, e.Key, grpipe.TimestampColumn, out, c})
	if err != nil {
		return 0, fmt.Errorf("reduce %s: %w", e.Name, err)
	}
	return r.RowsAffected()
}

// Union writes the rows of the Parquet files into one (the rejected rows of
// an entity's parts).
func Union(ctx context.Context, db *sql.DB, files []string, out string) error {
	if _, err := exec(ctx, db, "union", struct {
		Files []string
		Out   string
	}{files, out}); err != nil {
		return fmt.Errorf("union %d parts: %w", len(files), err)
	}
	return nil
}
