// Package metrics exposes grpipe's Prometheus metrics (run and task
// durations and states, rows per table per stage, quarantined rows, the last
// successful run) on a registry of its own, served at /metrics.
package metrics

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	grpipe "github.com/grpipe/grpipe"
)

// Metrics holds the collectors.
type Metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	runSeconds  *prometheus.HistogramVec
	tries       *prometheus.CounterVec
	trySeconds  *prometheus.HistogramVec
	rows        *prometheus.CounterVec
	quarantined *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	lastState   *prometheus.GaugeVec
}

// New returns metrics on a fresh registry (with the Go and process collectors).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "grpipe_dag_runs_total",
			Help: "DAG runs that ended, by state (success, failed)."}, []string{"state"}),
		runSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "grpipe_dag_run_duration_seconds",
			Help: "Wall time of DAG runs, by state.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}, []string{"state"}),
		tries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "grpipe_task_tries_total",
			Help: "Task tries that ended, by task and state (success, failed, upstream_failed)."}, []string{"task", "state"}),
		trySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "grpipe_task_duration_seconds",
			Help: "Wall time of task tries, by task and state.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 14)}, []string{"task", "state"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "grpipe_rows_total",
			Help: "Rows through the ETL by table and stage (read, rejected, superseded, staged, inserted, updated, stale)."}, []string{"table", "stage"}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "grpipe_quarantined_rows_total",
			Help: "Rows sent to quarantine, by table."}, []string{"table"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "grpipe_last_success_timestamp_seconds",
			Help: "Unix time the last successful DAG run ended (0: none yet)."}),
		lastState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "grpipe_last_run_state",
			Help: "1 for the state of the last ended DAG run, 0 for the other states."}, []string{"state"}),
	}
	m.reg.MustRegister(m.runs, m.runSeconds, m.tries, m.trySeconds, m.rows, m.quarantined, m.lastSuccess, m.lastState,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, e := range grpipe.Entities() {
		m.quarantined.WithLabelValues(e.Name)
	}
	for _, st := range []grpipe.State{grpipe.StateSuccess, grpipe.StateFailed} {
		m.runs.WithLabelValues(string(st))
		m.lastState.WithLabelValues(string(st))
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

var _ grpipe.Observer = (*Metrics)(nil)

// TaskEnded counts one try of a task.
func (m *Metrics) TaskEnded(_ context.Context, _ grpipe.Run, t grpipe.TaskSummary) {
	m.tries.WithLabelValues(t.TaskID, string(t.State)).Inc()
	if !t.StartedAt.IsZero() && !t.EndedAt.IsZero() {
		m.trySeconds.WithLabelValues(t.TaskID, string(t.State)).Observe(t.EndedAt.Sub(t.StartedAt).Seconds())
	}
}

// TaskRetry does nothing: the failed try is counted by TaskEnded.
func (m *Metrics) TaskRetry(context.Context, grpipe.Run, string, int, error) {}

// RunEnded counts a run that ended, its rows and its quarantined rows.
func (m *Metrics) RunEnded(_ context.Context, sum *grpipe.RunSummary) {
	if sum.State != grpipe.StateSuccess && sum.State != grpipe.StateFailed {
		return
	}
	st := string(sum.State)
	m.runs.WithLabelValues(st).Inc()
	if !sum.EndedAt.IsZero() {
		m.runSeconds.WithLabelValues(st).Observe(sum.EndedAt.Sub(sum.StartedAt).Seconds())
	}
	for _, s := range []grpipe.State{grpipe.StateSuccess, grpipe.StateFailed} {
		v := 0.0
		if s == sum.State {
			v = 1
		}
		m.lastState.WithLabelValues(string(s)).Set(v)
	}
	if sum.State == grpipe.StateSuccess {
		m.SetLastSuccess(sum)
	}
	for table, l := range sum.Tables {
		for stage, n := range map[string]int64{"read": l.Read, "rejected": l.Rejected, "superseded": l.Superseded, "staged": l.Staged,
			"inserted": l.Inserted, "updated": l.Updated, "stale": l.Stale} {
			m.rows.WithLabelValues(table, stage).Add(float64(n))
		}
		m.quarantined.WithLabelValues(table).Add(float64(l.Rejected))
	}
}

// SetLastSuccess sets the last-success time from a successful run (the
// scheduler calls it at start with the latest one in the store).
func (m *Metrics) SetLastSuccess(sum *grpipe.RunSummary) {
	if !sum.EndedAt.IsZero() {
		m.lastSuccess.Set(float64(sum.EndedAt.UnixNano()) / 1e9)
	}
}
