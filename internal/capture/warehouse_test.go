package capture

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/source"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// TestCaptureToWarehouse captures the sample's reviews through the replay
// server, lands them, runs the pipeline, and finds in the warehouse exactly
// what landing the sample files directly gives: the same reviews, users,
// books and authors, ids and cleaned text, apart from the capture time.
func TestCaptureToWarehouse(t *testing.T) {
	ctx := context.Background()
	api := newAPI(t, &source.ReplayOptions{Recent: 1000})
	home := t.TempDir()
	wh := testsupport.OpenHome(t, testsupport.Config(t, home, nil))
	e := newEnv(t)
	e.zones = wh.App.Zones // the capture lands where the pipeline claims
	c := e.open(api.client(t, key), func(o *Options) { o.Dir = filepath.Join(home, "capture") })
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	n := api.replay.Len()
	if s := c.Stats(); s.Landed != n {
		t.Fatalf("stats %+v, want all %d reviews landed", s, n)
	}
	sum := wh.Run()
	wh.MustSucceed(sum)
	if got := sum.Tables["reviews"]; got.Read != int64(n) || got.Rejected != 0 || got.Inserted != int64(n) {
		t.Errorf("reviews ledger %+v, want %d read and inserted", got, n)
	}
	if len(sum.Files) != 4 {
		t.Errorf("run claimed %v, want the 4 batch files", sum.Files)
	}

	// The sample landed directly, in another home.
	ref := testsupport.NewHome(t, nil)
	ref.LandSample()
	ref.MustSucceed(ref.Run())

	got, want := wh.Snapshot(grpipe.TimestampColumn), ref.Snapshot(grpipe.TimestampColumn)
	for _, ent := range grpipe.Entities() {
		if len(got[ent.Name]) == 0 {
			t.Errorf("%s: no rows captured", ent.Name)
		}
		if !reflect.DeepEqual(got[ent.Name], want[ent.Name]) {
			t.Errorf("%s: captured rows differ from the sample's", ent.Name)
			for i := range min(len(got[ent.Name]), len(want[ent.Name])) {
				if !reflect.DeepEqual(got[ent.Name][i], want[ent.Name][i]) {
					t.Errorf("first difference:\n captured %q\n sample   %q", got[ent.Name][i], want[ent.Name][i])
					break
				}
			}
			t.Errorf("%d rows captured, %d from the sample", len(got[ent.Name]), len(want[ent.Name]))
		}
	}
	// record_create_timestamp is the capture time.
	rows, err := wh.App.Warehouse.Query(ctx, "SELECT DISTINCT CAST(record_create_timestamp AS VARCHAR) FROM goodreads_warehouse.reviews")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.Values) != 1 || fmt.Sprint(rows.Values[0][0]) != "2026-11-27 03:00:00" {
		t.Errorf("record_create_timestamp %v, want the capture time", rows.Values)
	}
}
