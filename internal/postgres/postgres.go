// Package postgres provides the PostgreSQL warehouse driver (a
// driver.Driver): the portable SQL of package warehouse runs over
// database/sql (pgx's stdlib), and staging tables are bulk-loaded with COPY,
// streaming rows out of local Parquet files read by an in-memory DuckDB.
// Errors are mapped to the warehouse's sentinels by SQLSTATE, and explained
// (server down, login refused, connection lost) without the password. Its
// conformance harness is in warehouse_test.go.
package postgres

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/redact"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// DefaultWorkMem is the session's work_mem unless the DSN sets one
// (postgres://...?work_mem=256MB).
const DefaultWorkMem = "64MB"

// DefaultJIT is the session's jit setting unless the DSN sets one
// (postgres://...?jit=on). JIT compilation of the analytics' aggregations
// over a batch of a million reviews took longer than it saved (0.4 to 4.8 s
// per statement, BENCHMARKS.md).
const DefaultJIT = "off"

// stagingStatisticsTarget is the statistics target of the ANALYZE after a
// COPY into staging or into a fresh target table: the upsert's, the checks'
// and the analytics' plans need the row count and the keys' distinctness,
// which a 3,000-row sample gives; the server's default (100: 30,000 rows,
// histograms of every text column) cost seconds per table.
const stagingStatisticsTarget = 10

// Options configure a PostgreSQL warehouse.
type Options struct {
	// ReadOnly makes every transaction read-only: writes are refused by the server.
	ReadOnly bool
	// Scan tunes the in-memory DuckDB that reads Parquet files for COPY.
	Scan duckdb.Options
	// ConnectTimeout bounds each connection attempt (default 10 s).
	ConnectTimeout time.Duration
}

// Warehouse is a PostgreSQL (or PostgreSQL-protocol) warehouse.
type Warehouse struct {
	db   *sql.DB
	addr string // host:port, for messages
	user string
	pass string // only to scrub it from messages
	opts Options
}

var (
	_ driver.Driver   = (*Warehouse)(nil)
	_ driver.TxLoader = (*Warehouse)(nil)
)

// Open connects to the PostgreSQL database named by dsn
// (postgres://user:pass@host:port/db?sslmode=...) and checks that it answers.
// Errors never contain the password.
func Open(ctx context.Context, dsn string, opts Options) (*Warehouse, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgconn redacts the password in parse errors; scrub every secret anyway.
		return nil, fmt.Errorf("%w: parse DSN: %s", grpipe.ErrBadInput, redact.Scrub(err.Error(), redact.Secrets(dsn)))
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > opts.ConnectTimeout {
		cfg.ConnectTimeout = opts.ConnectTimeout
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["application_name"] = "grpipe"
	if _, set := cfg.RuntimeParams["work_mem"]; !set {
		// The upsert joins a whole batch against its table: give the hash
		// joins room (PostgreSQL's default of 4MB spills a 1M-row batch to disk).
		cfg.RuntimeParams["work_mem"] = DefaultWorkMem
	}
	if _, set := cfg.RuntimeParams["jit"]; !set {
		cfg.RuntimeParams["jit"] = DefaultJIT
	}
	if opts.ReadOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	w := &Warehouse{
		addr: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
		user: cfg.User,
		pass: cfg.Password,
		opts: opts,
	}
	if strings.HasPrefix(cfg.Host, "/") {
		w.addr = fmt.Sprintf("%s (socket, port %d)", cfg.Host, cfg.Port)
	}
	w.db = stdlib.OpenDB(*cfg)
	// Connections that sat idle may have been cut by a server restart; keep
	// the pool fresh rather than fail the first statement after a long pause.
	w.db.SetConnMaxIdleTime(5 * time.Minute)
	if err := w.db.PingContext(ctx); err != nil {
		w.db.Close()
		return nil, w.explain(err)
	}
	return w, nil
}

// DB returns the connection pool.
func (w *Warehouse) DB() *sql.DB { return w.db }

// Dialect returns PostgreSQL's dialect.
func (w *Warehouse) Dialect() driver.Dialect {
	return driver.Dialect{Name: "postgres", Text: "TEXT"}
}

// Addr returns the server's host:port.
func (w *Warehouse) Addr() string { return w.addr }

// Close closes the connection pool.
func (w *Warehouse) Close() error { return w.db.Close() }

// LoadParquet streams the rows of local Parquet files into table with COPY:
// an in-memory DuckDB reads the files, and its threads encode each chunk of
// rows as they read it (duckdb.EachParquetChunk), so no table is ever held
// in memory. COPY is one statement: on any error (a lost connection included)
// no row of it stays in the table. The table is then analyzed (a staging
// table the upsert joins against).
func (w *Warehouse) LoadParquet(ctx context.Context, table driver.Table, columns []string, files []string) (int64, error) {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return 0, w.explain(err)
	}
	defer conn.Close()
	return w.copyParquet(ctx, conn, table, columns, files, analyzeOwnTx)
}

