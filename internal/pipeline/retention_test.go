package pipeline_test

import (
	"context"
	"path"
	"sort"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// TestProcessedRetention runs the sample, then three batches, with processed_retention 2: the
// processed zone keeps the two newest batches, and the staging relations
// (which read the newest batch's Parquet in place) still answer.
func TestProcessedRetention(t *testing.T) {
	h := testsupport.NewHome(t, func(c *config.Config) { c.ProcessedRetention = 2 })
	h.LandSample()
	h.MustSucceed(h.Run())
	var runs []string
	for i, ts := range []string{"2030-01-01 00:00:00", "2030-01-02 00:00:00", "2030-01-03 00:00:00"} {
		h.Land([2]string{"author-" + string(rune('a'+i)) + ".csv", authorHeader + "585,John Steinbeck,,u,3.93,1,1," + ts + "\n"})
		sum := h.Run()
		h.MustSucceed(sum)
		runs = append(runs, sum.RunID)
	}
	objs, err := h.App.Zones.List(context.Background(), string(grpipe.Processed)+"/")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range objs {
		seen[path.Base(path.Dir(path.Dir(o.Key)))] = true
	}
	var got []string
	for b := range seen {
		got = append(got, b)
	}
	sort.Strings(got)
	want := runs[1:]
	sort.Strings(want)
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("processed batches %v, want the two newest %v", got, want)
	}
	if rows := h.Query("SELECT count(*) FROM goodreads_staging.authors"); rows[0][0] != "1" {
		t.Fatalf("staging authors after pruning: %v", rows)
	}
}
