package driver_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"reviews":    `"reviews"`,
		"rank":       `"rank"`,
		`odd "name"`: `"odd ""name"""`,
		`x"; DROP`:   `"x""; DROP"`,
	} {
		if got := driver.QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	tb := driver.Table{Schema: "goodreads_warehouse", Name: "reviews"}
	if tb.Quoted() != `"goodreads_warehouse"."reviews"` || tb.String() != "goodreads_warehouse.reviews" {
		t.Errorf("Table quoted %s, string %s", tb.Quoted(), tb)
	}
}

func TestParseTable(t *testing.T) {
	got, err := driver.ParseTable("goodreads_quality.rejected_rows")
	if err != nil || got != (driver.Table{Schema: "goodreads_quality", Name: "rejected_rows"}) {
		t.Errorf("ParseTable = %+v, %v", got, err)
	}
	for _, bad := range []string{"reviews", ".reviews", "goodreads_warehouse.", "a.b.c", ""} {
		if _, err := driver.ParseTable(bad); !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "schema.table") {
			t.Errorf("ParseTable(%q) = %v, want bad input saying schema.table", bad, err)
		}
	}
}

func TestStatements(t *testing.T) {
	fsys := fstest.MapFS{
		"sql/count.sql":          {Data: []byte(`SELECT count(*) FROM {{ident .Table}} WHERE {{ident .Key}} = $1`)},
		"sql/create.sql":         {Data: []byte(`CREATE TABLE {{ident .Table}} ({{template "column_defs" .}})`)},
		"sql/create.special.sql": {Data: []byte(`CREATE UNLOGGED TABLE {{ident .Table}} ({{idents .Names}})`)},
		"sql/bad.sql":            {Data: []byte(`SELECT {{ident .Limit}}`)},
	}
	def := driver.TableDef{Table: driver.Table{Schema: "s", Name: "t"}, Columns: []driver.ColumnDef{{Name: "id", Type: "BIGINT"}, {Name: "na\"me", Type: "TEXT"}}}
	portable, err := driver.ParseStatements(fsys, "sql/*.sql", "plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	special, err := driver.ParseStatements(fsys, "sql/*.sql", "special", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s    *driver.Statements
		name string
		data any
		want string
	}{
		{portable, "count", map[string]any{"Table": def.Table, "Key": "id"}, `SELECT count(*) FROM "s"."t" WHERE "id" = $1`},
		{portable, "create", def, "CREATE TABLE \"s\".\"t\" (\n  \"id\" BIGINT,\n  \"na\"\"me\" TEXT\n)"},
		{special, "create", map[string]any{"Table": def.Table, "Names": []string{"a", "b"}}, `CREATE UNLOGGED TABLE "s"."t" ("a", "b")`},
	} {
		got, err := tc.s.Render(tc.name, tc.data)
		if err != nil || got != tc.want {
			t.Errorf("Render(%s) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := portable.Render("bad", map[string]any{"Limit": 10}); err == nil || !strings.Contains(err.Error(), "not a name") {
		t.Errorf("ident of a number: %v, want an error", err)
	}
	if _, err := portable.Render("count", map[string]any{"Table": def.Table}); err == nil {
		t.Error("a missing key was rendered")
	}
	if _, err := portable.Render("nosuch", nil); err == nil {
		t.Error("a missing statement was rendered")
	}
}
