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
