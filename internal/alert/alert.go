// Package alert tells people about failed runs (and, optionally, about
// retried tasks): a JSON POST to a webhook and/or an email through an SMTP
// server. Its Notifier is a grpipe.Observer of runs.
package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Options say where alerts go; an empty WebhookURL or SMTPAddr turns that
// channel off.
type Options struct {
	// WebhookURL receives a POST of the Alert as JSON.
	WebhookURL string
	// SMTPAddr is host:port of the mail server; From and To the envelope.
	SMTPAddr string
	From     string
	To       []string
	// Username and Password, when set, authenticate (PLAIN; the server must
	// offer STARTTLS unless it is on loopback).
	Username, Password string
	// OnRetry also alerts when a failed task will be retried.
	OnRetry bool
	// Timeout bounds one delivery (alerts.webhook.timeout; 0: no bound).
	Timeout time.Duration
}

// Alert is the JSON payload of the webhook (and the body of the email).
type Alert struct {
	// Event is run_failed or task_retry.
	Event       string               `json:"event"`
	DAGID       string               `json:"dag_id"`
	RunID       string               `json:"run_id"`
	RunType     grpipe.RunType       `json:"run_type,omitempty"`
	LogicalDate time.Time            `json:"logical_date,omitzero"`
	State       grpipe.State         `json:"state,omitempty"`
	TaskID      string               `json:"task_id,omitempty"`
	Try         int                  `json:"try,omitempty"`
	Error       string               `json:"error"`
	FailedTasks []grpipe.TaskSummary `json:"failed_tasks,omitempty"`
	Host        string               `json:"host"`
	At          time.Time            `json:"at"`
}

// Notifier delivers alerts.
type Notifier struct {
	opts   Options
	client *http.Client
	log    *slog.Logger
}

// New returns a notifier (one that does nothing when opts names no channel).
func New(opts Options, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{opts: opts, client: &http.Client{Timeout: opts.Timeout}, log: log}
}

// Enabled reports whether any channel is configured.
func (n *Notifier) Enabled() bool { return n.opts.WebhookURL != "" || n.opts.SMTPAddr != "" }

// RunEnded alerts when sum is a failed run; delivery errors are logged.
func (n *Notifier) RunEnded(ctx context.Context, sum *grpipe.RunSummary) {
	if !n.Enabled() || sum.State != grpipe.StateFailed {
		return
	}
	a := Alert{Event: "run_failed", DAGID: sum.DAGID, RunID: sum.RunID, RunType: sum.RunType, LogicalDate: sum.LogicalDate,
		State: sum.State, Error: sum.Error}
	for _, t := range sum.Tasks {
		if t.State == grpipe.StateFailed {
			a.FailedTasks = append(a.FailedTasks, t)
		}
	}
	n.deliver(ctx, a)
}

var _ grpipe.Observer = (*Notifier)(nil)

// TaskEnded does nothing: a notifier tells of failed runs and retries only.
func (n *Notifier) TaskEnded(context.Context, grpipe.Run, grpipe.TaskSummary) {}

// TaskRetry alerts, when OnRetry is set, that a try failed and will be retried.
func (n *Notifier) TaskRetry(ctx context.Context, run grpipe.Run, taskID string, try int, err error) {
	if !n.Enabled() || !n.opts.OnRetry {
		return
	}
	a := Alert{Event: "task_retry", DAGID: grpipe.DAGID, RunID: run.RunID, RunType: run.RunType, LogicalDate: run.LogicalDate,
		TaskID: taskID, Try: try, State: grpipe.StateUpForRetry}
	if err != nil {
		a.Error = err.Error()
	}
	n.deliver(ctx, a)
}

func (n *Notifier) deliver(ctx context.Context, a Alert) {
	if err := n.Send(ctx, a); err != nil {
		n.log.Error("alert not delivered", "event", a.Event, "run_id", a.RunID, "error", err)
	}
}

// Send delivers a to every configured channel; the error joins the failures.
func (n *Notifier) Send(ctx context.Context, a Alert) error {
	if a.Host == "" {
		a.Host, _ = os.Hostname()
	}
	if a.At.IsZero() {
		a.At = time.Now().UTC()
	}
	var errs []error
	if n.opts.WebhookURL != "" {
		if err := n.post(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("alert webhook: %w", err))
		}
	}
	if n.opts.SMTPAddr != "" {
		if err := n.mail(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("alert email via %s: %w", n.opts.SMTPAddr, err))
		}
	}
	return errors.Join(errs...)
}

func (n *Notifier) post(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	ctx, cancel := n.bound(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.opts.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", redactURL(n.opts.WebhookURL), resp.Status)
	}
	return nil
}

// Subject returns the email subject of a.
func Subject(a Alert) string {
	if a.Event == "task_retry" {
		return fmt.Sprintf("[grpipe] %s: task %s try %d failed, will retry", a.DAGID, a.TaskID, a.Try)
	}
	return fmt.Sprintf("[grpipe] %s: run %s failed", a.DAGID, a.RunID)
}

// bound returns ctx bounded by the delivery timeout, when there is one.
func (n *Notifier) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if n.opts.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, n.opts.Timeout)
}

func (n *Notifier) mail(ctx context.Context, a Alert) error {
	ctx, cancel := n.bound(ctx)
	defer cancel()
	host, _, err := net.SplitHostPort(n.opts.SMTPAddr)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", n.opts.SMTPAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return err
		}
	}
	if n.opts.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", n.opts.Username, n.opts.Password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(n.opts.From); err != nil {
		return err
	}
	for _, to := range n.opts.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("recipient %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	body, _ := json.MarshalIndent(a, "", "  ")
	var msg strings.Builder
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		n.opts.From, strings.Join(n.opts.To, ", "), Subject(a), a.At.Format(time.RFC1123Z))
	fmt.Fprintf(&msg, "%s\r\n\r\nerror: %s\r\n\r\n", Subject(a), a.Error)
	msg.WriteString(strings.ReplaceAll(string(body), "\n", "\r\n"))
	msg.WriteString("\r\n")
	if _, err := io.WriteString(w, msg.String()); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// redactURL keeps the scheme and host of a webhook URL: its path and query
// often hold a secret token.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the webhook URL"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
