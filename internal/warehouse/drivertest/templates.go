package drivertest

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// CheckTemplates checks the SQL templates matching pattern in fsys against
// the rules of driver.Statements: every identifier of the warehouse (schema,
// table and column names) is quoted, and every value the template prints is
// an identifier (ident, idents), a file list (paths), a column type, or text
// in an SQL comment; anything else (a value) must be a bound parameter.
// Each backend's tests call it on their own templates.
//
// literals names further template functions allowed to print: functions
// that render a value as an SQL literal (a quoted string, a number), for
// statements DuckDB cannot bind parameters in (COPY ... TO, read_csv): the
// transform's and the bench reference's.
func CheckTemplates(t *testing.T, fsys fs.FS, pattern string, literals ...string) {
	t.Helper()
	files, err := fs.Glob(fsys, pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates %s: %v", pattern, err)
	}
	names := knownIdentifiers()
	for _, f := range files {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, problem := range checkTemplate(string(src), names, literals) {
			t.Errorf("%s: %s", f, problem)
		}
	}
}

// knownIdentifiers are the names of the warehouse's schemas, tables and
// columns.
func knownIdentifiers() map[string]bool {
	names := map[string]bool{}
	for _, s := range []string{warehouse.StagingSchema, warehouse.WarehouseSchema, warehouse.QualitySchema, warehouse.AnalyticsSchema} {
		names[s] = true
	}
	for _, e := range grpipe.Entities() {
		names[e.Name] = true
		for _, c := range e.ColumnNames() {
			names[c] = true
		}
	}
	for _, c := range quarantine.ColumnNames() {
		names[c] = true
	}
	for _, at := range warehouse.AnalyticsTables() {
		names[at.Table] = true
	}
	for _, n := range []string{"rejected_rows", "loaded_batches", "run_id", "entity", "batch_id", "read_rows", "rejected",
		"superseded", "staged", "inserted", "updated", "stale", "loaded_at",
		"rank", "review_count", "average_review_rating", "count_rank", "rating_rank"} {
		names[n] = true
	}
	return names
}

// printActions are the template actions allowed to print text into SQL.
var printActions = []string{"ident ", "idents ", "paths "}

// controlActions print nothing themselves.
var controlActions = []string{"template ", "range ", "if ", "else", "end", "define ", "block ", "with "}

// checkTemplate returns what breaks the rules in one template's source.
func checkTemplate(src string, names map[string]bool, literals []string) []string {
	var problems []string
	line := 1
	inComment := false // an SQL -- comment, to the end of the line
	var quote byte     // inside an SQL '...' or "..."
	word := strings.Builder{}
	flush := func() {
		// A word in capitals is a keyword (FORMAT in COPY ... (FORMAT
		// parquet), not the books' column format): identifiers are lower case.
		if w := word.String(); w != "" && w != strings.ToUpper(w) && names[strings.ToLower(w)] {
			problems = append(problems, fmt.Sprintf("line %d: identifier %s is not quoted (write \"%s\" or {{ident ...}})", line, w, w))
		}
		word.Reset()
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if strings.HasPrefix(src[i:], "{{") {
			flush()
			end := strings.Index(src[i:], "}}")
			if end < 0 {
				return append(problems, fmt.Sprintf("line %d: unterminated action", line))
			}
			action := strings.TrimSpace(strings.Trim(src[i+2:i+end], "-"))
			switch {
			case inComment || isControl(action):
			case quote != 0:
				problems = append(problems, fmt.Sprintf("line %d: {{%s}} prints into a quoted literal: bind a value as a parameter, quote an identifier with ident", line, action))
			case !isPrintAllowed(action, literals):
				problems = append(problems, fmt.Sprintf("line %d: {{%s}} prints a value into the SQL: bind it as a parameter, or quote an identifier with ident", line, action))
			}
			line += strings.Count(src[i:i+end], "\n")
			i += end + 1
			continue
		}
		if c == '\n' {
			flush()
			line++
			inComment = false
			continue
		}
		switch {
		case inComment:
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			flush()
			quote = c
		case strings.HasPrefix(src[i:], "--"):
			flush()
			inComment = true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			word.WriteByte(c)
		default:
			flush()
		}
	}
	flush()
	return problems
}

// isControl reports an action that prints nothing itself (a template
// comment, range, if, a call of another template...).
func isControl(a string) bool {
	if strings.HasPrefix(a, "/*") {
		return true
	}
	for _, p := range controlActions {
		if strings.HasPrefix(a+" ", p) {
			return true
		}
	}
	return false
}

// isPrintAllowed reports an action allowed to print into SQL text: an
// identifier, a file list, a column type.
func isPrintAllowed(a string, literals []string) bool {
	if strings.HasSuffix(a, ".Type") {
		return true
	}
	for _, p := range printActions {
		if strings.HasPrefix(a+" ", p) {
			return true
		}
	}
	for _, f := range literals {
		if strings.HasPrefix(a+" ", f+" ") {
			return true
		}
	}
	return false
}
