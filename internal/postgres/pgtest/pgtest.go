// Package pgtest provides PostgreSQL to tests: a fresh database on the
// server named by GRPIPE_TEST_POSTGRES (started by scripts/test), and
// throwaway clusters a test starts, stops and restarts itself (for fault
// tests). Without PostgreSQL a test is skipped locally, but fails when the
// environment variable CI is "true": no test is skipped in CI.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvDSN names the environment variable holding the test server's DSN.
const EnvDSN = "GRPIPE_TEST_POSTGRES"

// unavailable skips the test, or fails it in CI.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is required in CI: %s", why)
	}
	t.Skipf("no PostgreSQL: %s (./scripts/test starts one)", why)
}

// Database creates a database with a unique name on the server named by
// GRPIPE_TEST_POSTGRES, drops it when the test ends, and returns its DSN.
func Database(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvDSN)
	if admin == "" {
		unavailable(t, EnvDSN+" is not set")
	}
	return CreateDatabase(t, admin)
}

// CreateDatabase creates a database with a unique name on the server that
// adminDSN connects to, drops it when the test ends, and returns its DSN.
func CreateDatabase(t testing.TB, adminDSN string) string {
	t.Helper()
	name := dbName(t.Name())
	db, err := sql.Open("pgx", adminDSN)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", adminDSN)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL DSN: %v", EnvDSN, err)
	}
	u.Path = "/" + name
	return u.String()
}

// dbName makes a valid, unique database name from a test name.
func dbName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return "grpipe_t_" + s + "_" + hex.EncodeToString(rnd[:])
}

// Cluster is a throwaway PostgreSQL cluster owned by one test: data and
// socket in a temporary folder, listening on 127.0.0.1 on a free port,
// fsync off, password authentication over TCP.
type Cluster struct {
	t        testing.TB
	bin, dir string
	port     int
	// Password is the password of the superuser "postgres".
	Password string
}

// StartCluster initialises and starts a cluster; it is stopped and removed
// when the test ends. As root, the server runs as the user postgres.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := binDir()
	if bin == "" {
		unavailable(t, "no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp("", "grpipe-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, bin: bin, dir: dir, Password: "pw-" + randHex(8)}
	t.Cleanup(func() {
		_ = c.pgctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: running as root needs the user postgres: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, _ := user.Lookup("postgres")
		uid, _ := strconv.Atoi(u.Uid)
		_ = os.Chown(pwfile, uid, -1)
	}
	if out, err := c.as(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	c.port = freePort(t)
	c.Start()
	return c
}

// Port returns the cluster's TCP port.
func (c *Cluster) Port() int { return c.port }

// Addr returns "127.0.0.1:port".
func (c *Cluster) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

// DSN returns the DSN of database db as the superuser, with the password.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres:%s@%s/%s?sslmode=disable", url.QueryEscape(c.Password), c.Addr(), db)
}

// Start starts the (stopped) server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50",
		c.port, c.dir)
	if out, err := c.as(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server at once (as a crash would: no checkpoint).
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.pgctl("stop", "-m", "immediate"); err != nil {
		c.t.Fatalf("pgtest: pg_ctl stop: %v", err)
	}
}

// Restart stops the server at once and starts it again: every open
// connection is cut.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.Stop()
	c.Start()
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) pgctl(args ...string) error {
	out, err := c.as(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data(), "-w"}, args...)...)
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// as runs a PostgreSQL program, as the user postgres when running as root.
func (c *Cluster) as(prog string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// binDir returns the newest installed PostgreSQL's bin folder, or "".
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on.
func FreePort(t testing.TB) int { return freePort(t) }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
