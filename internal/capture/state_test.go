package capture

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/source"
)

// TestCaptureImportsTheStateFile: a home whose capture state is the file of
// an older grpipe (<home>/capture/capture.db): the first capture imports it
// into the run store, renames it capture.db.imported, and fetches none of
// the reviews it names again; a second capture finds no file to import.
func TestCaptureImportsTheStateFile(t *testing.T) {
	a := newAPI(t, &source.ReplayOptions{Recent: 20, Step: 5})
	old := newEnv(t)
	c := old.open(a.client(t, key), nil)
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if a.showCalls() != 20 {
		t.Fatalf("first capture: %d show calls, want 20", a.showCalls())
	}

	// The same state as the file an older grpipe wrote.
	e := newEnv(t)
	file := filepath.Join(e.dir, "capture", StateFile)
	writeOldStateFile(t, file, old.store)

	c = e.open(a.client(t, key), nil)
	if n, err := e.store.CapturedCount(context.Background()); err != nil || n != 20 {
		t.Fatalf("after the import the run store holds %d reviews, %v; want 20", n, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state file after the import: %v, want it renamed", err)
	}
	if _, err := os.Stat(file + ".imported"); err != nil {
		t.Errorf("the imported state file: %v", err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if a.showCalls() != 25 {
		t.Errorf("after the import: %d show calls in all, want 25 (only the 5 new ones)", a.showCalls())
	}
	// Once only: the next capture has nothing to import and keeps the state.
	c = e.open(a.client(t, key), nil)
	if n, err := c.Captured(context.Background()); err != nil || n != 25 {
		t.Errorf("the next capture sees %d reviews captured, %v; want 25", n, err)
	}
}

// writeOldStateFile writes the reviews st holds as the capture.db of an
// older grpipe (its schema and its time format).
func writeOldStateFile(t *testing.T, path string, st *runstore.Store) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE captured (review_id INTEGER PRIMARY KEY, version TEXT NOT NULL, batch TEXT NOT NULL, captured_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	rows, err := st.DB().Query(`SELECT review_id, version, batch FROM captured_reviews`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var version, batch string
		if err := rows.Scan(&id, &version, &batch); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO captured VALUES (?, ?, ?, ?)`, id, version, batch, "2026-11-27 03:00:00.000000"); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestCaptureSharesPostgresState: two homes (two machines) whose run store
// is one PostgreSQL database share the capture state: what one landed the
// other does not fetch again; and while one capture holds the metadata's
// capture lock, a second is refused with ErrBusy.
func TestCaptureSharesPostgresState(t *testing.T) {
	dsn := pgtest.Database(t)
	machine := func() *env {
		e := newEnv(t)
		st, err := runstore.OpenMetadata(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		e.store = st
		return e
	}
	lock := func(st *runstore.Store) func(*Options) {
		return func(o *Options) {
			o.Lock = func(ctx context.Context) (func() error, error) {
				return st.TryAdvisoryLock(ctx, runstore.CaptureLockKey)
			}
		}
	}
	a := newAPI(t, &source.ReplayOptions{Recent: 20, Step: 5})
	m1, m2 := machine(), machine()
	c1 := m1.open(a.client(t, key), lock(m1.store))
	if _, err := Open(context.Background(), a.client(t, key), m2.zones, Options{Dir: filepath.Join(m2.dir, "capture"), State: m2.store,
		Lock: func(ctx context.Context) (func() error, error) {
			return m2.store.TryAdvisoryLock(ctx, runstore.CaptureLockKey)
		}}); !errors.Is(err, grpipe.ErrBusy) {
		t.Fatalf("a second capture on the same metadata: %v, want ErrBusy", err)
	}
	if err := c1.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := m2.open(a.client(t, key), lock(m2.store))
	if err := c2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.showCalls() != 25 {
		t.Errorf("%d show calls on two machines, want 25 (the second fetches only the 5 new ones)", a.showCalls())
	}
	if n := len(m2.reviewIDs()); n != 5 {
		t.Errorf("the second machine landed %d reviews, want 5", n)
	}
}
