package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
)

// FuzzLoad feeds any text as grpipe.yaml: loading it never panics, refuses
// with an error wrapping ErrBadInput, or gives a configuration that passes
// Validate and that loading the same file again gives again.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"zones: file:///srv/grpipe/zones\nwarehouse: duckdb:///srv/grpipe/wh.duckdb\nmax_reject_ratio: 0.01\n",
		"analytics:\n  window_start: 2020-02-01\n  window_end: 2020-03-01\n  window_from_data_interval: true\n",
		"duckdb:\n  memory_limit: 2GB\n  temp_directory: /srv/grpipe/tmp\n  threads: 0\nparallelism: 0\nprocessed_retention: 0\nlog_level: info\n",
		"orchestrator:\n  retries: 2\n  retry_delay: 10s\n  max_retry_delay: 5m\n  depends_on_past: true\n  grace_period: 30s\n  tasks:\n    GoodReadsETLJob: {retries: 3, timeout: 2h}\n",
		"alerts:\n  on_retry: false\n  webhook:\n    url: https://hooks.example.org/grpipe\n    timeout: 10s\n  email:\n    smtp_addr: mail.example.org:587\n    from: grpipe@example.org\n    to: [oncall@example.org]\n    username: grpipe\n",
		"web:\n  addr: 127.0.0.1:8080\n  token: \"\"\n  hosts: [grpipe.internal]\n  secure_cookies: false\n",
		"max_reject_ratio: .nan\n", "duckdb:\n  threads: 100000\n", "ucsd_snapshot: 2017-12-01\n", "tasks:\n", "a: &x [1]\nb: *x\n",
		"warehouse: postgres://grpipe:s3cret@db:5432/goodreads?sslmode=require\n", "orchestrator:\n  tasks:\n    Nope: {retries: 1}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, yaml string) {
		home := t.TempDir()
		if err := os.WriteFile(filepath.Join(home, config.FileName), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		noEnv := func(string) string { return "" }
		c, err := config.Load(home, noEnv, nil)
		if err != nil {
			if !errors.Is(err, grpipe.ErrBadInput) {
				t.Fatalf("Load(%q) = %v: does not wrap ErrBadInput", yaml, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load(%q) accepted a configuration Validate refuses: %v", yaml, err)
		}
		again, err := config.Load(home, noEnv, nil)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("Load(%q) twice: %+v then %+v (%v)", yaml, c, again, err)
		}
	})
}
