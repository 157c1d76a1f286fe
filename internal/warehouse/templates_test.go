package warehouse_test

import (
	"os"
	"testing"

	"github.com/grpipe/grpipe/internal/warehouse/drivertest"
)

func TestTemplatesQuoteIdentifiers(t *testing.T) {
	drivertest.CheckTemplates(t, os.DirFS("."), "sql/*.sql", "param")
	drivertest.CheckTemplates(t, os.DirFS("driver"), "sql/*.sql")
}
