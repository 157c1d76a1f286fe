package duckdb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
	"github.com/grpipe/grpipe/internal/warehouse/drivertest"
)

// harness opens DuckDB warehouses on one file in a temporary folder.
type harness struct{ path string }

func (h *harness) Open(ctx context.Context, readOnly bool) (driver.Driver, error) {
	return duckdb.OpenWarehouse(ctx, h.path, duckdb.Options{ReadOnly: readOnly, Threads: 2})
}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		return &harness{path: filepath.Join(t.TempDir(), "warehouse.duckdb")}, nil
	})
}

func TestTemplatesQuoteIdentifiers(t *testing.T) {
	drivertest.CheckTemplates(t, os.DirFS("."), "sql/*.sql")
}
