package config_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
)

func load(t *testing.T, yaml string, env, flags map[string]string) (config.Config, error) {
	t.Helper()
	home := t.TempDir()
	if yaml != "" {
		if err := os.WriteFile(filepath.Join(home, config.FileName), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config.Load(home, func(k string) string { return env[k] }, flags)
}

func TestDefaults(t *testing.T) {
	c, err := load(t, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Orchestrator
	if o.Retries != 2 || o.RetryDelay != 10*time.Second || o.MaxRetryDelay != 5*time.Minute || !o.DependsOnPast ||
		o.GracePeriod != 30*time.Second || c.Alerts.Webhook.Timeout != 10*time.Second {
		t.Errorf("orchestrator defaults %+v, webhook timeout %s", o, c.Alerts.Webhook.Timeout)
	}
	if c.Zones != "file://"+filepath.Join(c.Home, "zones") || c.Warehouse.Kind != config.DuckDBWarehouse ||
		c.Warehouse.Location != filepath.Join(c.Home, "warehouse.duckdb") || c.MaxRejectRatio != 0.01 ||
		c.DuckDB.TransformMemoryLimit != "1GB" || c.DuckDB.WarehouseMemoryLimit != "512MB" || c.DuckDB.TempDirectory != filepath.Join(c.Home, "tmp", "duckdb") ||
		c.LogLevel != slog.LevelInfo || c.Web.Addr != "127.0.0.1:8080" {
		t.Errorf("defaults %+v", c)
	}
	if d := config.Default(c.Home); d.Orchestrator.Retries != 2 || d.Warehouse != c.Warehouse {
		t.Errorf("Default differs from Load without settings: %+v", d)
	}
}

func TestEverySettingOfTheFile(t *testing.T) {
	c, err := load(t, `
zones: s3://lake/zones?endpoint=http://127.0.0.1:9000
warehouse: postgres://grpipe@db:5432/goodreads
max_reject_ratio: 0.02
analytics:
  window_start: 2020-02-01
  window_end: 2020-03-01T00:00:00Z
  window_from_data_interval: true
duckdb: {memory_limit: 1GB, temp_directory: /tmp/x, threads: 3}
parallelism: 2
processed_retention: 5
log_level: debug
orchestrator:
  retries: 4
  retry_delay: 1s
  max_retry_delay: 1m
  depends_on_past: false
  grace_period: 2m
  tasks:
    GoodReadsETLJob: {retries: 3, timeout: 2h}
    Load_best_books: {timeout: 5m}
alerts:
  on_retry: true
  webhook: {url: "https://hooks.example.org/x", timeout: 3s}
  email:
    smtp_addr: mail.example.org:587
    from: grpipe@example.org
    to: [oncall@example.org, ops@example.org]
    username: grpipe
    password: pw
web: {addr: "127.0.0.1:9000", token: tok}
`, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	etl := c.Orchestrator.Tasks[grpipe.TaskETL]
	if c.Zones != "s3://lake/zones?endpoint=http://127.0.0.1:9000" || c.Warehouse.Kind != config.PostgresWarehouse || c.MaxRejectRatio != 0.02 ||
		!c.Analytics.WindowStart.Equal(time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC)) || !c.Analytics.WindowEnd.Equal(time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)) ||
		!c.Analytics.WindowFromDataInterval || c.DuckDB != (config.DuckDB{TransformMemoryLimit: "1GB", TransformCSVMemoryLimit: "1GB", WarehouseMemoryLimit: "1GB", TempDirectory: "/tmp/x", Threads: 3}) ||
		c.Parallelism != 2 || c.ProcessedRetention != 5 || c.LogLevel != slog.LevelDebug {
		t.Errorf("parsed %+v", c)
	}
	o := c.Orchestrator
	if o.Retries != 4 || o.RetryDelay != time.Second || o.MaxRetryDelay != time.Minute || o.DependsOnPast || o.GracePeriod != 2*time.Minute ||
		etl.Retries == nil || *etl.Retries != 3 || etl.Timeout != 2*time.Hour || o.Tasks[grpipe.TaskBestBooks].Timeout != 5*time.Minute ||
		o.Tasks[grpipe.TaskBestBooks].Retries != nil {
		t.Errorf("orchestrator %+v", o)
	}
	a := c.Alerts
	if !a.OnRetry || a.Webhook.URL != "https://hooks.example.org/x" || a.Webhook.Timeout != 3*time.Second || a.Email.SMTPAddr != "mail.example.org:587" ||
		strings.Join(a.Email.To, " ") != "oncall@example.org ops@example.org" || a.Email.Username != "grpipe" || a.Email.Password != "pw" {
		t.Errorf("alerts %+v", a)
	}
	if c.Web.Addr != "127.0.0.1:9000" || c.Web.Token != "tok" || c.Web.Hosts != nil || c.Web.SecureCookies {
		t.Errorf("web %+v", c.Web)
	}
}

// TestEnvAndFlagsOverride: every environment variable and flag of the table
// overrides the file, the flag the variable.
func TestEnvAndFlagsOverride(t *testing.T) {
	values := map[string]string{"zones": "file:///srv/zones", "warehouse": "duckdb:///srv/wh.duckdb", "max_reject_ratio": "0.5",
		"metadata": "/srv/grpipe.db", "executor": "local",
		"log_level": "warn", "duckdb.memory_limit": "3GB", "duckdb.transform_memory_limit": "700MB", "duckdb.transform_csv_memory_limit": "400MB", "duckdb.warehouse_memory_limit": "300MB", "alerts.webhook.url": "https://h.example.org/", "alerts.email.smtp_addr": "m.example.org:25",
		"alerts.email.password": "secret", "web.token": "t0k", "ucsd_snapshot": "2017-11-01", "web.hosts": "a.example, b.example",
		"parquet_compression": "LZ4_raw"}
	env, flags := map[string]string{}, map[string]string{}
	for _, s := range config.Settings() {
		if s.Env == "" {
			continue
		}
		v, ok := values[s.Key]
		if !ok {
			t.Fatalf("no test value for %s (%s)", s.Key, s.Env)
		}
		env[s.Env] = v
		if s.Flag != "" {
			flags[s.Key] = "file:///flag"
		}
	}
	flags["warehouse"], flags["max_reject_ratio"] = "duckdb:///flag.duckdb", "0.25"
	yaml := "zones: file:///file\nlog_level: error\nalerts:\n  email:\n    from: a@b.c\n    to: [d@e.f]\n"
	c, err := load(t, yaml, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Zones != "file:///srv/zones" || c.LogLevel != slog.LevelWarn || c.DuckDB.TransformMemoryLimit != "700MB" || c.DuckDB.TransformCSVMemoryLimit != "400MB" || c.DuckDB.WarehouseMemoryLimit != "300MB" || c.Alerts.Email.Password != "secret" ||
		c.Web.Token != "t0k" || c.Alerts.Email.SMTPAddr != "m.example.org:25" || c.MaxRejectRatio != 0.5 ||
		!c.UCSDSnapshot.Equal(time.Date(2017, 11, 1, 0, 0, 0, 0, time.UTC)) || c.ParquetCompression != grpipe.LZ4Raw {
		t.Errorf("environment did not override: %+v", c)
	}
	c, err = load(t, yaml, env, flags)
	if err != nil {
		t.Fatal(err)
	}
	if c.Zones != "file:///flag" || c.Warehouse.Location != "/flag.duckdb" || c.MaxRejectRatio != 0.25 {
		t.Errorf("flags did not override: %+v", c)
	}
}

func TestErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		flags      map[string]string
		want       []string
	}{
		{"unknown key lists the settings", "zonez: x\n", nil, nil, []string{`unknown setting "zonez"`, "orchestrator.tasks.<task_id>.timeout", "web.token"}},
		{"unknown nested key", "alerts:\n  pager: yes\n", nil, nil, []string{`"alerts.pager"`}},
		{"not a number", "orchestrator:\n  retries: many\n", nil, nil, []string{"orchestrator.retries", "whole number"}},
		{"not a duration", "orchestrator:\n  retry_delay: soon\n", nil, nil, []string{"orchestrator.retry_delay", "positive duration"}},
		{"not a bool", "orchestrator:\n  depends_on_past: maybe\n", nil, nil, []string{"orchestrator.depends_on_past", "true or false"}},
		{"task timeout", "orchestrator:\n  tasks:\n    GoodReadsETLJob:\n      timeout: 0s\n", nil, nil, []string{"orchestrator.tasks.GoodReadsETLJob.timeout"}},
		{"unknown task", "orchestrator:\n  tasks:\n    Nope:\n      retries: 1\n", nil, nil, []string{"orchestrator.tasks.Nope: no such task", grpipe.TaskETL}},
		{"retries out of range", "orchestrator:\n  retries: 101\n", nil, nil, []string{"orchestrator.retries 101 must be between 0 and 100"}},
		{"log level", "log_level: loud\n", nil, nil, []string{"log_level", "debug, info, warn or error"}},
		{"parquet codec", "parquet_compression: gzip\n", nil, nil, []string{`parquet_compression "gzip" is not one of zstd, snappy, lz4_raw`}},
		{"env", "", map[string]string{"GRPIPE_MAX_REJECT_RATIO": "lots"}, nil, []string{"environment variable GRPIPE_MAX_REJECT_RATIO", `max_reject_ratio "lots"`}},
		{"flag", "", nil, map[string]string{"max_reject_ratio": "lots"}, []string{"flag --max-reject-ratio", `max_reject_ratio "lots"`}},
		{"range after every layer", "max_reject_ratio: 0.5\n", map[string]string{"GRPIPE_MAX_REJECT_RATIO": "5"}, nil, []string{"max_reject_ratio 5 must be between 0 and 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.yaml, tc.env, tc.flags)
			if !errors.Is(err, grpipe.ErrBadInput) {
				t.Fatalf("error %v, want a bad-input error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// A valid value of a layer below is not checked before the layers above apply.
	if _, err := load(t, "max_reject_ratio: 7\n", map[string]string{"GRPIPE_MAX_REJECT_RATIO": "5"}, map[string]string{"max_reject_ratio": "0.5"}); err != nil {
		t.Errorf("a flag in range did not override an env and a file out of range: %v", err)
	}
}

func TestSet(t *testing.T) {
	c := config.Default(t.TempDir())
	for k, v := range map[string]string{"orchestrator.retry_delay": "10ms", "warehouse": "postgres://u@h/db", "orchestrator.tasks.Stop_execution.retries": "0"} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if c.Orchestrator.RetryDelay != 10*time.Millisecond || c.Warehouse.Kind != config.PostgresWarehouse || *c.Orchestrator.Tasks[grpipe.TaskStop].Retries != 0 {
		t.Errorf("Set: %+v", c)
	}
	if err := c.Set("nope", "1"); !errors.Is(err, grpipe.ErrBadInput) {
		t.Errorf("Set of an unknown key: %v", err)
	}
}

// TestREADMEListsTheSettings: the README's configuration examples name
// every setting of the table, and its environment variable.
func TestREADMEListsTheSettings(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range config.Settings() {
		leaf := s.Key[strings.LastIndex(s.Key, ".")+1:]
		if !strings.Contains(readme, leaf+":") && !strings.Contains(readme, s.Key) {
			t.Errorf("README does not show %s", s.Key)
		}
		if s.Env != "" && !strings.Contains(readme, s.Env) {
			t.Errorf("README does not name %s (%s)", s.Env, s.Key)
		}
	}
}

// TestDistributedNeedsSharedSettings: executor distributed refuses, naming
// each one, the settings other machines could not share (SQLite metadata,
// the embedded DuckDB warehouse, local zones), and accepts shared ones.
func TestDistributedNeedsSharedSettings(t *testing.T) {
	home := t.TempDir()
	c, err := config.Load(home, envMap{"GRPIPE_EXECUTOR": "distributed"}.get, nil)
	if err == nil {
		t.Fatalf("distributed on local settings accepted: %+v", c)
	}
	for _, want := range []string{"GRPIPE_METADATA", "GRPIPE_WAREHOUSE", "GRPIPE_ZONES", "SQLite", "DuckDB", "s3://"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not name %s: %v", want, err)
		}
	}
	shared := map[string]string{"GRPIPE_EXECUTOR": "distributed", "GRPIPE_METADATA": "postgres://grpipe@db:5432/meta",
		"GRPIPE_WAREHOUSE": "postgres://grpipe@db:5432/wh", "GRPIPE_ZONES": "s3://bucket/zones?region=eu-west-1"}
	if c, err := config.Load(home, envMap(shared).get, nil); err != nil || c.Executor != config.ExecutorDistributed || !c.MetadataOnPostgres() {
		t.Fatalf("shared settings refused: %v", err)
	}
	if _, err := config.Load(home, envMap{"GRPIPE_EXECUTOR": "remote"}.get, nil); err == nil || !strings.Contains(err.Error(), "executor") {
		t.Fatalf("unknown executor: %v", err)
	}
}

type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }

// TestMemoryLimits: duckdb.memory_limit sets every engine's limit; an
// engine's own setting wins over it in the same source (in a file whatever
// the order of its keys), and a later source wins over an earlier one. A
// batch of CSV files only gets transform_csv_memory_limit when it is lower
// than the transform's limit, the transform's own ("") otherwise.
func TestMemoryLimits(t *testing.T) {
	cases := []struct {
		name, yaml               string
		env                      map[string]string
		transform, csv, warehous string
	}{
		{"defaults", "", nil, "1GB", "512MB", "512MB"},
		{"both from the file", "duckdb:\n  memory_limit: 3GB\n", nil, "3GB", "", "3GB"},
		{"own setting after memory_limit", "duckdb:\n  memory_limit: 3GB\n  warehouse_memory_limit: 256MB\n", nil, "3GB", "", "256MB"},
		{"own setting before memory_limit", "duckdb:\n  transform_memory_limit: 700MB\n  memory_limit: 3GB\n", nil, "700MB", "", "3GB"},
		{"env over file", "duckdb:\n  transform_memory_limit: 700MB\n", map[string]string{"GRPIPE_DUCKDB_MEMORY_LIMIT": "2GB"}, "2GB", "", "2GB"},
		{"env, own wins", "", map[string]string{"GRPIPE_DUCKDB_MEMORY_LIMIT": "2GB", "GRPIPE_DUCKDB_WAREHOUSE_MEMORY_LIMIT": "600MB"}, "2GB", "", "600MB"},
		{"CSV limit above the transform's", "duckdb:\n  transform_memory_limit: 400MiB\n", nil, "400MiB", "", "512MB"},
		{"CSV limit in other units", "duckdb:\n  transform_csv_memory_limit: 0.75 GiB\n", nil, "1GB", "0.75 GiB", "512MB"},
		{"CSV limit from the env", "duckdb:\n  memory_limit: 2GB\n", map[string]string{"GRPIPE_DUCKDB_TRANSFORM_CSV_MEMORY_LIMIT": "600MB"}, "2GB", "600MB", "2GB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.yaml, tc.env, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := c.DuckDB
			if d.TransformMemoryLimit != tc.transform || d.CSVTransformLimit() != tc.csv || d.WarehouseMemoryLimit != tc.warehous {
				t.Errorf("transform %q, CSV batches %q, warehouse %q; want %q, %q, %q", d.TransformMemoryLimit, d.CSVTransformLimit(), d.WarehouseMemoryLimit, tc.transform, tc.csv, tc.warehous)
			}
		})
	}
}
