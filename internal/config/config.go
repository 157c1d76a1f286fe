// Package config loads grpipe's settings once into typed values: defaults,
// then the home's grpipe.yaml, then GRPIPE_* environment variables, then
// command-line flags, each overriding the one before.
//
// Every setting is one row of one table (settings.go): its key in
// grpipe.yaml, its environment variable and flag when it has them, its
// default, and how its text becomes a typed value. Load, Default, the flags
// of cmd/grpipe, and the list of settings in an error all read that table.
// A new setting is a field of Config and a row of the table.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/goccy/go-yaml"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/redact"
)

// FileName is the config file's name inside the home.
const FileName = "grpipe.yaml"

// Config is grpipe's configuration, parsed and checked.
type Config struct {
	// Home holds the config file, the zones, the warehouse and the run metadata.
	Home string
	// Zones is the object store URL of the zones: file:///path or s3://bucket/prefix?endpoint=...
	Zones string
	// Warehouse is the warehouse: an embedded DuckDB file or a PostgreSQL server.
	Warehouse Warehouse
	// Metadata is the run metadata database: the path of a SQLite file, or
	// a postgres:// URL (shared by processes on several machines).
	Metadata string
	// Executor says where tasks run: ExecutorLocal (in the process that
	// executes the run) or ExecutorDistributed (grpipe worker processes,
	// through a queue in the metadata database).
	Executor string
	// MaxRejectRatio is the share of rejected rows above which a file is refused whole.
	MaxRejectRatio float64
	// Analytics configures the analytics tables.
	Analytics Analytics
	// DuckDB tunes the DuckDB engines (transform and embedded warehouse).
	DuckDB DuckDB
	// Parallelism bounds concurrent file validations and DAG tasks (0: defaults).
	Parallelism int
	// ParquetCompression is the codec of the processed zone's Parquet.
	ParquetCompression grpipe.Compression
	// ProcessedRetention is how many batches' Parquet the processed zone keeps
	// (the newest; 0 keeps every batch).
	ProcessedRetention int
	// LogLevel is the least level logged.
	LogLevel slog.Level
	// UCSDSnapshot is the record_create_timestamp given to the books,
	// authors and users of a UCSD Book Graph dump; zero means the pipeline's
	// default (2017-12-01: the crawl ended in late 2017).
	UCSDSnapshot time.Time
	// Orchestrator configures retries, depends_on_past and shutdown.
	Orchestrator Orchestrator
	// Alerts says where failed runs are reported.
	Alerts Alerts
	// Web configures the web UI and API (grpipe serve, grpipe scheduler --web).
	Web Web
}

// Warehouse is a parsed warehouse setting.
type Warehouse struct {
	// URL is the setting as given (show it through Redact).
	URL string
	// Kind is the backend: duckdb or postgres.
	Kind string
	// Location is the DuckDB file's absolute path, or the PostgreSQL DSN.
	Location string
}

// The warehouse backends.
const (
	DuckDBWarehouse   = "duckdb"
	PostgresWarehouse = "postgres"
)

// Web configures the web UI and API.
type Web struct {
	// Addr is the listen address.
	Addr string
	// Token, when set, is required on every page and API call.
	Token string
	// Hosts are further host names the UI is reached by (without a token,
	// other Host headers are refused).
	Hosts []string
	// SecureCookies marks cookies Secure: a proxy in front serves HTTPS.
	SecureCookies bool
}

// Orchestrator configures how the DAG's tasks are run.
type Orchestrator struct {
	// Retries is the number of retries of a failed task.
	Retries int
	// RetryDelay is the wait before the first retry, doubled for each next
	// one up to MaxRetryDelay.
	RetryDelay, MaxRetryDelay time.Duration
	// DependsOnPast keeps a task of a queued run from starting while the same
	// task of the previous run failed (as the original).
	DependsOnPast bool
	// GracePeriod is how long the running task may finish after SIGTERM.
	GracePeriod time.Duration
	// Tasks overrides retries and timeout per task id.
	Tasks map[string]TaskSettings
}

