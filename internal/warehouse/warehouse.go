// Package warehouse is the portable warehouse: staging, the newer-wins
// upsert, the data-quality checks and the analytics tables are written once
// here, as SQL templates (sql/*.sql) that DuckDB, PostgreSQL and Redshift
// accept, over a backend that implements driver.Driver (package
// warehouse/driver), which supplies only its connection, its dialect, its
// bulk-load path and the mapping of its errors to this package's sentinels.
//
// Where things go:
//   - a new backend: a package implementing driver.Driver, and a _test.go in
//     it calling drivertest.RunConformanceTests with a harness that opens
//     the backend on a real, empty database (see internal/duckdb and
//     internal/postgres);
//   - a new statement: sql/<name>.sql, identifiers through ident/idents,
//     values as bound parameters; sql/<name>.<dialect>.sql when one backend
//     needs its own form;
//   - a new expectation every backend must meet: the conformance suite,
//     internal/warehouse/drivertest, with literal expected rows.
package warehouse

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"text/template"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// The warehouse's schemas.
const (
	// StagingSchema holds each batch's rows before the upsert (scratch).
	StagingSchema = "goodreads_staging"
	// WarehouseSchema holds the four entity tables.
	WarehouseSchema = "goodreads_warehouse"
	// QualitySchema holds rejected_rows and loaded_batches.
	QualitySchema = "goodreads_quality"
	// AnalyticsSchema holds the six analytics tables.
	AnalyticsSchema = "goodreads_analytics"
)

// The tables of the quality schema.
var (
	rejectedRows  = driver.Table{Schema: QualitySchema, Name: "rejected_rows"}
	loadedBatches = driver.Table{Schema: QualitySchema, Name: "loaded_batches"}
)

// Warehouse is a portable warehouse over a driver.
type Warehouse struct {
	drv   driver.Driver
	db    *sql.DB
	stmts *driver.Statements
	log   *slog.Logger

	// On a driver.TxLoader, Stage leaves an entity's staging table empty
	// and records its Parquet file here; the upsert copies the rows inside
	// its transaction (straight into an empty target table).
	mu      sync.Mutex
	pending map[string]string // entity name -> staged Parquet file
}

// param writes the placeholder of the nth bound parameter ($1, $2, ...),
// for templates whose parameters come and go with the options of a
// statement (browse.sql).
func param(n int) string { return "$" + strconv.Itoa(n) }

// New returns a warehouse over drv.
func New(drv driver.Driver, log *slog.Logger) (*Warehouse, error) {
	stmts, err := driver.ParseStatements(sqlFiles, "sql/*.sql", drv.Dialect().Name, template.FuncMap{"param": param})
	if err != nil {
		return nil, fmt.Errorf("warehouse: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Warehouse{drv: drv, db: drv.DB(), stmts: stmts, log: log, pending: map[string]string{}}, nil
}

// Dialect returns the backend's dialect.
func (w *Warehouse) Dialect() driver.Dialect { return w.drv.Dialect() }

// DB returns the backend's connection pool.
func (w *Warehouse) DB() *sql.DB { return w.db }

// Close closes the backend.
func (w *Warehouse) Close() error { return w.drv.Close() }

// mapErr passes err through the driver's error mapping.
func (w *Warehouse) mapErr(err error) error {
	if err == nil {
		return nil
	}
	return w.drv.MapError(err)
}

func (w *Warehouse) exec(ctx context.Context, x driver.Execer, name string, data any, args ...any) (int64, error) {
	r, err := w.stmts.Exec(ctx, x, name, data, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, w.mapErr(err))
	}
	return r.RowsAffected()
}

// txInt runs, in tx, a statement that returns one integer.
func (w *Warehouse) txInt(ctx context.Context, tx *sql.Tx, name string, data any, args ...any) (int64, error) {
	q, err := w.stmts.Render(name, data)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := tx.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", name, w.mapErr(err))
	}
	return n, nil
}

// queryInt runs a statement that returns one integer.
func (w *Warehouse) queryInt(ctx context.Context, name string, data any, args ...any) (int64, error) {
	q, err := w.stmts.Render(name, data)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := w.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", name, w.mapErr(err))
	}
	return n, nil
}

func (w *Warehouse) entityDef(schema string, e grpipe.Entity) driver.TableDef {
	d := driver.TableDef{Table: driver.Table{Schema: schema, Name: e.Name}}
	for _, c := range e.Columns {
		d.Columns = append(d.Columns, driver.ColumnDef{Name: c.Name, Type: w.Dialect().TypeName(c.Type)})
	}
	return d
}

