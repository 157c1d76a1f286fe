package main

import (
	"context"
	"fmt"

	"github.com/grpipe/grpipe/internal/app"
)

// cmdServe serves the web UI and API until interrupted.
func cmdServe(ctx context.Context, e *env, args []string) int {
	fs := e.flags("serve")
	sf := settingFlags(fs, dataSettings...)
	addr := fs.String("addr", "", "listen `ADDR` (config web.addr, default 127.0.0.1:8080)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	svc, st, cfg, log, err := e.orchestrator(ctx, sf())
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	stop, err := e.startWeb(ctx, app.Web{Config: cfg, Store: st, Orchestrator: svc, Addr: *addr, Log: log})
	if err != nil {
		return e.fail(err)
	}
	<-ctx.Done()
	stop()
	return exitOK
}

// startWeb serves the UI in the background, says where, and returns the
// function that stops it.
func (e *env) startWeb(ctx context.Context, w app.Web) (func(), error) {
	addr, stop, err := app.StartWeb(ctx, w)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stderr, "grpipe: web UI on http://%s/\n", addr)
	return stop, nil
}
