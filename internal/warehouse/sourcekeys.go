package warehouse

import (
	"context"
	"fmt"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// The source keys of derived ids (a UCSD review's 32-hex review_id, a
// library export's user:book): goodreads_warehouse.source_keys keeps each
// key once with its id, unique on (entity, source, source_key) and on
// (entity, id), so that an id can always be traced to its source, and a
// second key on a stored id (a collision of the derivation) is refused.

// sourceKeysDef is the warehouse table of source keys.
func (w *Warehouse) sourceKeysDef() driver.TableDef {
	t := w.Dialect().Text
	return driver.TableDef{Table: driver.Table{Schema: WarehouseSchema, Name: "source_keys"}, Columns: []driver.ColumnDef{
		{Name: "entity", Type: t}, {Name: "source", Type: t}, {Name: "source_key", Type: t}, {Name: "id", Type: "BIGINT"}}}
}

// sourceKeysStagingDef is the staging table of a batch's source keys (the
// columns of the transform's source keys Parquet).
func (w *Warehouse) sourceKeysStagingDef() driver.TableDef {
	t := w.Dialect().Text
	return driver.TableDef{Table: driver.Table{Schema: StagingSchema, Name: "source_keys"}, Columns: []driver.ColumnDef{
		{Name: "entity", Type: t}, {Name: "source", Type: t}, {Name: "source_key", Type: t}, {Name: "id", Type: "BIGINT"},
		{Name: "source_file", Type: t}, {Name: "line", Type: "BIGINT"}}}
}

// SourceKeysColumns are the columns of a source keys Parquet file, in order.
var SourceKeysColumns = []string{"entity", "source", "source_key", "id", "source_file", "line"}

// StageSourceKeys replaces the staging table of source keys with the rows
// of the local Parquet file keys (one entity's keys of a batch).
func (w *Warehouse) StageSourceKeys(ctx context.Context, keys string) error {
	def := w.sourceKeysStagingDef()
	if ps, ok := w.drv.(driver.ParquetStager); ok {
		if _, err := ps.StageParquet(ctx, def, []string{keys}); err != nil {
			return fmt.Errorf("stage %s: %w", def.Table, w.mapErr(err))
		}
		return nil
	}
	if err := w.recreate(ctx, def); err != nil {
		return err
	}
	if _, err := w.drv.LoadParquet(ctx, def.Table, SourceKeysColumns, []string{keys}); err != nil {
		return fmt.Errorf("load %s: %w", def.Table, w.mapErr(err))
	}
	return nil
}

// UpsertWithKeys is Upsert for an entity whose staged rows have derived ids
// with their keys staged by StageSourceKeys: in the same transaction, the
// staged rows whose id the warehouse holds under another key are not
// applied but recorded as rejected rows (a collision; the ledger moves them
// from staged to rejected), and the new keys are stored.
func (w *Warehouse) UpsertWithKeys(ctx context.Context, batch string, e grpipe.Entity, ledger grpipe.Ledger) (grpipe.Ledger, error) {
	return w.upsert(ctx, batch, e, ledger, true)
}

// FillReviewAuthors gives every stored review without an author_id the
// first author of its book, when the book is stored; it returns how many
// reviews it filled. A UCSD review names only its book: its author arrives
// with the book, in the same batch or any later one.
func (w *Warehouse) FillReviewAuthors(ctx context.Context) (int64, error) {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("fill review authors: %w", w.mapErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	n, err := w.exec(ctx, tx, "reviews_fill_author", nil)
	if err != nil {
		return 0, fmt.Errorf("fill review authors: %w", err)
	}
	if n > 0 {
		if err := w.forgetReviewTotals(ctx, tx); err != nil {
			return 0, fmt.Errorf("fill review authors: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("fill review authors: commit: %w", w.mapErr(err))
	}
	return n, nil
}

// SourceKeyChecks checks that source keys are unique both ways.
func (w *Warehouse) SourceKeyChecks(ctx context.Context) ([]grpipe.CheckResult, error) {
	n, err := w.queryInt(ctx, "check_source_keys_unique", nil)
	if err != nil {
		return nil, err
	}
	return []grpipe.CheckResult{{Name: "source_keys_unique", Table: w.sourceKeysDef().Table.String(), Passed: n == 0,
		Detail: fmt.Sprintf("%d keys stored twice or ids stored under two keys", n)}}, nil
}