// rejectedColumns are the columns of a rejected row (package quarantine's).
func (w *Warehouse) rejectedColumns() []driver.ColumnDef {
	var cols []driver.ColumnDef
	for _, c := range quarantine.Columns() {
		cols = append(cols, driver.ColumnDef{Name: c.Name, Type: w.Dialect().TypeName(c.Type)})
	}
	return cols
}

func (w *Warehouse) qualityDefs() []driver.TableDef {
	t := w.Dialect().Text
	return []driver.TableDef{
		{Table: rejectedRows, Columns: append([]driver.ColumnDef{{Name: "run_id", Type: t}, {Name: "entity", Type: t}}, w.rejectedColumns()...)},
		{Table: loadedBatches, Columns: []driver.ColumnDef{
			{Name: "batch_id", Type: t}, {Name: "entity", Type: t}, {Name: "read_rows", Type: "BIGINT"}, {Name: "rejected", Type: "BIGINT"},
			{Name: "superseded", Type: "BIGINT"}, {Name: "staged", Type: "BIGINT"}, {Name: "inserted", Type: "BIGINT"}, {Name: "updated", Type: "BIGINT"},
			{Name: "stale", Type: "BIGINT"}, {Name: "loaded_at", Type: "TIMESTAMP"}}},
	}
}

// rejectsDef is the staging table of a batch's rejected rows (the columns of
// the transform's rejects Parquet).
func (w *Warehouse) rejectsDef() driver.TableDef {
	return driver.TableDef{Table: driver.Table{Schema: StagingSchema, Name: rejectedRows.Name}, Columns: w.rejectedColumns()}
}

// Setup creates the schemas and the warehouse and quality tables if missing.
func (w *Warehouse) Setup(ctx context.Context) error {
	for _, s := range []string{StagingSchema, WarehouseSchema, QualitySchema} {
		if _, err := w.exec(ctx, w.db, "schema", map[string]string{"Schema": s}); err != nil {
			return fmt.Errorf("warehouse setup: %w", err)
		}
	}
	defs := append(w.qualityDefs(), w.sourceKeysDef())
	for _, e := range grpipe.Entities() {
		defs = append(defs, w.entityDef(WarehouseSchema, e))
	}
	for _, d := range defs {
		if _, err := w.exec(ctx, w.db, "create_table", d); err != nil {
			return fmt.Errorf("warehouse setup: %w", err)
		}
	}
	if _, err := w.exec(ctx, w.db, "create_staging", w.reviewTotalsMarksDef()); err != nil {
		return fmt.Errorf("warehouse setup: %w", err)
	}
	return nil
}

// Loaded returns the ledger recorded when batch's rows of entity were
// committed, and whether they were.
func (w *Warehouse) Loaded(ctx context.Context, batch string, e grpipe.Entity) (grpipe.Ledger, bool, error) {
	q, err := w.stmts.Render("batch_get", map[string]any{"Table": loadedBatches})
	if err != nil {
		return grpipe.Ledger{}, false, err
	}
	var l grpipe.Ledger
	err = w.db.QueryRowContext(ctx, q, batch, e.Name).Scan(&l.Read, &l.Rejected, &l.Superseded, &l.Staged, &l.Inserted, &l.Updated, &l.Stale)
	if errors.Is(err, sql.ErrNoRows) {
		return grpipe.Ledger{}, false, nil
	}
	if err != nil {
		return grpipe.Ledger{}, false, fmt.Errorf("loaded batches: %w", w.mapErr(err))
	}
	return l, true, nil
}

// Stage recreates entity e's staging table and the staging table of
// rejected rows, and bulk-loads them from local Parquet (parquet: the staged
// rows, rejects: the rejected rows; either may be empty). The row counts must
// match the transform's ledger.
//
// On a driver that loads inside a transaction (driver.TxLoader), the
// entity's rows are not copied here: Stage checks their count, and the
// Upsert that follows copies them inside its transaction, straight into the
// target table when it is empty. The file must then outlive the Upsert.
func (w *Warehouse) Stage(ctx context.Context, e grpipe.Entity, parquet, rejects string, ledger grpipe.Ledger) error {
	def := w.entityDef(StagingSchema, e)
	w.setPending(e.Name, "")
	if tl, ok := w.drv.(driver.TxLoader); ok && parquet != "" {
		if err := w.recreate(ctx, def); err != nil {
			return fmt.Errorf("stage %s: %w", def.Table, err)
		}
		n, err := tl.CountParquet(ctx, []string{parquet})
		if err != nil {
			return fmt.Errorf("stage %s: %w", def.Table, w.mapErr(err))
		}
		if n != ledger.Staged {
			return fmt.Errorf("stage %s: %d rows in %s, expected %d", def.Table, n, parquet, ledger.Staged)
		}
		if err := w.stage(ctx, w.rejectsDef(), rejects, ledger.Rejected); err != nil {
			return err
		}
		w.setPending(e.Name, parquet)
		return nil
	}
	if err := w.stage(ctx, def, parquet, ledger.Staged); err != nil {
		return err
	}
	return w.stage(ctx, w.rejectsDef(), rejects, ledger.Rejected)
}

