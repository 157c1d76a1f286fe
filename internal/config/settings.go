package config

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Setting is one setting: where it is given and how its text becomes a
// typed value of Config.
type Setting struct {
	// Key is its name in grpipe.yaml (a.b.c for nested keys; <task_id>
	// stands for any task id).
	Key string
	// Env is its environment variable, "" when it has none.
	Env string
	// Flag is its command-line flag (without the dashes), "" when it has none.
	Flag string
	// Default is its default as text ("<home>" stands for the home), "" for none.
	Default string
	// Doc says what it is, for a flag's usage.
	Doc string
	// set parses v into c; arg is the task id of a <task_id> key.
	set func(c *Config, v, arg string) error
}

// settings is the one table of settings, in the order the README lists them.
var settings = []Setting{
	{Key: "zones", Env: "GRPIPE_ZONES", Flag: "zones", Default: "file://<home>/zones",
		Doc: "zones `URL`: file:///path or s3://bucket/prefix?endpoint=...",
		set: func(c *Config, v, _ string) error { c.Zones = v; return nil }},
	{Key: "warehouse", Env: "GRPIPE_WAREHOUSE", Flag: "warehouse", Default: "duckdb://<home>/warehouse.duckdb",
		Doc: "warehouse `DSN`: duckdb:///path or postgres://...",
		set: func(c *Config, v, _ string) (err error) { c.Warehouse, err = parseWarehouse(v, c.Home); return err }},
	{Key: "metadata", Env: "GRPIPE_METADATA", Flag: "metadata", Default: "<home>/grpipe.db",
		Doc: "run metadata: a SQLite `PATH` or postgres://... (shared by several machines)",
		set: func(c *Config, v, _ string) error { c.Metadata = v; return nil }},
	{Key: "executor", Env: "GRPIPE_EXECUTOR", Default: "local",
		Doc: "where tasks run: local (this process) or distributed (grpipe worker processes)",
		set: func(c *Config, v, _ string) error { c.Executor = v; return nil }},
	{Key: "max_reject_ratio", Env: "GRPIPE_MAX_REJECT_RATIO", Flag: "max-reject-ratio", Default: "0.01",
		Doc: "refuse a file whose rejected share exceeds `RATIO`",
		set: func(c *Config, v, _ string) error {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%w: max_reject_ratio %q is not a number from 0 to 1 (e.g. 0.01 for 1%%)", grpipe.ErrBadInput, v)
			}
			c.MaxRejectRatio = x
			return nil
		}},
	{Key: "analytics.window_start", set: func(c *Config, v, _ string) (err error) {
		c.Analytics.WindowStart, err = parseTime("analytics.window_start", v)
		return err
	}},
	{Key: "analytics.window_end", set: func(c *Config, v, _ string) (err error) {
		c.Analytics.WindowEnd, err = parseTime("analytics.window_end", v)
		return err
	}},
	{Key: "analytics.window_from_data_interval", Default: "false",
		set: func(c *Config, v, _ string) error {
			return parseBool("analytics.window_from_data_interval", v, &c.Analytics.WindowFromDataInterval)
		}},
	// Two engines, two limits: the transform's DuckDB (dedup, source keys,
	// Parquet) and the warehouse's (stage, upsert, checks, analytics, and
	// the Parquet scan of a PostgreSQL load) never work at once, and each
	// spills to temp_directory beyond its limit. memory_limit sets both; an
	// engine's own setting wins over it within the same source (file keys
	// are applied in order of name, so memory_limit first). Defaults chosen
	// by measurement (BENCHMARKS.md, "Two memory limits" and "Full scale"):
	// at 1GB the transform carries the full UCSD dumps (15.7 M reviews) since
	// its source keys are grouped in parts.
	// A batch of CSV files only (the Goodreads format) is deduplicated
	// under the lower transform_csv_memory_limit: at 512MB the 11.4 GB
	// batch's transform peaks 0.4 GiB lower than at 1GB at the same CPU
	// time (BENCHMARKS.md, "Round 6"); a dedup that runs out of memory
	// under it runs again under transform_memory_limit.
	{Key: "duckdb.memory_limit", Env: "GRPIPE_DUCKDB_MEMORY_LIMIT",
		set: func(c *Config, v, _ string) error {
			c.DuckDB.TransformMemoryLimit, c.DuckDB.TransformCSVMemoryLimit, c.DuckDB.WarehouseMemoryLimit = v, v, v
			return checkMemoryLimit("duckdb.memory_limit", "GRPIPE_DUCKDB_MEMORY_LIMIT", v)
		}},
	{Key: "duckdb.transform_csv_memory_limit", Env: "GRPIPE_DUCKDB_TRANSFORM_CSV_MEMORY_LIMIT", Default: "512MB",
		set: func(c *Config, v, _ string) error {
			c.DuckDB.TransformCSVMemoryLimit = v
			return checkMemoryLimit("duckdb.transform_csv_memory_limit", "GRPIPE_DUCKDB_TRANSFORM_CSV_MEMORY_LIMIT", v)
		}},
	{Key: "duckdb.transform_memory_limit", Env: "GRPIPE_DUCKDB_TRANSFORM_MEMORY_LIMIT", Default: "1GB",
		set: func(c *Config, v, _ string) error {
			c.DuckDB.TransformMemoryLimit = v
			return checkMemoryLimit("duckdb.transform_memory_limit", "GRPIPE_DUCKDB_TRANSFORM_MEMORY_LIMIT", v)
		}},
	{Key: "duckdb.warehouse_memory_limit", Env: "GRPIPE_DUCKDB_WAREHOUSE_MEMORY_LIMIT", Default: "512MB",
		set: func(c *Config, v, _ string) error {
			c.DuckDB.WarehouseMemoryLimit = v
			return checkMemoryLimit("duckdb.warehouse_memory_limit", "GRPIPE_DUCKDB_WAREHOUSE_MEMORY_LIMIT", v)
		}},
	{Key: "duckdb.temp_directory", Default: "<home>/tmp/duckdb",
		set: func(c *Config, v, _ string) error { c.DuckDB.TempDirectory = v; return nil }},
	{Key: "duckdb.threads", Default: "0", set: func(c *Config, v, _ string) error { return parseInt("duckdb.threads", v, &c.DuckDB.Threads) }},
	{Key: "parallelism", Default: "0", set: func(c *Config, v, _ string) error { return parseInt("parallelism", v, &c.Parallelism) }},
	{Key: "parquet_compression", Env: "GRPIPE_PARQUET_COMPRESSION", Default: string(grpipe.DefaultCompression),
		Doc: "codec of the processed zone's Parquet: zstd, snappy or lz4_raw",
		set: func(c *Config, v, _ string) (err error) {
			c.ParquetCompression, err = grpipe.ParseCompression(v)
			return err
		}},
	{Key: "processed_retention", Default: "0",
		set: func(c *Config, v, _ string) error { return parseInt("processed_retention", v, &c.ProcessedRetention) }},
	{Key: "log_level", Env: "GRPIPE_LOG_LEVEL", Default: "info", set: func(c *Config, v, _ string) error {
		levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
		l, ok := levels[v]
		if !ok {
			return fmt.Errorf("%w: log_level %q must be debug, info, warn or error", grpipe.ErrBadInput, v)
		}
		c.LogLevel = l
		return nil
	}},
	{Key: "ucsd_snapshot", Env: "GRPIPE_UCSD_SNAPSHOT",
		set: func(c *Config, v, _ string) (err error) { c.UCSDSnapshot, err = parseSnapshot(v); return err }},
	{Key: "orchestrator.retries", Default: "2",
		set: func(c *Config, v, _ string) error {
			return parseInt("orchestrator.retries", v, &c.Orchestrator.Retries)
		}},
	{Key: "orchestrator.retry_delay", Default: "10s",
		set: func(c *Config, v, _ string) error {
			return parseDuration("orchestrator.retry_delay", v, &c.Orchestrator.RetryDelay)
		}},
	{Key: "orchestrator.max_retry_delay", Default: "5m",
		set: func(c *Config, v, _ string) error {
			return parseDuration("orchestrator.max_retry_delay", v, &c.Orchestrator.MaxRetryDelay)
		}},
	{Key: "orchestrator.depends_on_past", Default: "true",
		set: func(c *Config, v, _ string) error {
			return parseBool("orchestrator.depends_on_past", v, &c.Orchestrator.DependsOnPast)
		}},
	{Key: "orchestrator.grace_period", Default: "30s",
		set: func(c *Config, v, _ string) error {
			return parseDuration("orchestrator.grace_period", v, &c.Orchestrator.GracePeriod)
		}},
	{Key: "orchestrator.tasks.<task_id>.retries", set: func(c *Config, v, id string) error {
		var n int
		if err := parseInt("orchestrator.tasks."+id+".retries", v, &n); err != nil {
			return err
		}
		t := c.task(id)
		t.Retries = &n
		c.Orchestrator.Tasks[id] = t
		return nil
	}},
	{Key: "orchestrator.tasks.<task_id>.timeout", set: func(c *Config, v, id string) error {
		t := c.task(id)
		if err := parseDuration("orchestrator.tasks."+id+".timeout", v, &t.Timeout); err != nil {
			return err
		}
		c.Orchestrator.Tasks[id] = t
		return nil
	}},
	{Key: "alerts.on_retry", Default: "false", set: func(c *Config, v, _ string) error { return parseBool("alerts.on_retry", v, &c.Alerts.OnRetry) }},
	{Key: "alerts.webhook.url", Env: "GRPIPE_ALERTS_WEBHOOK_URL", set: func(c *Config, v, _ string) error { c.Alerts.Webhook.URL = v; return nil }},
	{Key: "alerts.webhook.timeout", Default: "10s",
		set: func(c *Config, v, _ string) error {
			return parseDuration("alerts.webhook.timeout", v, &c.Alerts.Webhook.Timeout)
		}},
	{Key: "alerts.email.smtp_addr", Env: "GRPIPE_ALERTS_SMTP_ADDR", set: func(c *Config, v, _ string) error { c.Alerts.Email.SMTPAddr = v; return nil }},
	{Key: "alerts.email.from", set: func(c *Config, v, _ string) error { c.Alerts.Email.From = v; return nil }},
	{Key: "alerts.email.to", set: func(c *Config, v, _ string) error {
		c.Alerts.Email.To = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.Alerts.Email.To = append(c.Alerts.Email.To, a)
			}
		}
		return nil
	}},
	{Key: "alerts.email.username", set: func(c *Config, v, _ string) error { c.Alerts.Email.Username = v; return nil }},
	{Key: "alerts.email.password", Env: "GRPIPE_ALERTS_SMTP_PASSWORD", set: func(c *Config, v, _ string) error { c.Alerts.Email.Password = v; return nil }},
	{Key: "web.addr", Default: "127.0.0.1:8080", set: func(c *Config, v, _ string) error { c.Web.Addr = v; return nil }},
	{Key: "web.token", Env: "GRPIPE_WEB_TOKEN", set: func(c *Config, v, _ string) error { c.Web.Token = v; return nil }},
	{Key: "web.hosts", Env: "GRPIPE_WEB_HOSTS", set: func(c *Config, v, _ string) error {
		c.Web.Hosts = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.Web.Hosts = append(c.Web.Hosts, h)
			}
		}
		return nil
	}},
	{Key: "web.secure_cookies", Default: "false", set: func(c *Config, v, _ string) error {
		return parseBool("web.secure_cookies", v, &c.Web.SecureCookies)
	}},
}

