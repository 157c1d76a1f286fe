package runstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	grpipe "github.com/grpipe/grpipe"
)

// This file puts the run store on PostgreSQL (metadata: postgres://...),
// for grpipe processes on several machines. The store's SQL is written once,
// in the dialect both databases accept: TEXT timestamps in RFC 3339 UTC,
// INTEGER flags, ON CONFLICT upserts, `?` placeholders. The connection below
// only rewrites the placeholders to PostgreSQL's $1, $2, ... and passes
// booleans as the integers SQLite stores them as, so the migrations and the
// queries are the very same text on both.

// IsPostgres reports whether a metadata setting names a PostgreSQL database
// (a postgres:// or postgresql:// URL) rather than a SQLite file.
func IsPostgres(metadata string) bool {
	return strings.HasPrefix(metadata, "postgres://") || strings.HasPrefix(metadata, "postgresql://")
}

// openPostgresDB opens the PostgreSQL database named by dsn.
func openPostgresDB(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("metadata database: %w", err)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		host, _ := os.Hostname()
		cfg.RuntimeParams["application_name"] = fmt.Sprintf("grpipe %s:%d", host, os.Getpid())
	}
	return sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)}), nil
}

type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("metadata database: unexpected connection type %T", conn)
	}
	return pgConn{sc}, nil
}

// pgConn is a pgx connection that takes the store's portable SQL.
type pgConn struct{ *stdlib.Conn }

func (c pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), portableArgs(args))
}

func (c pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), portableArgs(args))
}

func (c pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

// portableArgs passes booleans as 0 and 1, as the INTEGER flag columns hold them.
func portableArgs(args []driver.NamedValue) []driver.NamedValue {
	for i, a := range args {
		if b, ok := a.Value.(bool); ok {
			args[i].Value = int64(0)
			if b {
				args[i].Value = int64(1)
			}
		}
	}
	return args
}

// rebind rewrites the `?` placeholders of query to $1, $2, ..., leaving
// string literals, quoted identifiers and comments alone.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch c {
		case '\'', '"':
			j := i + 1
			for j < len(query) && query[j] != c {
				j++
			}
			b.WriteString(query[i:min(j+1, len(query))])
			i = j
		case '-':
			if i+1 < len(query) && query[i+1] == '-' {
				j := strings.IndexByte(query[i:], '\n')
				if j < 0 {
					j = len(query) - i
				}
				b.WriteString(query[i : i+j])
				i += j - 1
				continue
			}
			b.WriteByte(c)
		case '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// OpenMetadata opens the run store named by the metadata setting: a
// postgres:// URL, or the path of a SQLite file.
func OpenMetadata(ctx context.Context, metadata string) (*Store, error) {
	if !IsPostgres(metadata) {
		return Open(ctx, metadata)
	}
	db, err := openPostgresDB(metadata)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, postgres: true}
	// Processes starting together migrate one at a time.
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open run store on PostgreSQL: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, MigrationLockKey); err != nil {
		db.Close()
		return nil, fmt.Errorf("open run store on PostgreSQL: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, MigrationLockKey) //nolint:errcheck // the session's end releases it too
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open run store on PostgreSQL: %w", err)
	}
	return s, nil
}

// MigrationLockKey is the advisory lock key under which processes migrate
// the metadata database (the bytes of "grpipe-M").
const MigrationLockKey int64 = 0x67727069_70652d4d

// RunLockKey is the advisory lock key of the run lock on PostgreSQL
// metadata (max_active_runs=1 across machines; the bytes of "grpipe-R").
const RunLockKey int64 = 0x67727069_70652d52

// TryAdvisoryLock takes the session advisory lock key on a connection of
// its own, without waiting, and returns what releases it. PostgreSQL
// releases it too when the holder's session ends (its process dies). The
// error wraps grpipe.ErrBusy, naming the holding process, when another
// session holds it, and errors.ErrUnsupported on SQLite metadata.
func (s *Store) TryAdvisoryLock(ctx context.Context, key int64) (release func() error, err error) {
	if !s.postgres {
		return nil, fmt.Errorf("advisory lock: %w on SQLite metadata", errors.ErrUnsupported)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("advisory lock: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(?)`, key).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("advisory lock: %w", err)
	}
	if !got {
		var holder string
		err := conn.QueryRowContext(ctx, `SELECT coalesce(a.application_name, '') || ' (server pid ' || l.pid || ')' FROM pg_locks l
			LEFT JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.objid = (?::bigint & 4294967295)::oid AND l.classid = (?::bigint >> 32)::oid LIMIT 1`, key, key).Scan(&holder)
		conn.Close()
		if err != nil {
			holder = "another process"
		}
		return nil, fmt.Errorf("%w (%s holds the lock in the metadata database): wait for it to finish, or stop it", grpipe.ErrBusy, holder)
	}
	return func() error {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, key)
		return errors.Join(err, conn.Close())
	}, nil
}