// TaskSettings override one task's retries and timeout.
type TaskSettings struct {
	// Retries, when set, replaces orchestrator.retries.
	Retries *int
	// Timeout, when positive, replaces the task's default timeout.
	Timeout time.Duration
}

// Alerts says where failed runs (and optionally retries) are reported.
type Alerts struct {
	// OnRetry also alerts when a failed task will be retried.
	OnRetry bool
	// Webhook receives a JSON POST.
	Webhook Webhook
	// Email is sent through an SMTP server.
	Email Email
}

// Webhook is an HTTP endpoint for alerts.
type Webhook struct {
	URL     string
	Timeout time.Duration
}

// Email is an SMTP server and the addresses of alerts.
type Email struct {
	SMTPAddr string
	From     string
	To       []string
	Username string
	Password string
}

// Analytics configures the window of reviews the analytics tables count.
type Analytics struct {
	// WindowStart and WindowEnd bound record_create_timestamp, [start, end);
	// zero for open-ended.
	WindowStart, WindowEnd time.Time
	// WindowFromDataInterval makes scheduled runs count the reviews of their
	// data interval instead (runs without one use the window above).
	WindowFromDataInterval bool
}

// DuckDB tunes DuckDB.
type DuckDB struct {
	// TransformMemoryLimit caps the transform's engine (dedup, source keys,
	// Parquet writing), WarehouseMemoryLimit the embedded warehouse's
	// connection and the Parquet scan of a PostgreSQL load: DuckDB amounts
	// such as 1GB or 512MiB, beyond which each spills to TempDirectory.
	TransformMemoryLimit, WarehouseMemoryLimit string
	// TransformCSVMemoryLimit caps the transform's engine while it
	// deduplicates a batch of CSV files only, when lower than
	// TransformMemoryLimit (CSVTransformLimit).
	TransformCSVMemoryLimit string
	TempDirectory           string
	Threads                 int
}

// Default returns the defaults for a home, from the settings table.
func Default(home string) Config {
	c := Config{Home: home}
	for _, s := range settings {
		if s.Default == "" {
			continue
		}
		if err := s.set(&c, strings.ReplaceAll(s.Default, "<home>", home), ""); err != nil {
			panic(fmt.Sprintf("config: the default of %s does not parse: %v", s.Key, err))
		}
	}
	return c
}

// HomeFrom returns the home: the flag's value, else GRPIPE_HOME, else ./grpipe-home, made absolute.
func HomeFrom(flag string, getenv func(string) string) (string, error) {
	home := flag
	if home == "" {
		home = getenv("GRPIPE_HOME")
	}
	if home == "" {
		home = "grpipe-home"
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", fmt.Errorf("home %q: %w", home, err)
	}
	return abs, nil
}

// Load builds the configuration of home: the defaults, the config file if
// present, then the environment (getenv), then flags (the non-empty values
// of the flags map, keyed by setting key), and checks it.
func Load(home string, getenv func(string) string, flags map[string]string) (Config, error) {
	c := Default(home)
	path := filepath.Join(home, FileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := c.loadFile(path, b); err != nil {
			return c, err
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return c, fmt.Errorf("config file %s: %w", path, err)
	}
	for _, s := range settings {
		if v := getenv(s.Env); s.Env != "" && v != "" {
			if err := s.set(&c, v, ""); err != nil {
				return c, fmt.Errorf("environment variable %s: %w", s.Env, err)
			}
		}
	}
	for key, v := range flags {
		s := SettingByKey(key)
		if s.Flag == "" {
			return c, fmt.Errorf("config: %s has no flag", key)
		}
		if v == "" {
			continue
		}
		if err := s.set(&c, v, ""); err != nil {
			return c, fmt.Errorf("flag --%s: %w", s.Flag, err)
		}
	}
	return c, c.Validate()
}

// loadFile applies the settings of a grpipe.yaml.
func (c *Config) loadFile(path string, b []byte) error {
	var tree map[string]any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		return fmt.Errorf("%w: config file %s: %s", grpipe.ErrBadInput, path, yaml.FormatError(err, false, true))
	}
	values := map[string]string{}
	if err := flatten("", tree, values); err != nil {
		return fmt.Errorf("%w: config file %s: %v", grpipe.ErrBadInput, path, err)
	}
	// In order of name, so that duckdb.memory_limit (both engines) comes
	// before the engines' own limits, which win over it.
	for _, key := range slices.Sorted(maps.Keys(values)) {
		v := values[key]
		s, arg, ok := lookup(key)
		if !ok && v == "" && isSection(key) {
			continue // an empty section (tasks:)
		}
		if !ok {
			return fmt.Errorf("%w: config file %s: unknown setting %q (settings: %s)", grpipe.ErrBadInput, path, key, strings.Join(Keys(), ", "))
		}
		if v == "" {
			continue // as if unset
		}
		if err := s.set(c, v, arg); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
	}
	return nil
}