// taskKey is the placeholder of a task id in a setting's key.
const taskKey = "<task_id>"

// task returns the per-task settings of id, creating the map if needed.
func (c *Config) task(id string) TaskSettings {
	if c.Orchestrator.Tasks == nil {
		c.Orchestrator.Tasks = map[string]TaskSettings{}
	}
	return c.Orchestrator.Tasks[id]
}

// Settings returns the table of settings.
func Settings() []Setting { return slices.Clone(settings) }

// Keys returns every setting's key, in the table's order.
func Keys() []string {
	keys := make([]string, len(settings))
	for i, s := range settings {
		keys[i] = s.Key
	}
	return keys
}

// SettingByKey returns the setting whose key is key; it panics on a key
// the table does not have (a programming error).
func SettingByKey(key string) Setting {
	s, _, ok := lookup(key)
	if !ok {
		panic("config: no setting " + key)
	}
	return s
}

// lookup finds the setting of a key, and the task id of a per-task key.
func lookup(key string) (Setting, string, bool) {
	for _, s := range settings {
		if s.Key == key {
			return s, "", true
		}
		prefix, suffix, ok := strings.Cut(s.Key, taskKey)
		if ok && strings.HasPrefix(key, prefix) && strings.HasSuffix(key, suffix) && len(key) > len(prefix)+len(suffix) {
			id := key[len(prefix) : len(key)-len(suffix)]
			if !strings.Contains(id, ".") {
				return s, id, true
			}
		}
	}
	return Setting{}, "", false
}

// FlagUsage is the usage line of the setting's flag: what it is, its
// environment variable and default.
func (s Setting) FlagUsage() string {
	u := s.Doc
	var more []string
	if s.Env != "" {
		more = append(more, "env "+s.Env)
	}
	if s.Default != "" {
		more = append(more, "default "+s.Default)
	}
	if len(more) > 0 {
		u += " (" + strings.Join(more, ", ") + ")"
	}
	return u
}

func parseInt(key, v string, into *int) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%w: %s %q must be a whole number", grpipe.ErrBadInput, key, v)
	}
	*into = n
	return nil
}

func parseBool(key, v string, into *bool) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%w: %s %q must be true or false", grpipe.ErrBadInput, key, v)
	}
	*into = b
	return nil
}

func parseDuration(key, v string, into *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%w: %s %q must be a positive duration such as 30s, 5m or 2h", grpipe.ErrBadInput, key, v)
	}
	*into = d
	return nil
}
