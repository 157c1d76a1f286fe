package postgres_test

import (
	"context"
	"testing"

	"github.com/grpipe/grpipe/internal/postgres"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
	"github.com/grpipe/grpipe/internal/warehouse/drivertest"
)

// harness opens PostgreSQL warehouses on one fresh database of the server
// named by GRPIPE_TEST_POSTGRES.
type harness struct{ dsn string }

func (h *harness) Open(ctx context.Context, readOnly bool) (driver.Driver, error) {
	return postgres.Open(ctx, h.dsn, postgres.Options{ReadOnly: readOnly})
}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (drivertest.Harness, error) {
		return &harness{dsn: pgtest.Database(t)}, nil
	})
}
