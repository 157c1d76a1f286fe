package main

import (
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/postgres/pgtest"
)

// TestPostgresCommands runs land, run and query against a PostgreSQL
// warehouse given by GRPIPE_WAREHOUSE.
func TestPostgresCommands(t *testing.T) {
	env := map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_WAREHOUSE": pgtest.Database(t)}
	if r := grpipeCmd(t, env, append([]string{"land"}, sampleDir(t)...)...); r.code != 0 {
		t.Fatalf("land exit %d: %s", r.code, r.stderr)
	}
	if r := grpipeCmd(t, env, "run"); r.code != 0 {
		t.Fatalf("run exit %d: %s", r.code, r.stderr)
	}
	r := grpipeCmd(t, env, "query", "--format", "csv", "SELECT count(*) AS n FROM goodreads_warehouse.reviews")
	if r.code != 0 || r.stdout != "n\n60\n" {
		t.Fatalf("query: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	r = grpipeCmd(t, env, "query", "--format", "json", "SELECT author_id, name FROM goodreads_warehouse.authors WHERE author_id = 585")
	if r.code != 0 || strings.TrimSpace(r.stdout) != `[{"author_id":585,"name":"John Steinbeck"}]` {
		t.Fatalf("query json: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	for _, q := range []string{"DELETE FROM goodreads_warehouse.reviews", "CREATE TABLE x (a INT)", "DROP TABLE goodreads_warehouse.users"} {
		r := grpipeCmd(t, env, "query", q)
		if r.code == 0 || !strings.Contains(r.stderr, "read-only") {
			t.Errorf("%s: exit %d, stderr %q: want a read-only refusal", q, r.code, r.stderr)
		}
	}
	if r := grpipeCmd(t, env, "query", "--format", "csv", "SELECT count(*) AS n FROM goodreads_warehouse.reviews"); r.stdout != "n\n60\n" {
		t.Errorf("warehouse changed by a refused write: %q", r.stdout)
	}
}

// TestPostgresSettingErrors: a server that is down or refuses the login
// stops every command with a message naming the setting, never the password.
func TestPostgresSettingErrors(t *testing.T) {
	c := pgtest.StartCluster(t)
	wrong := strings.Replace(c.DSN("postgres"), c.Password, "Wr0ngPassw0rd", 1)
	cases := []struct {
		name, dsn, want string
	}{
		{"bad password", wrong, "refused the login"},
		{"server down", "postgres://postgres:Wr0ngPassw0rd@127.0.0.1:1/db?sslmode=disable", "cannot connect to PostgreSQL at 127.0.0.1:1"},
		{"password as a parameter", "postgres://postgres@" + c.Addr() + "/postgres?sslmode=disable&password=Wr0ngPassw0rd", "refused the login"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{{"run"}, {"query", "SELECT 1"}} {
				r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_WAREHOUSE": tc.dsn}, args...)
				if r.code != 1 {
					t.Errorf("%s: exit %d, want 1", args[0], r.code)
				}
				for _, want := range []string{tc.want, "setting warehouse", "GRPIPE_WAREHOUSE"} {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("%s: message %q lacks %q", args[0], r.stderr, want)
					}
				}
				if strings.Contains(r.stderr, "Wr0ngPassw0rd") {
					t.Errorf("%s: message %q shows the password", args[0], r.stderr)
				}
			}
		})
	}
}