// isSection reports whether key is the section (a.b) of some setting (a.b.c).
func isSection(key string) bool {
	for _, k := range Keys() {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// flatten turns a YAML tree into setting keys (a.b.c) and their values as
// text; a list becomes its items joined by commas.
func flatten(prefix string, v any, out map[string]string) error {
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			if err := flatten(key, sub, out); err != nil {
				return err
			}
		}
	case []any:
		items := make([]string, len(t))
		for i, x := range t {
			if _, nested := x.(map[string]any); nested {
				return fmt.Errorf("setting %s: give a list of values", prefix)
			}
			items[i] = fmt.Sprint(x)
		}
		out[prefix] = strings.Join(items, ",")
	case nil:
		out[prefix] = ""
	default:
		out[prefix] = fmt.Sprint(t)
	}
	return nil
}

// Set sets the setting key (as in grpipe.yaml: orchestrator.retry_delay,
// orchestrator.tasks.GoodReadsETLJob.timeout) from its text, as Load does;
// the error names the setting. Tests tune configurations through it.
func (c *Config) Set(key, value string) error {
	s, arg, ok := lookup(key)
	if !ok {
		return fmt.Errorf("%w: unknown setting %q (settings: %s)", grpipe.ErrBadInput, key, strings.Join(Keys(), ", "))
	}
	return s.set(c, value, arg)
}

