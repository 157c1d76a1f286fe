package pipeline_test

import (
	"context"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// Defect 1: a queued run whose id could leave its folder (recorded by a
// grpipe that accepted "." and ".." from the API) fails its ETL task with a
// message, and touches nothing: the files waiting in landing stay, nothing
// is claimed, no folder is deleted.
func TestRunWithUnsafeIDClaimsNothing(t *testing.T) {
	for _, id := range []string{".", "..", "../landing"} {
		t.Run(id, func(t *testing.T) {
			h := testsupport.NewHome(t, nil)
			h.LandSample()
			ctx := context.Background()
			if _, err := h.App.Store.EnqueueRun(ctx, grpipe.Run{RunID: id, RunType: grpipe.RunManual}); err != nil {
				t.Fatal(err)
			}
			sum, err := h.App.Orchestrator.Resume(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if sum.State != grpipe.StateFailed || !strings.Contains(sum.Error, "cannot claim a batch") {
				t.Fatalf("run %q: %s, %q", id, sum.State, sum.Error)
			}
			files, _, err := landing.List(ctx, h.App.Zones)
			if err != nil || len(files) != 4 {
				t.Fatalf("landing holds %d files after the run (%v), want the 4 landed", len(files), err)
			}
			objs, err := h.App.Zones.List(ctx, string(grpipe.Working)+"/")
			if err != nil || len(objs) != 0 {
				t.Fatalf("working holds %v (%v)", objs, err)
			}
		})
	}
}
