package capture

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	_ "modernc.org/sqlite" // registers "sqlite"
)

// SQL of the capture state, one statement per purpose.
const (
	sqlCreateCaptured = `CREATE TABLE IF NOT EXISTS captured (
	review_id   INTEGER PRIMARY KEY,
	version     TEXT NOT NULL,
	batch       TEXT NOT NULL,
	captured_at TEXT NOT NULL
)`
	sqlCapturedVersion = `SELECT version FROM captured WHERE review_id = ?`
	sqlMarkCaptured    = `INSERT INTO captured (review_id, version, batch, captured_at) VALUES (?, ?, ?, ?)
ON CONFLICT (review_id) DO UPDATE SET version = excluded.version, batch = excluded.batch, captured_at = excluded.captured_at`
	sqlCountCaptured = `SELECT count(*) FROM captured`
)

// state records, in SQLite, the version of each review whose rows have
// landed: a review is fetched again only in a new version.
type state struct {
	db *sql.DB
}

func openState(ctx context.Context, path string) (*state, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open capture state %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, sqlCreateCaptured); err != nil {
		db.Close()
		return nil, fmt.Errorf("open capture state %s: %w", path, err)
	}
	return &state{db: db}, nil
}

func (s *state) close() error { return s.db.Close() }

// version returns the captured version of a review; ok is false if it was never captured.
func (s *state) version(ctx context.Context, id int64) (v string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, sqlCapturedVersion, id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("capture state: %w", err)
	}
	return v, true, nil
}

// mark records the reviews of a landed batch, in one transaction.
func (s *state) mark(ctx context.Context, batch, at string, versions map[int64]string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, sqlMarkCaptured)
	if err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	defer stmt.Close()
	for id, v := range versions {
		if _, err := stmt.ExecContext(ctx, id, v, batch, at); err != nil {
			return fmt.Errorf("capture state: mark review %d: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	return nil
}

// count returns how many reviews were captured.
func (s *state) count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, sqlCountCaptured).Scan(&n); err != nil {
		return 0, fmt.Errorf("capture state: %w", err)
	}
	return n, nil
}