// Validate checks what no single setting can: ranges, and settings that go
// together. The error names the setting at fault.
func (c Config) Validate() error {
	if c.MaxRejectRatio < 0 || c.MaxRejectRatio > 1 {
		return fmt.Errorf("%w: max_reject_ratio %v must be between 0 and 1 (0.01 is 1%%)", grpipe.ErrBadInput, c.MaxRejectRatio)
	}
	if err := checkZones(c.Zones); err != nil {
		return err
	}
	if c.Warehouse.Kind == "" {
		return fmt.Errorf("%w: no warehouse: set warehouse (env GRPIPE_WAREHOUSE, flag --warehouse)", grpipe.ErrBadInput)
	}
	if w := c.Analytics; !w.WindowStart.IsZero() && !w.WindowEnd.IsZero() && !w.WindowStart.Before(w.WindowEnd) {
		return fmt.Errorf("%w: analytics.window_start %s is not before analytics.window_end %s: the window would hold no review", grpipe.ErrBadInput,
			w.WindowStart.Format(time.RFC3339), w.WindowEnd.Format(time.RFC3339))
	}
	if c.ProcessedRetention < 0 {
		return fmt.Errorf("%w: processed_retention %d must not be negative (0 keeps every batch)", grpipe.ErrBadInput, c.ProcessedRetention)
	}
	if c.ProcessedRetention > maxRetention {
		return fmt.Errorf("%w: processed_retention %d is more than %d batches: use 0 to keep every batch", grpipe.ErrBadInput, c.ProcessedRetention, maxRetention)
	}
	for _, n := range []struct {
		key  string
		v    int
		most int
	}{{"parallelism", c.Parallelism, maxParallelism}, {"duckdb.threads", c.DuckDB.Threads, maxThreads}} {
		if n.v < 0 || n.v > n.most {
			return fmt.Errorf("%w: %s %d must be between 0 (the default: one per core) and %d", grpipe.ErrBadInput, n.key, n.v, n.most)
		}
	}
	if err := checkMemoryLimit("duckdb.transform_memory_limit", "GRPIPE_DUCKDB_TRANSFORM_MEMORY_LIMIT", c.DuckDB.TransformMemoryLimit); err != nil {
		return err
	}
	if err := checkMemoryLimit("duckdb.transform_csv_memory_limit", "GRPIPE_DUCKDB_TRANSFORM_CSV_MEMORY_LIMIT", c.DuckDB.TransformCSVMemoryLimit); err != nil {
		return err
	}
	if err := checkMemoryLimit("duckdb.warehouse_memory_limit", "GRPIPE_DUCKDB_WAREHOUSE_MEMORY_LIMIT", c.DuckDB.WarehouseMemoryLimit); err != nil {
		return err
	}
	o := c.Orchestrator
	if o.Retries < 0 || o.Retries > maxRetries {
		return fmt.Errorf("%w: orchestrator.retries %d must be between 0 and %d", grpipe.ErrBadInput, o.Retries, maxRetries)
	}
	for _, d := range []struct {
		key  string
		v    time.Duration
		most time.Duration
	}{{"orchestrator.retry_delay", o.RetryDelay, maxDelay}, {"orchestrator.max_retry_delay", o.MaxRetryDelay, maxDelay},
		{"orchestrator.grace_period", o.GracePeriod, maxDelay}, {"alerts.webhook.timeout", c.Alerts.Webhook.Timeout, maxWebhookTimeout}} {
		if d.v > d.most {
			return fmt.Errorf("%w: %s %s is longer than %s", grpipe.ErrBadInput, d.key, d.v, d.most)
		}
	}
	for id, t := range o.Tasks {
		if _, err := grpipe.TaskByID(id); err != nil {
			return fmt.Errorf("%w: orchestrator.tasks.%s: no such task; the task ids are %s", grpipe.ErrBadInput, id, strings.Join(grpipe.TaskIDs(), ", "))
		}
		if t.Retries != nil && (*t.Retries < 0 || *t.Retries > maxRetries) {
			return fmt.Errorf("%w: orchestrator.tasks.%s.retries %d must be between 0 and %d", grpipe.ErrBadInput, id, *t.Retries, maxRetries)
		}
		if t.Timeout > maxTaskTimeout {
			return fmt.Errorf("%w: orchestrator.tasks.%s.timeout %s is longer than %s", grpipe.ErrBadInput, id, t.Timeout, maxTaskTimeout)
		}
	}
	if err := c.validateWeb(); err != nil {
		return err
	}
	if err := c.validateExecutor(); err != nil {
		return err
	}
	return c.validateAlerts()
}

// The executors.
const (
	ExecutorLocal       = "local"
	ExecutorDistributed = "distributed"
)

// MetadataOnPostgres reports whether the run metadata is in PostgreSQL.
func (c Config) MetadataOnPostgres() bool {
	return strings.HasPrefix(c.Metadata, "postgres://") || strings.HasPrefix(c.Metadata, "postgresql://")
}

// validateExecutor refuses a distributed configuration that processes on
// several machines could not share, naming each setting at fault.
func (c Config) validateExecutor() error {
	switch c.Executor {
	case ExecutorLocal:
		return nil
	case ExecutorDistributed:
	default:
		return fmt.Errorf("%w: executor %q must be %s or %s (env GRPIPE_EXECUTOR)", grpipe.ErrBadInput, c.Executor, ExecutorLocal, ExecutorDistributed)
	}
	var bad []string
	if !c.MetadataOnPostgres() {
		bad = append(bad, fmt.Sprintf("metadata is the SQLite file %s, which only this machine can open: give a postgres:// URL (setting metadata, env GRPIPE_METADATA, flag --metadata)", c.Metadata))
	}
	if c.Warehouse.Kind == DuckDBWarehouse {
		bad = append(bad, fmt.Sprintf("warehouse is the embedded DuckDB file %s, which one process on one machine can open: give a postgres:// warehouse (setting warehouse, env GRPIPE_WAREHOUSE, flag --warehouse)", c.Warehouse.Location))
	}
	if u, err := url.Parse(c.Zones); err == nil && u.Scheme == "file" {
		bad = append(bad, fmt.Sprintf("zones are the local folder %s, which workers on other machines cannot see: give an s3:// URL (setting zones, env GRPIPE_ZONES, flag --zones)", u.Path))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: executor distributed needs settings every machine shares:\n  - %s", grpipe.ErrBadInput, strings.Join(bad, "\n  - "))
	}
	return nil
}