// LoadParquetTx is LoadParquet on conn, inside the transaction open on it
// (the upsert's): the rows are part of that transaction, and with analyze
// the statistics are gathered in it too.
func (w *Warehouse) LoadParquetTx(ctx context.Context, conn *sql.Conn, table driver.Table, columns []string, files []string, analyze bool) (int64, error) {
	mode := analyzeNone
	if analyze {
		mode = analyzeInTx
	}
	return w.copyParquet(ctx, conn, table, columns, files, mode)
}

// CountParquet returns the number of rows of local Parquet files, from
// their metadata (an in-memory DuckDB reads it).
func (w *Warehouse) CountParquet(ctx context.Context, files []string) (int64, error) {
	scan, err := duckdb.Open(ctx, "", w.opts.Scan)
	if err != nil {
		return 0, fmt.Errorf("parquet reader: %w", err)
	}
	defer scan.Close()
	n, err := duckdb.CountParquet(ctx, scan, files)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", strings.Join(files, ", "), err)
	}
	return n, nil
}

// How copyParquet analyzes the table it loaded.
type analyzeMode int

const (
	analyzeNone  analyzeMode = iota // no statistics (autovacuum's job)
	analyzeOwnTx                    // in a transaction of its own (no transaction is open on the connection)
	analyzeInTx                     // in the transaction open on the connection
)

func (w *Warehouse) copyParquet(ctx context.Context, conn *sql.Conn, table driver.Table, columns []string, files []string, mode analyzeMode) (int64, error) {
	ident := pgx.Identifier{table.Schema, table.Name}
	scan, err := duckdb.Open(ctx, "", w.opts.Scan)
	if err != nil {
		return 0, fmt.Errorf("parquet reader: %w", err)
	}
	defer scan.Close()

	var n int64
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		pc := sc.Conn()
		enc, read, text, err := columnEncoders(ctx, pc.PgConn(), ident, columns)
		switch {
		case err == nil:
			n, err = copyBinary(ctx, pc.PgConn(), ident, columns, func(w io.Writer) error {
				return copyChunks(ctx, scan, read, files, columns, enc, text, w)
			})
		case errors.Is(err, errUnsupportedColumn):
			n, err = w.copyParquetGeneric(ctx, pc, scan, ident, columns, files)
		}
		if err != nil {
			return err
		}
		switch mode {
		case analyzeOwnTx:
			return analyze(ctx, pc, ident)
		case analyzeInTx:
			return analyzeIn(ctx, pc, ident)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, errSource) {
			return 0, fmt.Errorf("read %s: %w", strings.Join(files, ", "), err)
		}
		return 0, fmt.Errorf("copy into %s: %w", table, w.explain(err))
	}
	return n, nil
}

// copyParquetGeneric copies the Parquet files' rows through pgx's generic
// encoder (copyGeneric), read with database/sql.
func (w *Warehouse) copyParquetGeneric(ctx context.Context, pc *pgx.Conn, scan *sql.DB, ident pgx.Identifier, columns []string, files []string) (int64, error) {
	rows, err := duckdb.ScanParquet(ctx, scan, columns, files)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errSource, err)
	}
	defer rows.Close()
	return copyGeneric(ctx, pc, ident, columns, rows)
}

// analyze gives a freshly loaded table statistics, so that the upsert's
// joins are planned for the staged row count (hash joins, not sorts of a
// table assumed empty), from a small sample (stagingStatisticsTarget).
func analyze(ctx context.Context, pc *pgx.Conn, ident pgx.Identifier) error {
	tx, err := pc.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, "SET LOCAL default_statistics_target = "+strconv.Itoa(stagingStatisticsTarget)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "ANALYZE "+ident.Sanitize()); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// analyzeIn is analyze inside the transaction open on pc: the sample size
// is set for the rest of that transaction (it matters to ANALYZE only).
func analyzeIn(ctx context.Context, pc *pgx.Conn, ident pgx.Identifier) error {
	if _, err := pc.Exec(ctx, "SET LOCAL default_statistics_target = "+strconv.Itoa(stagingStatisticsTarget)); err != nil {
		return err
	}
	_, err := pc.Exec(ctx, "ANALYZE "+ident.Sanitize())
	return err
}

// copyGeneric streams rows into table through pgx's CopyFrom, which encodes
// any type pgx knows (the path for column types the binary encoder does not
// write).
func copyGeneric(ctx context.Context, pc *pgx.Conn, ident pgx.Identifier, columns []string, rows *sql.Rows) (int64, error) {
	src := newRowSource(ctx, rows, len(columns))
	defer src.stop()
	n, err := pc.CopyFrom(ctx, ident, columns, src)
	if err != nil {
		src.stop()
		if src.err != nil && !errors.Is(src.err, context.Canceled) {
			return 0, fmt.Errorf("%w: %w", errSource, src.err)
		}
		return 0, err
	}
	return n, nil
}

// rowSource feeds DuckDB rows to pgx's CopyFrom. A goroutine reads the
// rows in batches ahead of the encoder, so that reading Parquet and encoding
// for COPY use two cores; at most readAhead batches are held in memory.
type rowSource struct {
	batches  chan [][]any
	done     chan struct{}
	finished chan struct{}
	cur      [][]any
	i        int
	mu       sync.Mutex
	err      error // the reader's error, set before batches is closed
	once     sync.Once
}

