package config_test

import (
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/config"
)

func TestRedact(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"user info", "postgres://grpipe:s3cret@db:5432/goodreads?sslmode=require", "postgres://grpipe:xxxxx@db:5432/goodreads?sslmode=require"},
		{"query parameter", "postgres://grpipe@db:5432/goodreads?password=s3cret&sslmode=require", "postgres://grpipe@db:5432/goodreads?password=xxxxx&sslmode=require"},
		{"no password", "postgres://grpipe@db:5432/goodreads", "postgres://grpipe@db:5432/goodreads"},
		{"file path", "duckdb:///srv/wh.duckdb", "duckdb:///srv/wh.duckdb"},
		{"unparsable escape", "postgres://bob:pa%s3cret@127.0.0.1:5432/rv1", "postgres://bob:xxxxx@127.0.0.1:5432/rv1"},
		{"unparsable port", "postgres://bob:s3cret@127.0.0.1:notaport/rv1", "postgres://bob:xxxxx@127.0.0.1:notaport/rv1"},
		{"unparsable with @ and space", "postgres://bob:s3 cr@et@host:5432/db", "postgres://bob:xxxxx@host:5432/db"},
		{"unparsable query password", "postgres://bob@host:x/db?password=s3cret&sslmode=disable", "postgres://bob@host:x/db?password=xxxxx&sslmode=disable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := config.Redact(tc.in)
			if got != tc.want || strings.Contains(got, "s3cret") {
				t.Fatalf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
