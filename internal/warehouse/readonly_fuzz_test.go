package warehouse_test

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/grpipe/grpipe/internal/warehouse"
)

// FuzzCheckReadQuery checks the guard of `grpipe query` against DuckDB's own
// parser (the PostgreSQL grammar, as the PostgreSQL warehouse reads it too):
// a query the guard accepts is, for DuckDB, one statement that reads; and
// what follows an accepted query on a new line is never hidden from the
// guard (a second statement after it is refused).
func FuzzCheckReadQuery(f *testing.F) {
	for _, s := range []string{"SELECT 1", "  select count(*) from goodreads_warehouse.reviews;  ",
		"-- a comment\n/* another */ WITH x AS (SELECT 1) SELECT * FROM x", "(SELECT 1) UNION (SELECT 2)",
		"SELECT 'a;b', \"weird;name\" FROM t", "SELECT 'it''s; fine'", "SELECT $$x; y$$, $tag$;$tag$",
		"FROM goodreads_warehouse.users LIMIT 3", "EXPLAIN SELECT 1", "SHOW TABLES", "SELECT 1; -- trailing comment",
		"DELETE FROM goodreads_warehouse.reviews", "copy (select 1) to '/tmp/x'", "ATTACH 'x.db'", "SELECT 1; SELECT 2",
		"SELECT 'open", "SELECT 1 /* open", "SELECT E'\\''", "SELECT 1 --x\r; SELECT 2", "SELECT 1 /* /* */ ; SELECT 2 */", "/* /* */ SELECT 1 */ DELETE FROM t",
		"VALUES (1)", "TABLE goodreads_warehouse.books", "DESCRIBE goodreads_warehouse.books", "SUMMARIZE goodreads_warehouse.books",
		"SELECT $1$x$1$", "SELECT U&'d\\0061t\\+000061'", "SELECT 1 as \"a\"\"b\"", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"} {
		f.Add(s)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	f.Fuzz(func(t *testing.T, q string) {
		if warehouse.CheckReadQuery(q) != nil {
			return
		}
		if err := warehouse.CheckReadQuery(q + "\n;SELECT 2"); err == nil {
			t.Fatalf("CheckReadQuery accepts %q followed by a second statement", q)
		}
		var out string
		if err := db.QueryRow("SELECT CAST(json_serialize_sql($1::VARCHAR) AS VARCHAR)", q).Scan(&out); err != nil {
			return // DuckDB cannot even take it as a string (invalid UTF-8): it cannot run it either
		}
		var parsed struct {
			Error      bool              `json:"error"`
			ErrorType  string            `json:"error_type"`
			Message    string            `json:"error_message"`
			Statements []json.RawMessage `json:"statements"`
		}
		if err := json.Unmarshal([]byte(out), &parsed); err != nil {
			t.Fatalf("json_serialize_sql(%q): %v: %s", q, err, out)
		}
		switch {
		case !parsed.Error && len(parsed.Statements) != 1:
			t.Fatalf("CheckReadQuery accepts %q, which DuckDB reads as %d statements", q, len(parsed.Statements))
		case parsed.Error && strings.Contains(parsed.Message, "Only SELECT statements"):
			// DuckDB parsed it as another kind of statement: only the guard's
			// read statements that are not SELECTs may be that.
			first := strings.ToUpper(firstWord(q))
			if first != "EXPLAIN" && first != "DESCRIBE" && first != "SUMMARIZE" && first != "SHOW" {
				t.Fatalf("CheckReadQuery accepts %q (first word %q), which DuckDB parses as a statement other than SELECT", q, first)
			}
		}
	})
}

// firstWord returns the first word of q after white space, comments and
// parentheses (the guard's view of which statement q is).
func firstWord(q string) string {
	for {
		q = strings.TrimLeft(q, " \t\r\n\f(")
		switch {
		case strings.HasPrefix(q, "--"):
			if i := strings.IndexAny(q, "\r\n"); i >= 0 {
				q = q[i:]
			} else {
				return ""
			}
		case strings.HasPrefix(q, "/*"):
			depth, i := 0, 0
			for ; i < len(q); i++ {
				if strings.HasPrefix(q[i:], "/*") {
					depth++
					i++
				} else if strings.HasPrefix(q[i:], "*/") {
					depth--
					i++
					if depth == 0 {
						break
					}
				}
			}
			if depth != 0 {
				return ""
			}
			q = q[i+1:]
		default:
			end := strings.IndexFunc(q, func(r rune) bool {
				return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80)
			})
			if end < 0 {
				return q
			}
			return q[:end]
		}
	}
}
