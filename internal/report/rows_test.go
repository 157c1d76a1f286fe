package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/report"
	"github.com/grpipe/grpipe/internal/termsafe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// hostile are values a review or a name may hold to attack a terminal.
var hostile = []any{"\x1b[2J\x1b[Hcleared", "\x1b]0;title\x07", "csi\u009b31m", "rtl\u202eevil", "two\nlines", int64(7), nil}

func hostileRows() *warehouse.Rows {
	cols := []string{"a", "b", "c", "d", "e", "n", "null\x1b[1m"}
	return &warehouse.Rows{Columns: cols, Values: [][]any{hostile}}
}

func noUnsafe(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if termsafe.Unsafe(r) && r != '\n' {
			t.Fatalf("%s output holds %U: %q", what, r, out)
		}
	}
}

// Defect 14: a table never carries escape sequences or control characters.
func TestRowsTableEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := report.Rows(&b, hostileRows(), "table"); err != nil {
		t.Fatal(err)
	}
	noUnsafe(t, "table", b.String())
	if !strings.Contains(b.String(), `\x1b[2J`) || !strings.Contains(b.String(), `two\nlines`) || !strings.Contains(b.String(), "(1 rows)") {
		t.Fatalf("table %q does not show the escapes", b.String())
	}
}

// JSON escapes them losslessly; CSV into a file or pipe keeps the data exact.
func TestRowsJSONAndCSV(t *testing.T) {
	var j bytes.Buffer
	if err := report.Rows(&j, hostileRows(), "json"); err != nil {
		t.Fatal(err)
	}
	noUnsafe(t, "JSON", j.String())
	var back []map[string]any
	if err := json.Unmarshal(j.Bytes(), &back); err != nil || back[0]["a"] != hostile[0] || back[0]["d"] != hostile[3] {
		t.Fatalf("JSON %q decodes to %v (%v)", j.String(), back, err)
	}
	var c bytes.Buffer
	if err := report.Rows(&c, hostileRows(), "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&c).ReadAll()
	if err != nil || recs[1][0] != hostile[0] || recs[1][2] != hostile[2] || recs[1][4] != hostile[4] {
		t.Fatalf("CSV into a buffer: %q (%v), want the values exactly", recs, err)
	}
}
