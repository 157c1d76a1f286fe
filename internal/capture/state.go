package capture

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/source"

	_ "modernc.org/sqlite" // registers "sqlite", to import a capture.db
)

// State records the version of each review whose rows have landed: a review
// is fetched again only in a new version. The run store
// (*runstore.Store, SQLite in the home or PostgreSQL metadata) implements
// it, so that processes sharing the metadata share the capture state.
type State interface {
	CapturedVersion(ctx context.Context, reviewID int64) (version string, ok bool, err error)
	MarkCaptured(ctx context.Context, batch string, at time.Time, versions map[int64]string) error
	CapturedCount(ctx context.Context) (int64, error)
	ImportCaptured(ctx context.Context, rows []runstore.CapturedReview) (int, error)
}

var _ State = (*runstore.Store)(nil)

// StateFile is the file, in the capture's folder, where grpipe before the
// capture state moved into the run store kept it.
const StateFile = "capture.db"

// importedSuffix is added to a state file's name once it was imported.
const importedSuffix = ".imported"

// importStateFile moves the capture state of an older grpipe, the SQLite
// file path, into st, once: the file is renamed path+".imported" after
// its rows are in st (a review both hold keeps the later capture). It
// returns how many rows it imported; 0 without a file.
func importStateFile(ctx context.Context, st State, path string) (int, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("import capture state %s: %w", path, err)
	}
	rows, err := readStateFile(ctx, db)
	db.Close()
	if err != nil {
		return 0, fmt.Errorf("import capture state %s: %w (move the file away to start the capture without it)", path, err)
	}
	n, err := st.ImportCaptured(ctx, rows)
	if err != nil {
		return 0, fmt.Errorf("import capture state %s: %w", path, err)
	}
	if err := os.Rename(path, path+importedSuffix); err != nil {
		return n, fmt.Errorf("import capture state %s: imported, but: %w", path, err)
	}
	for _, side := range []string{"-wal", "-shm"} {
		_ = os.Remove(path + side) // SQLite's own files, merged when it closed
	}
	return n, nil
}

func readStateFile(ctx context.Context, db *sql.DB) ([]runstore.CapturedReview, error) {
	rs, err := db.QueryContext(ctx, `SELECT review_id, version, batch, captured_at FROM captured`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []runstore.CapturedReview
	for rs.Next() {
		var r runstore.CapturedReview
		var at string
		if err := rs.Scan(&r.ReviewID, &r.Version, &r.Batch, &at); err != nil {
			return nil, err
		}
		if r.CapturedAt, err = time.Parse(source.TimestampLayout, at); err != nil {
			return nil, fmt.Errorf("review %d: captured_at %q: %w", r.ReviewID, at, err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}
