package transform

import (
	"os"
	"testing"

	"github.com/grpipe/grpipe/internal/warehouse/drivertest"
)

// TestTemplates: the transform's statements follow the warehouse's template
// rules (identifiers quoted; what is printed is an identifier, a path, or a
// literal of str, int or ints, since DuckDB binds no parameter in COPY or
// read_csv), and every one of them parses.
func TestTemplates(t *testing.T) {
	drivertest.CheckTemplates(t, os.DirFS("."), "sql/*.sql", "str", "int", "ints", "codec")
	if _, err := statements(); err != nil {
		t.Fatal(err)
	}
}
