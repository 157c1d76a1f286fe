package grpipe_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
)

func TestTasksFormADAG(t *testing.T) {
	specs := grpipe.Tasks()
	if len(specs) != 15 {
		t.Fatalf("%d tasks, want the original's 15", len(specs))
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if seen[s.ID] {
			t.Errorf("task %s appears twice", s.ID)
		}
		for _, u := range s.Upstream {
			if !seen[u] {
				t.Errorf("task %s: upstream %s is not declared before it", s.ID, u)
			}
		}
		if s.Timeout <= 0 || s.Kind == "" {
			t.Errorf("task %s: kind %q timeout %s", s.ID, s.Kind, s.Timeout)
		}
		seen[s.ID] = true
	}
	if got := grpipe.Downstream(grpipe.TaskBookTables); !slices.Equal(got, []string{grpipe.TaskBookChecks, grpipe.TaskBestBooks,
		grpipe.TaskBookRatings, grpipe.TaskBookReviews, grpipe.TaskStop}) {
		t.Errorf("downstream of %s: %v", grpipe.TaskBookTables, got)
	}
	if got := grpipe.Downstream(grpipe.TaskStop); len(got) != 0 {
		t.Errorf("downstream of the last task: %v", got)
	}
	if _, err := grpipe.TaskByID("No_such_task"); !errors.Is(err, grpipe.ErrNotFound) || !strings.Contains(err.Error(), grpipe.TaskETL) {
		t.Errorf("TaskByID of an unknown id: %v", err)
	}
}

// TestREADMEShowsTheDAG: the README's picture of the DAG has exactly the
// edges of grpipe.Tasks().
func TestREADMEShowsTheDAG(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "The DAG is the original's")
	if start < 0 {
		t.Fatal("README.md has no DAG section")
	}
	block := text[start:]
	block = block[strings.Index(block, "```")+3:]
	block = block[:strings.Index(block, "```")]
	got := map[[2]string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		groups := strings.Split(line, " → ")
		for i := 0; i+1 < len(groups); i++ {
			for _, from := range strings.Split(groups[i], ",") {
				for _, to := range strings.Split(groups[i+1], ",") {
					got[[2]string{strings.TrimSpace(from), strings.TrimSpace(to)}] = true
				}
			}
		}
	}
	want := map[[2]string]bool{}
	for _, s := range grpipe.Tasks() {
		for _, u := range s.Upstream {
			want[[2]string{u, s.ID}] = true
		}
	}
	for e := range want {
		if !got[e] {
			t.Errorf("README lacks the edge %s → %s", e[0], e[1])
		}
	}
	for e := range got {
		if !want[e] {
			t.Errorf("README shows an edge %s → %s the DAG does not have", e[0], e[1])
		}
	}
}
