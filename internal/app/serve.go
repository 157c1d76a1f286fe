package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/httpserver"
	"github.com/grpipe/grpipe/internal/metrics"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/scheduler"
	"github.com/grpipe/grpipe/internal/web"
)

// Web is what the web UI serves: a home's run store, its orchestrator (for
// pause and trigger), the scheduler's spec when one runs in this process,
// and its metrics.
type Web struct {
	Config       config.Config
	Store        *runstore.Store
	Orchestrator *orchestrator.Service
	// Addr is the listen address ("": web.addr).
	Addr string
	// Schedule is the spec of a scheduler in this process ("" when none).
	Schedule string
	// Metrics, when set, is served at /metrics.
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// StartWeb serves the web UI and API in the background; it returns the
// address served and a function that shuts the server down.
func StartWeb(ctx context.Context, w Web) (net.Addr, func(), error) {
	addr := w.Addr
	if addr == "" {
		addr = w.Config.Web.Addr
	}
	opts := web.Options{Addr: addr, Token: w.Config.Web.Token, Hosts: w.Config.Web.Hosts, SecureCookies: w.Config.Web.SecureCookies, Log: w.Log}
	if w.Metrics != nil {
		opts.Metrics = w.Metrics.Handler()
	}
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	zones, err := OpenZones(ctx, w.Config)
	if err != nil {
		return nil, nil, err
	}
	srv, err := web.New(&WebBackend{Config: w.Config, Store: w.Store, Orchestrator: w.Orchestrator, Zones: zones, Log: w.Log, Schedule: w.Schedule}, opts)
	if err != nil {
		zones.Close()
		return nil, nil, err
	}
	hs, err := httpserver.Start(addr, srv, httpserver.Options{Log: w.Log})
	if err != nil {
		zones.Close()
		return nil, nil, fmt.Errorf("web: %w (is another grpipe serving there? choose another address with --addr)", err)
	}
	return hs.Addr(), func() {
		shutdown(ctx, hs)
		zones.Close()
	}, nil
}

// NewMetrics returns the metrics of runs executed in this process, the
// last success taken from the store's latest successful run.
func NewMetrics(ctx context.Context, st *runstore.Store) *metrics.Metrics {
	m := metrics.New()
	if ok, err := st.ListRuns(ctx, 1, grpipe.StateSuccess); err == nil && len(ok) == 1 {
		m.SetLastSuccess(&grpipe.RunSummary{Run: ok[0]})
	}
	return m
}

// ServeMetrics serves m at http://addr/metrics in the background (a
// scheduler without the web UI); it returns the address served and a
// function that shuts the server down.
func ServeMetrics(ctx context.Context, addr string, m *metrics.Metrics, log *slog.Logger) (net.Addr, func(), error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs, err := httpserver.Start(addr, mux, httpserver.Options{Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --metrics-addr %s: %w", grpipe.ErrBadInput, addr, err)
	}
	return hs.Addr(), func() { shutdown(ctx, hs) }, nil
}

// shutdown stops hs, letting requests in progress finish for a few seconds.
func shutdown(ctx context.Context, hs *httpserver.Server) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
}

// Scheduler is what a scheduler process needs beyond the configuration.
type Scheduler struct {
	// Options are the scheduler's; the scheduler lock and the grace period
	// are filled in from the configuration.
	Options scheduler.Options
	// Grace, when positive, replaces orchestrator.grace_period.
	Grace time.Duration
	// WebAddr, when set, serves the web UI, the API and /metrics there too;
	// MetricsAddr, when set, serves /metrics alone there.
	WebAddr, MetricsAddr string
	// WebStarted is told the web UI's address once it listens.
	WebStarted func(net.Addr)
}

// RunScheduler runs a scheduler in the home of cfg until ctx ends, with the
// web UI and the metrics when s asks for them.
func RunScheduler(ctx context.Context, cfg config.Config, log *slog.Logger, s Scheduler, options ...Option) error {
	opts := s.Options
	opts.SchedulerLock, opts.Grace = SchedulerLockPath(cfg), cfg.Orchestrator.GracePeriod
	if s.Grace > 0 {
		opts.Grace = s.Grace
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	m := NewMetrics(ctx, st)
	svc, err := NewOrchestrator(cfg, st, log, append(options, WithObservers(m))...)
	if err != nil {
		return err
	}
	if s.MetricsAddr != "" {
		addr, stop, err := ServeMetrics(ctx, s.MetricsAddr, m, log)
		if err != nil {
			return err
		}
		defer stop()
		log.Info("metrics served", "url", "http://"+addr.String()+"/metrics")
	}
	if s.WebAddr != "" {
		addr, stop, err := StartWeb(ctx, Web{Config: cfg, Store: st, Orchestrator: svc, Addr: s.WebAddr, Schedule: opts.Schedule, Metrics: m, Log: log})
		if err != nil {
			return err
		}
		defer stop()
		if s.WebStarted != nil {
			s.WebStarted(addr)
		}
	}
	sch, err := scheduler.New(opts, st, svc, log)
	if err != nil {
		return err
	}
	if cfg.Executor != config.ExecutorDistributed {
		return sch.Run(ctx)
	}
	// Several schedulers may run (high availability): the leader schedules.
	var runErr error
	if err := Lead(ctx, cfg, log, func(lctx context.Context) { runErr = sch.Run(lctx) }); err != nil {
		return err
	}
	return runErr
}

// Serve serves the web UI and API of the home of cfg on addr (""
// web.addr) until ctx ends; started is told the address once it listens.
func Serve(ctx context.Context, cfg config.Config, addr string, log *slog.Logger, started func(net.Addr)) error {
	svc, st, err := OpenOrchestrator(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	served, stop, err := StartWeb(ctx, Web{Config: cfg, Store: st, Orchestrator: svc, Addr: addr, Log: log})
	if err != nil {
		return err
	}
	started(served)
	<-ctx.Done()
	stop()
	return nil
}
