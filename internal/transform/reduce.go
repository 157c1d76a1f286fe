package transform

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
)

// Reduce is the second half of a transform that fans out per file (the
// distributed executor's mapped GoodReadsETLJob): each file was transformed
// on its own (Run with one source), giving a Parquet part with one row per
// id; Reduce keeps the winner of each id across the parts and writes them to
// out as zstd Parquet, returning the number of rows written.
//
// The tie-break is the transform's: the greatest record_create_timestamp
// wins; among equal timestamps, the row read last, which across parts is the
// row of the later part. parts must be given in landing order (the batch's
// manifest order), the order Run reads files in.
func Reduce(ctx context.Context, db *sql.DB, e grpipe.Entity, parts []string, out string) (int64, error) {
	if len(parts) == 0 {
		return 0, fmt.Errorf("reduce %s: no parts", e.Name)
	}
	cols := quoteIdents(e.ColumnNames())
	sel := make([]string, len(parts))
	for i, p := range parts {
		sel[i] = fmt.Sprintf("SELECT %s, %d AS _part FROM read_parquet(%s)", cols, i, duckdb.Quote(p))
	}
	q := fmt.Sprintf(`COPY (
  SELECT %[1]s FROM (%[2]s)
  QUALIFY row_number() OVER (PARTITION BY %[3]s ORDER BY %[4]s DESC, _part DESC) = 1
) TO %[5]s (FORMAT parquet, COMPRESSION zstd)`,
		cols, strings.Join(sel, "\n  UNION ALL "), quoteIdents([]string{e.Key}), quoteIdents([]string{grpipe.TimestampColumn}), duckdb.Quote(out))
	r, err := db.ExecContext(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("reduce %s: %w", e.Name, err)
	}
	return r.RowsAffected()
}

// Union writes the rows of the Parquet files into one (the rejected rows of
// an entity's parts).
func Union(ctx context.Context, db *sql.DB, files []string, out string) error {
	q := fmt.Sprintf(`COPY (SELECT * FROM read_parquet(%s, union_by_name = true)) TO %s (FORMAT parquet, COMPRESSION zstd)`, duckdb.QuoteList(files), duckdb.Quote(out))
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("union %d parts: %w", len(files), err)
	}
	return nil
}
