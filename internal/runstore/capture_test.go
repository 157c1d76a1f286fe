package runstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/grpipe/grpipe/internal/runstore"
)

// TestCaptureState: the capture's state on both stores: a review's version
// after it is marked, a new version replacing the old, the count, ids past
// 2^31, and an import that keeps the later of two captures of a review.
func TestCaptureState(t *testing.T) {
	eachStore(t, func(t *testing.T, st *runstore.Store) {
		ctx := context.Background()
		if _, ok, err := st.CapturedVersion(ctx, 1); err != nil || ok {
			t.Fatalf("a review never captured: ok %v, %v", ok, err)
		}
		if n, err := st.CapturedCount(ctx); err != nil || n != 0 {
			t.Fatalf("count of an empty state: %d, %v", n, err)
		}
		big := int64(1) << 40
		if err := st.MarkCaptured(ctx, "20261127T030000Z", t0, map[int64]string{1: "v1", 2: "v1", big: "v7"}); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkCaptured(ctx, "20261127T031000Z", t0.Add(10*time.Minute), map[int64]string{2: "v2"}); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[int64]string{1: "v1", 2: "v2", big: "v7"} {
			if v, ok, err := st.CapturedVersion(ctx, id); err != nil || !ok || v != want {
				t.Errorf("review %d: version %q ok %v, %v; want %q", id, v, ok, err, want)
			}
		}
		// An older state file: review 1 captured later there (kept), review 2
		// earlier (the store's later capture stays), review 3 new.
		n, err := st.ImportCaptured(ctx, []runstore.CapturedReview{
			{ReviewID: 1, Version: "v9", Batch: "old", CapturedAt: t0.Add(time.Hour)},
			{ReviewID: 2, Version: "v0", Batch: "old", CapturedAt: t0.Add(-time.Hour)},
			{ReviewID: 3, Version: "v3", Batch: "old", CapturedAt: t0.Add(-time.Hour)},
		})
		if err != nil || n != 3 {
			t.Fatalf("import: %d, %v", n, err)
		}
		for id, want := range map[int64]string{1: "v9", 2: "v2", 3: "v3", big: "v7"} {
			if v, ok, err := st.CapturedVersion(ctx, id); err != nil || !ok || v != want {
				t.Errorf("after the import, review %d: version %q ok %v, %v; want %q", id, v, ok, err, want)
			}
		}
		if n, err := st.CapturedCount(ctx); err != nil || n != 4 {
			t.Fatalf("count: %d, %v; want 4", n, err)
		}
	})
}