// Upper bounds of numeric settings: beyond them a value is a mistake (and
// some, such as a hundred thousand DuckDB threads, abort the process).
const (
	maxRetries        = 100
	maxParallelism    = 256
	maxThreads        = 256
	maxRetention      = 1_000_000
	maxDelay          = 24 * time.Hour
	maxTaskTimeout    = 7 * 24 * time.Hour
	maxWebhookTimeout = 10 * time.Minute
	maxMemoryLimit    = 1 << 50 // 1 PiB
)

// checkMemoryLimit accepts what DuckDB's memory_limit takes: a positive
// number of bytes with a unit (2GB, 512MiB, 1.5 GB), at most maxMemoryLimit;
// the error names the setting key and its environment variable env.
func checkMemoryLimit(key, env, v string) error {
	if n, ok := memoryBytes(v); ok && n >= 1<<20 && n <= maxMemoryLimit {
		return nil
	}
	return fmt.Errorf("%w: %s %q must be an amount of memory from 1MB to 1PiB, such as 2GB or 512MiB (env %s)", grpipe.ErrBadInput, key, v, env)
}

// memoryBytes reads a DuckDB amount of memory (2GB, 512MiB, 1.5 GB) as bytes.
func memoryBytes(v string) (float64, bool) {
	units := map[string]float64{"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
	s := strings.ToLower(strings.TrimSpace(v))
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i > 0 {
		if n, err := strconv.ParseFloat(s[:i], 64); err == nil && n > 0 && !math.IsInf(n, 0) {
			if u, ok := units[strings.TrimSpace(s[i:])]; ok {
				return n * u, true
			}
		}
	}
	return 0, false
}

// CSVTransformLimit is the transform engine's memory_limit for a batch of
// CSV files only: TransformCSVMemoryLimit when it is lower than
// TransformMemoryLimit, "" (the engine's own) otherwise.
func (d DuckDB) CSVTransformLimit() string {
	csv, ok := memoryBytes(d.TransformCSVMemoryLimit)
	own, ownOK := memoryBytes(d.TransformMemoryLimit)
	if !ok || !ownOK || csv >= own {
		return ""
	}
	return d.TransformCSVMemoryLimit
}

// validateWeb refuses a blank or padded token and malformed host names.
func (c Config) validateWeb() error {
	w := c.Web
	if w.Token != "" && strings.TrimSpace(w.Token) == "" {
		return fmt.Errorf("%w: web.token (env GRPIPE_WEB_TOKEN) is blank: set a real secret (e.g. `openssl rand -hex 16`), or unset it to serve on loopback only", grpipe.ErrBadInput)
	}
	if strings.TrimFunc(w.Token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) != w.Token {
		return fmt.Errorf("%w: web.token (env GRPIPE_WEB_TOKEN) begins or ends with white space or a control character: remove it", grpipe.ErrBadInput)
	}
	for _, h := range w.Hosts {
		if strings.ContainsAny(h, "/\\@ \t:") {
			return fmt.Errorf("%w: web.hosts %q: give bare host names, such as grpipe.internal (env GRPIPE_WEB_HOSTS, comma-separated)", grpipe.ErrBadInput, h)
		}
	}
	return nil
}

func checkZones(zones string) error {
	u, err := url.Parse(zones)
	if err != nil || (u.Scheme != "file" && u.Scheme != "s3") {
		return fmt.Errorf("%w: zones %q must be a file:///path or s3://bucket/prefix URL", grpipe.ErrBadInput, Redact(zones))
	}
	if u.Scheme == "file" && (u.Host != "" || !strings.HasPrefix(u.Path, "/")) {
		return fmt.Errorf("%w: zones %q: a file URL takes an absolute path after three slashes, as in file:///srv/grpipe/zones (setting zones, env GRPIPE_ZONES, flag --zones)", grpipe.ErrBadInput, zones)
	}
	if u.Scheme == "s3" && u.Host == "" {
		return fmt.Errorf("%w: zones %q names no bucket: use s3://bucket/prefix?endpoint=...&region=... (setting zones, env GRPIPE_ZONES, flag --zones)", grpipe.ErrBadInput, Redact(zones))
	}
	return nil
}

func (c Config) validateAlerts() error {
	if u := c.Alerts.Webhook.URL; u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%w: alerts.webhook.url must be an http:// or https:// URL (env GRPIPE_ALERTS_WEBHOOK_URL)", grpipe.ErrBadInput)
		}
	}
	e := c.Alerts.Email
	if e.SMTPAddr == "" {
		if e.From != "" || len(e.To) > 0 {
			return fmt.Errorf("%w: alerts.email.from and alerts.email.to need alerts.email.smtp_addr (host:port of the mail server)", grpipe.ErrBadInput)
		}
		return nil
	}
	if host, port, err := net.SplitHostPort(e.SMTPAddr); err != nil || host == "" || port == "" {
		return fmt.Errorf("%w: alerts.email.smtp_addr %q must be host:port, e.g. mail.example.org:587 (env GRPIPE_ALERTS_SMTP_ADDR)", grpipe.ErrBadInput, e.SMTPAddr)
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		return fmt.Errorf("%w: alerts.email.from %q must be an email address", grpipe.ErrBadInput, e.From)
	}
	if len(e.To) == 0 {
		return fmt.Errorf("%w: alerts.email.to must list at least one address", grpipe.ErrBadInput)
	}
	for _, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fmt.Errorf("%w: alerts.email.to %q is not an email address", grpipe.ErrBadInput, to)
		}
	}
	return nil
}

