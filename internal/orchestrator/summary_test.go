package orchestrator_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/testsupport"
)

// Defect 17: the summary of a run that claimed nothing and recovered
// nothing shows "files": [] and "recovered": [], as the README does, when
// the run ends and when it is read back.
func TestSummaryListsAreNeverOmitted(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	sum := h.Run()
	stored, err := h.App.Store.Summary(context.Background(), sum.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]any{"ended": sum, "stored": stored} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"files":[]`, `"recovered":[]`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s summary lacks %s: %s", what, want, b)
			}
		}
	}
}
