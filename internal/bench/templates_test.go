package bench

import (
	"os"
	"testing"

	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/warehouse/drivertest"
)

// TestTemplates: the reference's statements follow the warehouse's template
// rules (identifiers quoted; file names printed by str, as DuckDB binds no
// parameter in COPY or read_csv), and every one of them parses.
func TestTemplates(t *testing.T) {
	drivertest.CheckTemplates(t, os.DirFS("."), "sql/*.sql", "str")
	if _, err := duckdb.ParseStatements(sqlFiles, "sql/*.sql", nil); err != nil {
		t.Fatal(err)
	}
}