// stage recreates the staging table def and bulk-loads it from the local
// Parquet file (none: the table stays empty), which must hold want rows.
func (w *Warehouse) stage(ctx context.Context, def driver.TableDef, file string, want int64) error {
	var files []string
	if file != "" {
		files = []string{file}
	}
	var n int64
	if ps, ok := w.drv.(driver.ParquetStager); ok {
		var err error
		if n, err = ps.StageParquet(ctx, def, files); err != nil {
			return fmt.Errorf("stage %s: %w", def.Table, w.mapErr(err))
		}
	} else {
		if err := w.recreate(ctx, def); err != nil {
			return fmt.Errorf("stage %s: %w", def.Table, err)
		}
		if len(files) > 0 {
			var err error
			if n, err = w.drv.LoadParquet(ctx, def.Table, columnNames(def), files); err != nil {
				return fmt.Errorf("load %s: %w", def.Table, w.mapErr(err))
			}
		}
	}
	if file != "" && n != want {
		return fmt.Errorf("stage %s: %d rows in %s, expected %d", def.Table, n, file, want)
	}
	return nil
}

func columnNames(d driver.TableDef) []string {
	names := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		names[i] = c.Name
	}
	return names
}

// setPending records the Parquet file whose rows the next upsert of entity
// copies itself ("": none, the staging table holds the staged rows).
func (w *Warehouse) setPending(entity, file string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if file == "" {
		delete(w.pending, entity)
	} else {
		w.pending[entity] = file
	}
}

// takePending returns and forgets the file setPending recorded.
func (w *Warehouse) takePending(entity string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.pending[entity]
	delete(w.pending, entity)
	return f
}

// Upsert applies the staged rows of entity e to the warehouse in one
// transaction, together with the batch's rejected rows and the record that
// the batch was loaded. A stored row is replaced only by a staged version
// whose record_create_timestamp is newer or equal. ledger carries the
// transform's counts; Upsert fills Inserted, Updated and Stale.
func (w *Warehouse) Upsert(ctx context.Context, batch string, e grpipe.Entity, ledger grpipe.Ledger) (grpipe.Ledger, error) {
	return w.upsert(ctx, batch, e, ledger, false)
}

