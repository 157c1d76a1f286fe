package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/httpserver"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/web"
)

// cmdServe serves the web UI and API until interrupted.
func cmdServe(ctx context.Context, e *env, args []string) int {
	fs := e.flags("serve")
	sf := settingFlags(fs)
	addr := fs.String("addr", "", "listen `ADDR` (config web.addr, default 127.0.0.1:8080)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, err := e.config(values(sf))
	if err != nil {
		return e.fail(err)
	}
	log := e.logger(cfg)
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	stop, err := startWeb(ctx, e, cfg, st, *addr, "", log)
	if err != nil {
		return e.fail(err)
	}
	<-ctx.Done()
	stop()
	return exitOK
}

// startWeb serves the UI on addr (or cfg.Web.Addr) in the background and
// returns a function that shuts it down. schedule is the spec of a scheduler
// running in this process ("" when none).
func startWeb(ctx context.Context, e *env, cfg config.Config, st *runstore.Store, addr, schedule string, log *slog.Logger) (func(), error) {
	if addr == "" {
		addr = cfg.Web.Addr
	}
	opts := web.Options{Addr: addr, Token: cfg.Web.Token, Log: log}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	zones, err := app.OpenZones(ctx, cfg)
	if err != nil {
		return nil, err
	}
	srv, err := web.New(&app.WebBackend{Config: cfg, Store: st, Zones: zones, Log: log, Schedule: schedule}, opts)
	if err != nil {
		zones.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		zones.Close()
		return nil, fmt.Errorf("web: listen on %s: %w (is another grpipe serving there? choose another address with --addr)", addr, err)
	}
	hs := httpserver.New(srv, httpserver.Options{Log: log})
	go func() {
		if err := hs.Serve(httpserver.LimitListener(ln, httpserver.DefaultMaxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("web server stopped", "error", err)
		}
	}()
	fmt.Fprintf(e.stderr, "grpipe: web UI on http://%s/\n", ln.Addr())
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		zones.Close()
	}, nil
}
