package redact_test

import (
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/grpipe/grpipe/internal/redact"
)

func TestString(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"url user info", "postgres://grpipe:s3cret@db:5432/goodreads?sslmode=require", "postgres://grpipe:xxxxx@db:5432/goodreads?sslmode=require"},
		{"url password parameter", "postgres://grpipe@db:5432/goodreads?password=s3cret&sslmode=require", "postgres://grpipe@db:5432/goodreads?password=xxxxx&sslmode=require"},
		{"url sslpassword parameter", "postgres://grpipe@db/goodreads?sslmode=verify-full&sslpassword=s3cret", "postgres://grpipe@db/goodreads?sslmode=verify-full&sslpassword=xxxxx"},
		{"url encoded parameter name", "postgres://grpipe@db/goodreads?pass%77ord=s3cret", "postgres://grpipe@db/goodreads?pass%77ord=xxxxx"},
		{"url upper-case parameter", "postgresql://grpipe@db/goodreads?PASSWORD=s3cret", "postgresql://grpipe@db/goodreads?PASSWORD=xxxxx"},
		{"url no password", "postgres://grpipe@db:5432/goodreads", "postgres://grpipe@db:5432/goodreads"},
		{"url unparsable escape", "postgres://bob:pa%s3cret@127.0.0.1:5432/rv1", "postgres://bob:xxxxx@127.0.0.1:5432/rv1"},
		{"url unparsable port", "postgres://bob:s3cret@127.0.0.1:notaport/rv1", "postgres://bob:xxxxx@127.0.0.1:notaport/rv1"},
		{"url @ and space in password", "postgres://bob:s3 cr@et@host:5432/db", "postgres://bob:xxxxx@host:5432/db"},
		{"url slash in password", "postgres://bob:s3/cret@host:5432/db", "postgres://bob:xxxxx@host:5432/db"},
		{"url unparsable query password", "postgres://bob@host:x/db?password=s3cret&sslmode=disable", "postgres://bob@host:x/db?password=xxxxx&sslmode=disable"},
		{"keyword form", "host=db port=5432 user=grpipe password=s3cret dbname=goodreads", "host=db port=5432 user=grpipe password=xxxxx dbname=goodreads"},
		{"keyword spaces around =", "host=db password = s3cret dbname=goodreads", "host=db password = xxxxx dbname=goodreads"},
		{"keyword quoted", "host=db password='s3 cr\\'et' dbname=goodreads", "host=db password=xxxxx dbname=goodreads"},
		{"keyword escaped space", `host=db password=s3\ cret dbname=goodreads`, "host=db password=xxxxx dbname=goodreads"},
		{"keyword sslpassword", "host=db sslkey=/k.pem sslpassword=s3cret", "host=db sslkey=xxxxx sslpassword=xxxxx"},
		{"keyword unterminated quote", "host=db password='s3cret dbname=x", "host=db password=xxxxx"},
		{"keyword broken before password", "host db password=s3cret", "host db password=xxxxx"},
		{"keyword form with :// in a value", "password=s3cret host='://' dbname='0'", "password=xxxxx host='://' dbname='0'"},
		{"keyword form after a url-like key", "abc://x=1 password=s3cret", "abc://x=1 password=xxxxx"},
		{"file path", "duckdb:///srv/wh.duckdb", "duckdb:///srv/wh.duckdb"},
		{"plain path", "/srv/wh.duckdb", "/srv/wh.duckdb"},
		{"s3 zones", "s3://bucket/zones?endpoint=http://minio:9000&region=us-east-1", "s3://bucket/zones?endpoint=http://minio:9000&region=us-east-1"},
		{"s3 with credentials", "s3://AKIA:s3cret@bucket/zones?session_token=s3cret", "s3://AKIA:xxxxx@bucket/zones?session_token=xxxxx"},
		{"webhook token", "https://hooks.example.org/x?token=s3cret&a=b", "https://hooks.example.org/x?token=xxxxx&a=b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := redact.String(tc.in)
			if got != tc.want || strings.Contains(got, "s3cret") || strings.Contains(got, "cret") {
				t.Fatalf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// quoteKV quotes a keyword/value value as libpq reads it.
func quoteKV(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// FuzzString builds DSNs around a password in every place one may stand
// (URL user information, password= and sslpassword= parameters, the
// keyword/value form quoted or not, with white space around '=') and
// checks, through pgx's own parser, that the redacted DSN no longer carries
// it while everything else it says is unchanged.
func FuzzString(f *testing.F) {
	f.Add("grpipe", "s3cret", "db.internal", "goodreads", uint8(0), " ")
	f.Add("bob", "p@ss/w:rd?x", "127.0.0.1", "rv1", uint8(1), "")
	f.Add("a", "it's \\ quoted", "h", "d", uint8(4), "  ")
	f.Add("u", "%zz", "h", "d", uint8(2), "\t")
	f.Add("u", "x y", "h", "d", uint8(5), "\n")
	f.Setenv("PGPASSFILE", "/nonexistent/grpipe-test-pgpass")
	f.Setenv("PGPASSWORD", "")
	f.Setenv("PGSERVICEFILE", "/nonexistent/grpipe-test-service")
	f.Fuzz(func(t *testing.T, user, pass, host, db string, form uint8, sp string) {
		if pass == "" || pass == redact.Mask || strings.Trim(sp, " \t\n\r\v\f") != "" || len(pass) > 200 {
			return
		}
		var dsn string
		switch form % 6 {
		case 0:
			dsn = "postgres://" + url.UserPassword(user, pass).String() + "@" + url.PathEscape(host) + "/" + url.PathEscape(db)
		case 1:
			dsn = "postgres://" + url.User(user).String() + "@" + url.PathEscape(host) + "/" + url.PathEscape(db) + "?password=" + url.QueryEscape(pass) + "&sslmode=disable"
		case 2:
			dsn = "postgresql://" + url.User(user).String() + "@" + url.PathEscape(host) + "/" + url.PathEscape(db) + "?sslmode=disable&sslpassword=" + url.QueryEscape(pass)
		case 3:
			dsn = "host=" + quoteKV(host) + " user=" + quoteKV(user) + " password" + sp + "=" + sp + quoteKV(pass) + " dbname=" + quoteKV(db)
		case 4:
			dsn = "user=" + quoteKV(user) + sp + " sslpassword=" + quoteKV(pass) + " host=" + quoteKV(host)
		case 5:
			if strings.ContainsAny(pass, " \t\n\r\v\f'\\") {
				return
			}
			dsn = "password=" + pass + " host=" + quoteKV(host) + " dbname=" + quoteKV(db)
		}
		orig, err := pgconn.ParseConfig(dsn)
		if err != nil {
			return
		}
		got := redact.String(dsn)
		red, err := pgconn.ParseConfig(got)
		if err != nil {
			t.Fatalf("String(%q) = %q, which pgx no longer parses: %v", dsn, got, err)
		}
		if orig.Password == pass && red.Password != redact.Mask {
			t.Fatalf("String(%q) = %q: pgx reads the password as %q", dsn, got, red.Password)
		}
		if form%6 == 2 || form%6 == 4 {
			if !strings.Contains(got, "sslpassword="+redact.Mask) {
				t.Fatalf("String(%q) = %q: sslpassword not masked", dsn, got)
			}
		}
		if red.Host != orig.Host || red.Port != orig.Port || red.User != orig.User || red.Database != orig.Database ||
			!maps.Equal(red.RuntimeParams, orig.RuntimeParams) {
			t.Fatalf("String(%q) = %q changed what it says: %s@%s:%d/%s %v, was %s@%s:%d/%s %v", dsn, got,
				red.User, red.Host, red.Port, red.Database, red.RuntimeParams, orig.User, orig.Host, orig.Port, orig.Database, orig.RuntimeParams)
		}
	})
}

// FuzzStringRaw feeds any text: whenever pgx reads a password from it, pgx
// must not read that password from the redacted text.
func FuzzStringRaw(f *testing.F) {
	for _, s := range []string{"postgres://grpipe:s3cret@db:5432/goodreads?sslmode=require", "host=db password='s3 cr\\'et'",
		"postgres://bob:s3 cr@et@host:5432/db", "password = x host=y", "postgres://u@h/d?pass%77ord=zz", "user=a password=b\\ c"} {
		f.Add(s)
	}
	f.Setenv("PGPASSFILE", "/nonexistent/grpipe-test-pgpass")
	f.Setenv("PGPASSWORD", "")
	f.Setenv("PGSERVICEFILE", "/nonexistent/grpipe-test-service")
	f.Fuzz(func(t *testing.T, s string) {
		orig, err := pgconn.ParseConfig(s)
		if err != nil || orig.Password == "" || orig.Password == redact.Mask {
			return
		}
		got := redact.String(s)
		if red, err := pgconn.ParseConfig(got); err == nil && red.Password == orig.Password {
			t.Fatalf("String(%q) = %q: pgx still reads the password %q", s, got, orig.Password)
		}
	})
}

func TestSecretsAndScrub(t *testing.T) {
	cases := []struct {
		dsn  string
		want []string
	}{
		{"postgres://grpipe:s3cret@db/wh?sslpassword=k3ypass", []string{"s3cret", "k3ypass"}},
		{"host=db password='s3 cr\\'et' sslpassword=k3ypass", []string{"s3 cr\\'et", "s3 cr'et", "k3ypass"}},
		{"postgres://grpipe@db/wh?password=p%40ss", []string{"p@ss"}},
	}
	for _, tc := range cases {
		got := redact.Secrets(tc.dsn)
		for _, w := range tc.want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("Secrets(%q) = %q, lacks %q", tc.dsn, got, w)
			}
		}
		msg := "cannot parse `" + tc.dsn + "`: " + strings.Join(tc.want, " ")
		if out := redact.Scrub(msg, got); strings.Contains(out, "cret") || strings.Contains(out, "k3y") || strings.Contains(out, "p@ss") || strings.Contains(out, "p%40ss") {
			t.Errorf("Scrub left a secret: %q", out)
		}
	}
}