// parseWarehouse reads the warehouse setting: duckdb:///path (a relative
// path is in the home) or postgres://user:pass@host:port/db.
func parseWarehouse(w, home string) (Warehouse, error) {
	switch {
	case strings.HasPrefix(w, "duckdb://"):
		p := strings.TrimPrefix(w, "duckdb://")
		if p == "" {
			return Warehouse{}, fmt.Errorf("%w: warehouse %q names no file (duckdb:///path/to/warehouse.duckdb)", grpipe.ErrBadInput, w)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(home, p)
		}
		return Warehouse{URL: w, Kind: DuckDBWarehouse, Location: p}, nil
	case strings.HasPrefix(w, "postgres://"), strings.HasPrefix(w, "postgresql://"):
		if _, err := url.Parse(w); err != nil {
			return Warehouse{}, fmt.Errorf("%w: warehouse DSN %s (setting warehouse, env GRPIPE_WAREHOUSE, flag --warehouse) does not parse: write it as postgres://user:password@host:port/db, with special characters of the password percent-encoded (%% as %%25, @ as %%40, / as %%2F)",
				grpipe.ErrBadInput, Redact(w))
		}
		return Warehouse{URL: w, Kind: PostgresWarehouse, Location: w}, nil
	}
	return Warehouse{}, fmt.Errorf("%w: warehouse %q must be duckdb:///path or postgres://user:pass@host:port/db", grpipe.ErrBadInput, Redact(w))
}

// parseTime reads an analytics window bound: a date (2020-02-01) or an RFC 3339 time.
func parseTime(key, s string) (time.Time, error) {
	layout := time.RFC3339
	if len(s) == len("2006-01-02") {
		layout = "2006-01-02"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q must be a date (2020-02-01) or an RFC 3339 time", grpipe.ErrBadInput, key, s)
	}
	return t.UTC(), nil
}

// Redact hides the secrets in a URL or DSN: see redact.String.
func Redact(s string) string { return redact.String(s) }

// parseSnapshot reads ucsd_snapshot: a date, an RFC 3339 time or a
// "2006-01-02 15:04:05" time, in UTC.
func parseSnapshot(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: ucsd_snapshot %q is not a date like 2017-12-01 or a time like 2017-12-01T00:00:00Z (setting ucsd_snapshot, env GRPIPE_UCSD_SNAPSHOT)", grpipe.ErrBadInput, v)
}
