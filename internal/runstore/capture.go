package runstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The capture's state (grpipe capture, internal/capture): the version of
// each review whose rows have landed.

// CapturedReview is one review the capture landed, in one version.
type CapturedReview struct {
	ReviewID   int64
	Version    string
	Batch      string
	CapturedAt time.Time
}

// CaptureLockKey is the advisory lock key that keeps a second capture off
// PostgreSQL metadata (the bytes of "grpipe-C").
const CaptureLockKey int64 = 0x67727069_70652d43

// CapturedVersion returns the version in which a review was captured; ok is
// false when it never was.
func (s *Store) CapturedVersion(ctx context.Context, reviewID int64) (version string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT version FROM captured_reviews WHERE review_id = ?`, reviewID).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("capture state: review %d: %w", reviewID, err)
	}
	return version, true, nil
}

// MarkCaptured records, in one transaction, the reviews of a landed batch
// in their versions (review id → version).
func (s *Store) MarkCaptured(ctx context.Context, batch string, at time.Time, versions map[int64]string) error {
	rows := make([]CapturedReview, 0, len(versions))
	for id, v := range versions {
		rows = append(rows, CapturedReview{ReviewID: id, Version: v, Batch: batch, CapturedAt: at})
	}
	return s.putCaptured(ctx, rows, sqlMarkCaptured)
}

// ImportCaptured adds reviews captured elsewhere (a capture state file of
// an older grpipe): a review the store holds already keeps the later of
// the two captures. It returns how many rows it was given.
func (s *Store) ImportCaptured(ctx context.Context, rows []CapturedReview) (int, error) {
	if err := s.putCaptured(ctx, rows, sqlImportCaptured); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// capturedLayout writes captured_at with a fixed width, so that the text
// sorts as the time does (ImportCaptured compares it).
const capturedLayout = "2006-01-02T15:04:05.000000Z"

const (
	sqlMarkCaptured = `INSERT INTO captured_reviews (review_id, version, batch, captured_at) VALUES (?, ?, ?, ?)
ON CONFLICT (review_id) DO UPDATE SET version = excluded.version, batch = excluded.batch, captured_at = excluded.captured_at`
	sqlImportCaptured = `INSERT INTO captured_reviews (review_id, version, batch, captured_at) VALUES (?, ?, ?, ?)
ON CONFLICT (review_id) DO UPDATE SET version = excluded.version, batch = excluded.batch, captured_at = excluded.captured_at
WHERE excluded.captured_at > captured_reviews.captured_at`
)

func (s *Store) putCaptured(ctx context.Context, rows []CapturedReview, q string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.ReviewID, r.Version, r.Batch, r.CapturedAt.UTC().Format(capturedLayout)); err != nil {
			return fmt.Errorf("capture state: review %d: %w", r.ReviewID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	return nil
}

// CapturedCount returns how many reviews were captured.
func (s *Store) CapturedCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM captured_reviews`).Scan(&n); err != nil {
		return 0, fmt.Errorf("capture state: %w", err)
	}
	return n, nil
}