const (
	batchRows = 2048
	readAhead = 4
)

func newRowSource(ctx context.Context, rows *sql.Rows, ncol int) *rowSource {
	s := &rowSource{batches: make(chan [][]any, readAhead), done: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(s.finished)
		defer close(s.batches)
		ptrs := make([]any, ncol)
		for {
			batch := make([][]any, 0, batchRows)
			vals := make([]any, batchRows*ncol)
			for len(batch) < batchRows && rows.Next() {
				row := vals[len(batch)*ncol : (len(batch)+1)*ncol : (len(batch)+1)*ncol]
				for i := range ptrs {
					ptrs[i] = &row[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					s.setErr(err)
					return
				}
				batch = append(batch, row)
			}
			if len(batch) > 0 {
				select {
				case s.batches <- batch:
				case <-s.done:
					return
				case <-ctx.Done():
					s.setErr(ctx.Err())
					return
				}
			}
			if len(batch) < batchRows {
				s.setErr(rows.Err())
				return
			}
		}
	}()
	return s
}

// Next advances to the next row.
func (s *rowSource) Next() bool {
	s.i++
	if s.i < len(s.cur) {
		return true
	}
	b, ok := <-s.batches
	if !ok {
		return false
	}
	s.cur, s.i = b, 0
	return true
}

// Values returns the current row.
func (s *rowSource) Values() ([]any, error) { return s.cur[s.i], nil }

// Err returns the reader's error (the COPY asks for it at any time).
func (s *rowSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *rowSource) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// stop ends the reader (when COPY failed early) and waits for it; after
// stop, err is safe to read.
func (s *rowSource) stop() {
	s.once.Do(func() { close(s.done) })
	<-s.finished
}

// MapError maps a PostgreSQL error to the warehouse's sentinels by its
// SQLSTATE (a write in a read-only session: warehouse.ErrReadOnly; an
// undefined table or schema: warehouse.ErrNoTable), and turns the errors of
// reaching the server into ones that say what to do: the server cannot be
// reached, refused the login, or dropped the connection. The password never
// appears in the result.
func (w *Warehouse) MapError(err error) error { return w.explain(err) }

// SQLSTATE codes the driver maps.
const (
	codeReadOnly        = "25006" // read_only_sql_transaction
	codeUndefinedTable  = "42P01" // undefined_table
	codeUndefinedSchema = "3F000" // invalid_schema_name
)

func (w *Warehouse) explain(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	isPg := errors.As(err, &pgErr)
	var ce *pgconn.ConnectError
	switch {
	case isPg && pgErr.Code == codeReadOnly:
		return fmt.Errorf("%w: %w", warehouse.ErrReadOnly, err)
	case isPg && (pgErr.Code == codeUndefinedTable || pgErr.Code == codeUndefinedSchema):
		return fmt.Errorf("%w: %w", warehouse.ErrNoTable, err)
	case isPg && (pgErr.Code == "28P01" || pgErr.Code == "28000"):
		return &Error{msg: fmt.Sprintf("PostgreSQL at %s refused the login of user %q: %s (check the user and password)",
			w.addr, w.user, pgErr.Message), err: err, pass: w.pass}
	case isPg && pgErr.Code == "3D000":
		return &Error{msg: fmt.Sprintf("PostgreSQL at %s: %s (create it, or name an existing database)", w.addr, pgErr.Message), err: err, pass: w.pass}
	case isPg && (pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"):
		return &Error{msg: fmt.Sprintf("PostgreSQL at %s is shutting down or restarting (%s): run again once it is up", w.addr, pgErr.Message), err: err, pass: w.pass}
	case errors.As(err, &ce):
		return &Error{msg: fmt.Sprintf("cannot connect to PostgreSQL at %s: %s (is the server running and accepting TCP connections there?)",
			w.addr, reason(err)), err: err, pass: w.pass}
	case !isPg && lostConnection(err):
		return &Error{msg: fmt.Sprintf("lost the connection to PostgreSQL at %s: %s (was the server restarted? nothing of the interrupted statement was committed: run again)",
			w.addr, reason(err)), err: err, pass: w.pass}
	}
	return err
}

// reason is the innermost useful text of a connection error.
func reason(err error) string {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if u := errors.Unwrap(ce); u != nil {
			err = u
		}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

func lostConnection(err error) bool {
	var op *net.OpError
	return errors.Is(err, sqldriver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.As(err, &op) ||
		pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed)
}

// Error is a PostgreSQL error explained for the user. It unwraps to the
// driver's error; its text never contains the password.
type Error struct {
	msg  string
	err  error
	pass string
}

func (e *Error) Error() string { return scrub(e.msg, e.pass) }

// Unwrap returns the driver's error.
func (e *Error) Unwrap() error { return e.err }

// scrub hides pass in s.
func scrub(s, pass string) string { return redact.Scrub(s, []string{pass}) }