func (w *Warehouse) upsert(ctx context.Context, batch string, e grpipe.Entity, ledger grpipe.Ledger, keys bool) (grpipe.Ledger, error) {
	data := map[string]any{
		"Target":    driver.Table{Schema: WarehouseSchema, Name: e.Name},
		"Staging":   driver.Table{Schema: StagingSchema, Name: e.Name},
		"Key":       e.Key,
		"Timestamp": grpipe.TimestampColumn,
		"Columns":   e.ColumnNames(),
		"Keys":      keys,
		"Fresh":     false,
	}
	rejected := map[string]any{
		"Target":  rejectedRows,
		"Staging": w.rejectsDef().Table,
		"Columns": quarantine.ColumnNames(),
	}
	// With source keys, upsert_delete and upsert_insert skip the staged rows
	// whose derived id collides with a stored key: entity $1.
	var upsertArgs []any
	if keys {
		upsertArgs = []any{e.Name}
	}
	// The rows Stage left for the upsert to copy (a driver.TxLoader), on
	// the connection of the transaction.
	pending := w.takePending(e.Name)
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, w.mapErr(err))
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, w.mapErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var collided int64
	if keys {
		q, err := w.stmts.Render("source_keys_collisions", nil)
		if err != nil {
			return ledger, err
		}
		if err := tx.QueryRowContext(ctx, q, e.Name).Scan(&collided); err != nil {
			return ledger, fmt.Errorf("upsert %s: source keys: %w", e.Name, w.mapErr(err))
		}
		if collided == 0 {
			// No staged key collides with a stored one (in this transaction):
			// the delete and insert need not look for collisions row by row,
			// a correlated probe whose DuckDB plan holds every staged id in
			// memory (15.7 M UCSD reviews ran out of a 512MB limit).
			data["Keys"], upsertArgs = false, nil
		}
	}
	// An empty table (a fresh warehouse, or an entity's first batch) takes
	// every staged row: no delete, no probe of the table.
	fresh, err := w.txInt(ctx, tx, "upsert_target_empty", data)
	if err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	data["Fresh"] = fresh == 1
	var replaced, added int64
	switch {
	case pending != "" && fresh == 1 && collided == 0:
		// Every staged row goes in: copy them straight into the table,
		// and give it statistics in the same transaction. Without them the
		// checks and analytics that follow are planned for a table of a
		// few hundred rows: parallel partial aggregations that sort a
		// million keys in three processes (PostgreSQL: 2.9 s of wall and
		// about three times the CPU of the 2.0 s plain hash aggregation the
		// statistics give, for the reviews' key checks; BENCHMARKS.md,
		// "Round 6: the warehouses"). The sample is small (50 ms for a
		// million reviews).
		if added, err = w.copyPending(ctx, conn, data["Target"].(driver.Table), e, pending, ledger.Staged, true); err != nil {
			return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
		}
	default:
		if pending != "" {
			if _, err := w.copyPending(ctx, conn, data["Staging"].(driver.Table), e, pending, ledger.Staged, true); err != nil {
				return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
			}
		}
		if fresh != 1 {
			if replaced, err = w.exec(ctx, tx, "upsert_delete", data, upsertArgs...); err != nil {
				return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
			}
		}
		if added, err = w.exec(ctx, tx, "upsert_insert", data, upsertArgs...); err != nil {
			return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
		}
	}
	if e.Name == grpipe.Reviews.Name {
		if err := w.forgetReviewTotals(ctx, tx); err != nil {
			return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
		}
	}
	if _, err := w.exec(ctx, tx, "rejected_delete", rejected, batch, e.Name); err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	if _, err := w.exec(ctx, tx, "rejected_insert", rejected, batch, e.Name); err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	if keys {
		if collided > 0 {
			if _, err := w.exec(ctx, tx, "source_keys_reject", rejected, batch, e.Name, e.Key); err != nil {
				return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
			}
			w.log.Warn("derived ids collide with stored keys: rows quarantined", "table", e.Name, "rows", collided)
			ledger.Rejected += collided
			ledger.Staged -= collided
		}
		if _, err := w.exec(ctx, tx, "source_keys_insert", nil, e.Name); err != nil {
			return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
		}
	}
	ledger.Updated = replaced
	ledger.Inserted = added - replaced
	ledger.Stale = ledger.Staged - added
	if _, err := w.exec(ctx, tx, "batch_put", map[string]any{"Table": loadedBatches}, batch, e.Name, ledger.Read, ledger.Rejected, ledger.Superseded,
		ledger.Staged, ledger.Inserted, ledger.Updated, ledger.Stale, time.Now().UTC()); err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return ledger, fmt.Errorf("upsert %s: commit: %w", e.Name, w.mapErr(err))
	}
	w.log.Info("upserted", "table", e.Name, "batch", batch, "staged", ledger.Staged,
		"inserted", ledger.Inserted, "updated", ledger.Updated, "stale", ledger.Stale, "rejected", ledger.Rejected)
	return ledger, nil
}

// copyPending copies the rows of the Parquet file Stage recorded for e into
// table, inside the transaction open on conn (analyze: gather the planner's
// statistics of table there too: a staging table the upsert then joins
// against, or a fresh target the checks and analytics then read); the file
// must still hold want rows.
func (w *Warehouse) copyPending(ctx context.Context, conn *sql.Conn, table driver.Table, e grpipe.Entity, file string, want int64, analyze bool) (int64, error) {
	tl := w.drv.(driver.TxLoader)
	n, err := tl.LoadParquetTx(ctx, conn, table, e.ColumnNames(), []string{file}, analyze)
	if err != nil {
		return 0, fmt.Errorf("load %s: %w", table, w.mapErr(err))
	}
	if n != want {
		return 0, fmt.Errorf("load %s: %d rows in %s, expected %d", table, n, file, want)
	}
	return n, nil
}

// recreate drops and creates a staging table.
func (w *Warehouse) recreate(ctx context.Context, d driver.TableDef) error {
	if _, err := w.exec(ctx, w.db, "drop_table", d); err != nil {
		return err
	}
	_, err := w.exec(ctx, w.db, "create_staging", d)
	return err
}

// Count returns the number of rows of a table ("schema.table"); the error
// wraps ErrNoTable when the table does not exist.
func (w *Warehouse) Count(ctx context.Context, table string) (int64, error) {
	t, err := driver.ParseTable(table)
	if err != nil {
		return 0, err
	}
	n, err := w.queryInt(ctx, "check_row_count", map[string]any{"Table": t})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}
