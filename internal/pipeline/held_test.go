package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/pipeline"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// Defect 2: an earlier batch that cannot be finished (here: a claimed file
// that vanished from working) never keeps later batches from loading. Each
// run that loads its own batch but not the earlier one fails, saying so,
// and counts a strike; after three the batch is held, its folder kept, and
// runs succeed again.
func TestBatchThatCannotFinishIsHeld(t *testing.T) {
	h := testsupport.NewHome(t, func(c *config.Config) { c.Orchestrator.Retries = 0 })
	ctx := context.Background()
	h.LandSample()
	h.MustSucceed(h.Run())

	broken := pipeline.Manifest{Batch: "manual__2026-01-01T00:00:00.000000Z", ClaimedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Files: []pipeline.ManifestFile{{Name: "reviews-gone.csv", Entity: "reviews", Size: 10, State: "claimed"}}}
	b, _ := json.Marshal(broken)
	key := objstore.Key(grpipe.Working, broken.Batch, "_manifest.json")
	if err := h.App.Zones.PutBytes(ctx, key, b); err != nil {
		t.Fatal(err)
	}
	manifest := func() pipeline.Manifest {
		var m pipeline.Manifest
		b, err := h.App.Zones.ReadAll(ctx, key)
		if err != nil || json.Unmarshal(b, &m) != nil {
			t.Fatalf("manifest of the broken batch: %v", err)
		}
		return m
	}
	user := func(n int) [2]string {
		return [2]string{fmt.Sprintf("user-%d.csv", n), fmt.Sprintf("user_id,user_name,record_create_timestamp\n%d,new %d,2026-02-0%d 00:00:00\n", 900000+n, n, n)}
	}

	// With nothing new to load there is no proof the batch is at fault: no strike.
	if sum := h.Run(); sum.State != grpipe.StateFailed || !strings.Contains(sum.Error, broken.Batch) {
		t.Fatalf("run with only the broken batch: %s %q", sum.State, sum.Error)
	}
	if m := manifest(); m.Strikes != 0 || m.LastError == "" {
		t.Fatalf("after a run with nothing of its own: %+v", m)
	}
	for i := 1; i <= 3; i++ {
		h.Land(user(i))
		sum := h.Run()
		if sum.State != grpipe.StateFailed || !strings.Contains(sum.Error, "earlier batch "+broken.Batch) {
			t.Fatalf("run %d: %s %q, want failed naming the earlier batch", i, sum.State, sum.Error)
		}
		// The run's own file loaded all the same.
		if got := h.Query(fmt.Sprintf("SELECT user_name FROM goodreads_warehouse.users WHERE user_id = %d", 900000+i)); len(got) != 1 || got[0][0] != fmt.Sprintf("new %d", i) {
			t.Fatalf("run %d: its own user is %v", i, got)
		}
		if files, _, _ := landing.List(ctx, h.App.Zones); len(files) != 0 {
			t.Fatalf("run %d left %v in landing", i, files)
		}
		m := manifest()
		if m.Strikes != i || (i < 3) != (m.Held == "") {
			t.Fatalf("after run %d: strikes %d held %q", i, m.Strikes, m.Held)
		}
		if i == 3 && !strings.Contains(sum.Error, "it is held") {
			t.Fatalf("the run that held the batch says %q", sum.Error)
		}
	}
	// Held: runs leave it alone and succeed; its folder stays for an operator.
	h.Land(user(4))
	h.MustSucceed(h.Run())
	if m := manifest(); m.Held == "" {
		t.Fatal("the held batch's manifest lost its mark")
	}
}

// A claim manifest that cannot be read is left alone, not a failure of
// every later run.
func TestDamagedManifestLeftAlone(t *testing.T) {
	h := testsupport.NewHome(t, func(c *config.Config) { c.Orchestrator.Retries = 0 })
	ctx := context.Background()
	if err := h.App.Zones.PutBytes(ctx, objstore.Key(grpipe.Working, "manual__x", "_manifest.json"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	h.LandSample()
	h.MustSucceed(h.Run())
}

// Defect 2: a landing file put there by other means than grpipe land with a
// name too long for the names a run derives from it is left in landing
// (with a warning) instead of failing the batch; the other files load.
func TestOverlongLandingNameLeftInLanding(t *testing.T) {
	h := testsupport.NewHome(t, func(c *config.Config) { c.Orchestrator.Retries = 0 })
	ctx := context.Background()
	long := "user-" + strings.Repeat("x", 221) + ".csv"
	if err := h.App.Zones.PutBytes(ctx, landing.Key(long), []byte("user_id,record_create_timestamp\n1,2020-01-01 00:00:00\n")); err != nil {
		t.Fatal(err)
	}
	h.LandSample()
	h.MustSucceed(h.Run())
	if _, err := h.App.Zones.Stat(ctx, landing.Key(long)); err != nil {
		t.Fatalf("the over-long file: %v, want it left in landing", err)
	}
}
