package worker

import (
	"context"
	"reflect"
	"testing"

	"github.com/grpipe/grpipe/internal/runstore"
)

// A try listed twice in one worker (its job, and the ETL's worker helping
// with the same part) stays listed until its first listing ends: the second
// is refused and does not unlist it, so the heartbeats keep naming it.
func TestListOnce(t *testing.T) {
	h := &handler{}
	k := runstore.TryKey{RunID: "manual__a", TaskID: "GoodReadsETLJob", MapIndex: 2, Try: 1}
	_, first := context.WithCancelCause(context.Background())
	_, second := context.WithCancelCause(context.Background())
	if !h.list(k, first) {
		t.Fatal("the first listing was refused")
	}
	if h.list(k, second) {
		t.Fatal("the same try was listed twice")
	}
	if got := h.running(); !reflect.DeepEqual(got, []runstore.TryKey{k}) {
		t.Fatalf("running %v after a refused second listing, want [%s]", got, k)
	}
	h.setClaimed(k, nil)
	if got := h.running(); len(got) != 0 {
		t.Fatalf("running %v after the try ended", got)
	}
	if !h.list(k, second) {
		t.Fatal("a try that ended here could not be listed again")
	}
}
