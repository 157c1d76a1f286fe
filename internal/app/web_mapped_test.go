package app_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/testsupport"
	"github.com/grpipe/grpipe/internal/web"
)

// The grid and the Gantt chart show the mapped instances the run store
// holds (the rows a worker's ClaimTry and EndTry write), through the
// composition root's web backend.
func TestWebShowsMappedInstances(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	ctx := context.Background()
	runID := "manual__2026-11-27T10:00:00.000000Z"
	if _, err := h.App.Store.EnqueueRun(ctx, grpipe.Run{RunID: runID, RunType: grpipe.RunManual}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i, w := range []string{"w1", "w2"} {
		k := runstore.TryKey{RunID: runID, TaskID: "GoodReadsETLJob", MapIndex: i, Try: 1}
		if err := h.App.Store.QueueMapped(ctx, k, "b1/reviews-x-000"+string(rune('0'+i))+".csv", t0); err != nil {
			t.Fatal(err)
		}
		if ok, err := h.App.Store.ClaimTry(ctx, k, w, t0.Add(time.Second)); !ok || err != nil {
			t.Fatalf("claim %s: %v %v", k, ok, err)
		}
		if ok, err := h.App.Store.EndTry(ctx, k, w, runstore.Outcome{State: grpipe.StateSuccess, EndedAt: t0.Add(3 * time.Second)}); !ok || err != nil {
			t.Fatalf("end %s: %v %v", k, ok, err)
		}
	}
	srv, err := web.New(&app.WebBackend{Config: h.App.Config, Store: h.App.Store, Orchestrator: h.App.Orchestrator, Zones: h.App.Zones}, web.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	get := func(path string) string {
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %.300s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	d := "/dags/" + grpipe.DAGID
	for path, want := range map[string][]string{
		d + "/grid": {`class="mcell" data-state="success" data-task="GoodReadsETLJob" data-map-index="1" data-run="` + runID + `"`,
			"GoodReadsETLJob[1] in " + runID + ": success (try 1, 2.0s, worker w2)\nfile b1/reviews-x-0001.csv"},
		d + "/runs/" + runID + "/gantt": {`data-map-index="0" data-state="success" data-task="GoodReadsETLJob" data-try="1" data-worker="w1"`,
			"<td>GoodReadsETLJob[1]</td><td>b1/reviews-x-0001.csv</td>"},
		// The graph keeps the DAG's task ids, one node each.
		d + "/graph": {`data-task="GoodReadsETLJob"`},
	} {
		page := get(path)
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		if strings.HasSuffix(path, "/graph") && strings.Contains(page, "GoodReadsETLJob[") {
			t.Errorf("the graph shows mapped instances")
		}
	}
	if n := strings.Count(get(d+"/graph?run_id="+runID), `<g class="node"`); n != 15 {
		t.Errorf("the graph shows %d nodes, want the DAG's 15 tasks", n)
	}
	if n := strings.Count(get(d+"/grid"), `class="mcell"`); n != 2 {
		t.Errorf("%d mapped cells in the grid, want 2", n)
	}
}
