package drivertest

import (
	"strings"
	"testing"
)

// TestCheckTemplate: the template rules catch a bare identifier and a
// printed value, and accept quoted names, parameters and comments.
func TestCheckTemplate(t *testing.T) {
	names := knownIdentifiers()
	for src, want := range map[string]string{
		`SELECT count(*) FROM {{ident .Table}} WHERE "review_rating" > $1`:                   "",
		"-- top {{.Subject}}s by review_count\nSELECT 1":                                     "",
		`CREATE TABLE {{ident .Table}} ({{range .Columns}}{{ident .Name}} {{.Type}}{{end}})`: "",
		`SELECT 'review_id' FROM {{ident .Table}} {{/* review_id */}}`:                       "",
		`SELECT review_id FROM {{ident .Table}}`:                                             "line 1: identifier review_id is not quoted",
		"SELECT 1\nFROM goodreads_warehouse.\"reviews\"":                                     "line 2: identifier goodreads_warehouse is not quoted",
		`SELECT * FROM {{.Table}}`:                                                           "{{.Table}} prints a value",
		`SELECT * FROM t LIMIT {{.Limit}}`:                                                   "{{.Limit}} prints a value",
		`COPY (SELECT 1) TO {{str .Out}}`:                                                    "",
		`COPY (SELECT 1) TO {{quote .Out}}`:                                                  "{{quote .Out}} prints a value",
		`SELECT * FROM t LIMIT {{int .Limit}}`:                                               "",
		`COPY (SELECT 1) TO {{str .Out}} (FORMAT parquet)`:                                   "",
		`SELECT format FROM t`:                                                               "identifier format is not quoted",
	} {
		// str and int are literal functions here (as in the transform's
		// templates); quote is not.
		problems := checkTemplate(src, names, []string{"str", "int"})
		switch {
		case want == "" && len(problems) > 0:
			t.Errorf("%q: %v, want no problem", src, problems)
		case want != "" && (len(problems) != 1 || !strings.Contains(problems[0], want)):
			t.Errorf("%q: %v, want one problem saying %q", src, problems, want)
		}
	}
}
