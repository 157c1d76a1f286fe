package warehouse

import (
	"strings"
	"testing"
)

func TestCheckReadQuery(t *testing.T) {
	tests := []struct {
		q    string
		want string // "" when accepted, else part of the message
	}{
		{"SELECT 1", ""},
		{"  select count(*) from goodreads_warehouse.reviews;  ", ""},
		{"-- a comment\n/* another */ WITH x AS (SELECT 1) SELECT * FROM x", ""},
		{"(SELECT 1) UNION (SELECT 2)", ""},
		{"SELECT 'a;b', \"weird;name\" FROM t", ""},
		{"SELECT 'it''s; fine'", ""},
		{"SELECT $$x; y$$, $tag$;$tag$", ""},
		{"FROM goodreads_warehouse.users LIMIT 3", ""},
		{"EXPLAIN SELECT 1", ""},
		{"SHOW TABLES", ""},
		{"SELECT 1; -- trailing comment", ""},
		{"DELETE FROM goodreads_warehouse.reviews", "DELETE statements are refused"},
		{"copy (select 1) to '/tmp/x'", "COPY statements are refused"},
		{"ATTACH 'x.db'", "ATTACH statements are refused"},
		{"SET enable_external_access = true", "SET statements are refused"},
		{"SELECT 1; SELECT 2", "one statement at a time"},
		{"SELECT 1; DROP TABLE x", "one statement at a time"},
		{"", "empty"},
		{"  -- only a comment", "empty"},
		{"SELECT 'open", "unterminated ' quote"},
		{"SELECT 1 /* open", "unterminated /* comment"},
	}
	for _, tt := range tests {
		err := CheckReadQuery(tt.q)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckReadQuery(%q) = %v, want accepted", tt.q, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckReadQuery(%q) = %v, want an error with %q", tt.q, err, tt.want)
		}
	}
}
