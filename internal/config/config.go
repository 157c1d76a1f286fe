// Package config loads grpipe's settings: defaults, then the home's
// grpipe.yaml, then GRPIPE_* environment variables, then command-line flags,
// each overriding the one before.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/redact"
)

// FileName is the config file's name inside the home.
const FileName = "grpipe.yaml"

// Config is grpipe's configuration.
type Config struct {
	// Home holds the config file, the zones, the warehouse and the run metadata.
	Home string `yaml:"-"`
	// Zones is the object store URL of the zones: file:///path or s3://bucket/prefix?endpoint=...
	Zones string `yaml:"zones"`
	// Warehouse is the warehouse: duckdb:///path/to/file.duckdb or postgres://user:pass@host:port/db.
	Warehouse string `yaml:"warehouse"`
	// MaxRejectRatio is the share of rejected rows above which a file is refused whole.
	MaxRejectRatio float64 `yaml:"max_reject_ratio"`
	// Analytics configures the analytics tables.
	Analytics Analytics `yaml:"analytics"`
	// DuckDB tunes the DuckDB engines (transform and embedded warehouse).
	DuckDB DuckDB `yaml:"duckdb"`
	// Parallelism bounds concurrent file validations and DAG tasks (0: defaults).
	Parallelism int `yaml:"parallelism"`
	// ProcessedRetention is how many batches' Parquet the processed zone keeps
	// (the newest; 0 keeps every batch).
	ProcessedRetention int `yaml:"processed_retention"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// UCSDSnapshot is the record_create_timestamp given to the books,
	// authors and users of a UCSD Book Graph dump: a date (2017-12-01) or an
	// RFC 3339 time; empty means 2017-12-01 (the crawl ended in late 2017).
	UCSDSnapshot string `yaml:"ucsd_snapshot"`
	// Orchestrator configures retries, depends_on_past and shutdown.
	Orchestrator Orchestrator `yaml:"orchestrator"`
	// Alerts says where failed runs are reported.
	Alerts Alerts `yaml:"alerts"`
	// Web configures the web UI and API (grpipe serve, grpipe scheduler --web).
	Web Web `yaml:"web"`
}

// Web configures the web UI and API.
type Web struct {
	// Addr is the listen address (default 127.0.0.1:8080).
	Addr string `yaml:"addr"`
	// Token, when set, is required on every page and API call. Env GRPIPE_WEB_TOKEN.
	Token string `yaml:"token"`
}

// Orchestrator configures how the DAG's tasks are run.
type Orchestrator struct {
	// Retries is the number of retries of a failed task (default 2).
	Retries *int `yaml:"retries"`
	// RetryDelay is the wait before the first retry, doubled for each next
	// one up to MaxRetryDelay (Go durations: 10s, 5m).
	RetryDelay    string `yaml:"retry_delay"`
	MaxRetryDelay string `yaml:"max_retry_delay"`
	// DependsOnPast keeps the scheduler's runs from starting a task while the
	// same task of the previous run failed (default true, as the original).
	DependsOnPast *bool `yaml:"depends_on_past"`
	// GracePeriod is how long the running task may finish after SIGTERM (default 30s).
	GracePeriod string `yaml:"grace_period"`
	// Tasks overrides retries and timeout per task id.
	Tasks map[string]TaskSettings `yaml:"tasks"`
}

// TaskSettings override one task's retries and timeout.
type TaskSettings struct {
	Retries *int   `yaml:"retries"`
	Timeout string `yaml:"timeout"`
}

// Alerts says where failed runs (and optionally retries) are reported.
type Alerts struct {
	// OnRetry also alerts when a failed task will be retried.
	OnRetry bool `yaml:"on_retry"`
	// Webhook receives a JSON POST.
	Webhook Webhook `yaml:"webhook"`
	// Email is sent through an SMTP server.
	Email Email `yaml:"email"`
}

// Webhook is an HTTP endpoint for alerts.
type Webhook struct {
	URL     string `yaml:"url"`
	Timeout string `yaml:"timeout"`
}

// Email is an SMTP server and the addresses of alerts.
type Email struct {
	SMTPAddr string   `yaml:"smtp_addr"`
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
}

// Durations are the orchestrator's and the alerts' durations, parsed.
type Durations struct {
	RetryDelay, MaxRetryDelay, GracePeriod, WebhookTimeout time.Duration
	// TaskTimeouts holds the per-task timeouts that are set.
	TaskTimeouts map[string]time.Duration
}

// Analytics configures the window of reviews the analytics tables count.
type Analytics struct {
	// WindowStart and WindowEnd bound record_create_timestamp, [start, end);
	// RFC 3339 or YYYY-MM-DD, empty for open-ended.
	WindowStart string `yaml:"window_start"`
	WindowEnd   string `yaml:"window_end"`
	// WindowFromDataInterval makes scheduled runs count the reviews of their
	// data interval instead (runs without one use the window above).
	WindowFromDataInterval bool `yaml:"window_from_data_interval"`
}

// DuckDB tunes DuckDB.
type DuckDB struct {
	MemoryLimit   string `yaml:"memory_limit"`
	TempDirectory string `yaml:"temp_directory"`
	Threads       int    `yaml:"threads"`
}

// Default returns the defaults for a home.
func Default(home string) Config {
	return Config{
		Home:           home,
		Zones:          "file://" + filepath.Join(home, "zones"),
		Warehouse:      "duckdb://" + filepath.Join(home, "warehouse.duckdb"),
		MaxRejectRatio: 0.01,
		DuckDB:         DuckDB{MemoryLimit: "2GB", TempDirectory: filepath.Join(home, "tmp", "duckdb")},
		LogLevel:       "info",
		Web:            Web{Addr: "127.0.0.1:8080"},
	}
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

// Load builds the configuration of home: defaults, the config file if
// present, then the environment (getenv), then flags (non-empty values of
// the flags map, keyed by setting name: zones, warehouse, max_reject_ratio).
func Load(home string, getenv func(string) string, flags map[string]string) (Config, error) {
	c := Default(home)
	path := filepath.Join(home, FileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := yaml.UnmarshalWithOptions(b, &c, yaml.Strict()); err != nil {
			return c, fmt.Errorf("%w: config file %s: %s (settings: zones, warehouse, max_reject_ratio, analytics.window_start, analytics.window_end, analytics.window_from_data_interval, duckdb.memory_limit, duckdb.temp_directory, duckdb.threads, parallelism, processed_retention, log_level, orchestrator.retries, orchestrator.retry_delay, orchestrator.max_retry_delay, orchestrator.depends_on_past, orchestrator.grace_period, orchestrator.tasks.<task_id>.retries, orchestrator.tasks.<task_id>.timeout, alerts.on_retry, alerts.webhook.url, alerts.webhook.timeout, alerts.email.smtp_addr, alerts.email.from, alerts.email.to, alerts.email.username, alerts.email.password, web.addr, web.token, ucsd_snapshot)",
				grpipe.ErrBadInput, path, yaml.FormatError(err, false, true))
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return c, fmt.Errorf("config file %s: %w", path, err)
	}
	set := func(name, value, from string) error {
		if value == "" {
			return nil
		}
		switch name {
		case "zones":
			c.Zones = value
		case "warehouse":
			c.Warehouse = value
		case "max_reject_ratio":
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("%w: %s: max_reject_ratio %q is not a number (e.g. 0.01 for 1%%)", grpipe.ErrBadInput, from, value)
			}
			c.MaxRejectRatio = v
		case "log_level":
			c.LogLevel = value
		case "duckdb.memory_limit":
			c.DuckDB.MemoryLimit = value
		case "alerts.webhook.url":
			c.Alerts.Webhook.URL = value
		case "alerts.email.smtp_addr":
			c.Alerts.Email.SMTPAddr = value
		case "alerts.email.password":
			c.Alerts.Email.Password = value
		case "web.token":
			c.Web.Token = value
		case "web.addr":
			c.Web.Addr = value
		case "ucsd_snapshot":
			c.UCSDSnapshot = value
		}
		return nil
	}
	for name, env := range map[string]string{"zones": "GRPIPE_ZONES", "warehouse": "GRPIPE_WAREHOUSE",
		"max_reject_ratio": "GRPIPE_MAX_REJECT_RATIO", "log_level": "GRPIPE_LOG_LEVEL", "duckdb.memory_limit": "GRPIPE_DUCKDB_MEMORY_LIMIT",
		"alerts.webhook.url": "GRPIPE_ALERTS_WEBHOOK_URL", "alerts.email.smtp_addr": "GRPIPE_ALERTS_SMTP_ADDR",
		"alerts.email.password": "GRPIPE_ALERTS_SMTP_PASSWORD", "web.token": "GRPIPE_WEB_TOKEN", "ucsd_snapshot": "GRPIPE_UCSD_SNAPSHOT"} {
		if err := set(name, getenv(env), "environment variable "+env); err != nil {
			return c, err
		}
	}
	for name, v := range flags {
		if err := set(name, v, "flag --"+strings.ReplaceAll(name, "_", "-")); err != nil {
			return c, err
		}
	}
	return c, c.Validate()
}

// Validate checks every setting and names the one at fault.
func (c Config) Validate() error {
	if c.MaxRejectRatio < 0 || c.MaxRejectRatio > 1 {
		return fmt.Errorf("%w: max_reject_ratio %v must be between 0 and 1 (0.01 is 1%%)", grpipe.ErrBadInput, c.MaxRejectRatio)
	}
	u, err := url.Parse(c.Zones)
	if err != nil || (u.Scheme != "file" && u.Scheme != "s3") {
		return fmt.Errorf("%w: zones %q must be a file:///path or s3://bucket/prefix URL", grpipe.ErrBadInput, Redact(c.Zones))
	}
	if u.Scheme == "file" && (u.Host != "" || !strings.HasPrefix(u.Path, "/")) {
		return fmt.Errorf("%w: zones %q: a file URL takes an absolute path after three slashes, as in file:///srv/grpipe/zones (setting zones, env GRPIPE_ZONES, flag --zones)", grpipe.ErrBadInput, c.Zones)
	}
	if u.Scheme == "s3" && u.Host == "" {
		return fmt.Errorf("%w: zones %q names no bucket: use s3://bucket/prefix?endpoint=...&region=... (setting zones, env GRPIPE_ZONES, flag --zones)", grpipe.ErrBadInput, Redact(c.Zones))
	}
	if _, _, err := c.WarehouseKind(); err != nil {
		return err
	}
	if w, err := c.Window(); err != nil {
		return err
	} else if !w[0].IsZero() && !w[1].IsZero() && !w[0].Before(w[1]) {
		return fmt.Errorf("%w: analytics.window_start %s is not before analytics.window_end %s: the window would hold no review", grpipe.ErrBadInput, c.Analytics.WindowStart, c.Analytics.WindowEnd)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%w: log_level %q must be debug, info, warn or error", grpipe.ErrBadInput, c.LogLevel)
	}
	if _, err := c.Snapshot(); err != nil {
		return err
	}
	if c.ProcessedRetention < 0 {
		return fmt.Errorf("%w: processed_retention %d must not be negative (0 keeps every batch)", grpipe.ErrBadInput, c.ProcessedRetention)
	}
	if c.Parallelism < 0 || c.DuckDB.Threads < 0 {
		return fmt.Errorf("%w: parallelism and duckdb.threads must not be negative", grpipe.ErrBadInput)
	}
	if _, err := c.Durations(); err != nil {
		return err
	}
	return c.validateAlerts()
}

// Durations parses the duration settings; the error names the one at fault.
func (c Config) Durations() (Durations, error) {
	d := Durations{RetryDelay: 10 * time.Second, MaxRetryDelay: 5 * time.Minute, GracePeriod: 30 * time.Second,
		WebhookTimeout: 10 * time.Second, TaskTimeouts: map[string]time.Duration{}}
	parse := func(name, v string, into *time.Duration) error {
		if v == "" {
			return nil
		}
		x, err := time.ParseDuration(v)
		if err != nil || x <= 0 {
			return fmt.Errorf("%w: %s %q must be a positive duration such as 30s, 5m or 2h", grpipe.ErrBadInput, name, v)
		}
		*into = x
		return nil
	}
	o := c.Orchestrator
	for _, p := range []struct {
		name, v string
		into    *time.Duration
	}{
		{"orchestrator.retry_delay", o.RetryDelay, &d.RetryDelay},
		{"orchestrator.max_retry_delay", o.MaxRetryDelay, &d.MaxRetryDelay},
		{"orchestrator.grace_period", o.GracePeriod, &d.GracePeriod},
		{"alerts.webhook.timeout", c.Alerts.Webhook.Timeout, &d.WebhookTimeout},
	} {
		if err := parse(p.name, p.v, p.into); err != nil {
			return d, err
		}
	}
	if o.Retries != nil && (*o.Retries < 0 || *o.Retries > 100) {
		return d, fmt.Errorf("%w: orchestrator.retries %d must be between 0 and 100", grpipe.ErrBadInput, *o.Retries)
	}
	for id, t := range o.Tasks {
		if t.Retries != nil && (*t.Retries < 0 || *t.Retries > 100) {
			return d, fmt.Errorf("%w: orchestrator.tasks.%s.retries %d must be between 0 and 100", grpipe.ErrBadInput, id, *t.Retries)
		}
		var x time.Duration
		if err := parse("orchestrator.tasks."+id+".timeout", t.Timeout, &x); err != nil {
			return d, err
		}
		if x > 0 {
			d.TaskTimeouts[id] = x
		}
	}
	return d, nil
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

// WarehouseKind returns the warehouse backend (duckdb or postgres) and its
// location: a file path for duckdb, the DSN for postgres.
func (c Config) WarehouseKind() (string, string, error) {
	w := c.Warehouse
	switch {
	case strings.HasPrefix(w, "duckdb://"):
		p := strings.TrimPrefix(w, "duckdb://")
		if p == "" {
			return "", "", fmt.Errorf("%w: warehouse %q names no file (duckdb:///path/to/warehouse.duckdb)", grpipe.ErrBadInput, w)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(c.Home, p)
		}
		return "duckdb", p, nil
	case strings.HasPrefix(w, "postgres://"), strings.HasPrefix(w, "postgresql://"):
		if _, err := url.Parse(w); err != nil {
			return "", "", fmt.Errorf("%w: warehouse DSN %s (setting warehouse, env GRPIPE_WAREHOUSE, flag --warehouse) does not parse: write it as postgres://user:password@host:port/db, with special characters of the password percent-encoded (%% as %%25, @ as %%40, / as %%2F)",
				grpipe.ErrBadInput, Redact(w))
		}
		return "postgres", w, nil
	}
	return "", "", fmt.Errorf("%w: warehouse %q must be duckdb:///path or postgres://user:pass@host:port/db", grpipe.ErrBadInput, Redact(w))
}

// Window returns the analytics window's bounds (zero when open).
func (c Config) Window() ([2]time.Time, error) {
	var out [2]time.Time
	for i, s := range []string{c.Analytics.WindowStart, c.Analytics.WindowEnd} {
		if s == "" {
			continue
		}
		var t time.Time
		var err error
		if len(s) == len("2006-01-02") {
			t, err = time.Parse("2006-01-02", s)
		} else {
			t, err = time.Parse(time.RFC3339, s)
		}
		if err != nil {
			name := [2]string{"analytics.window_start", "analytics.window_end"}[i]
			return out, fmt.Errorf("%w: %s %q must be a date (2020-02-01) or an RFC 3339 time", grpipe.ErrBadInput, name, s)
		}
		out[i] = t.UTC()
	}
	return out, nil
}

// Redact hides the secrets in a URL or DSN: see redact.String.
func Redact(s string) string { return redact.String(s) }

// Snapshot returns the ucsd_snapshot setting as a UTC time; zero when unset.
func (c Config) Snapshot() (time.Time, error) {
	if c.UCSDSnapshot == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, c.UCSDSnapshot); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: ucsd_snapshot %q is not a date like 2017-12-01 or a time like 2017-12-01T00:00:00Z (setting ucsd_snapshot, env GRPIPE_UCSD_SNAPSHOT)", grpipe.ErrBadInput, c.UCSDSnapshot)
}
