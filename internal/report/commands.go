package report

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/fake"
)

// What the commands say: each function writes one command's outcome.

// Ended writes a run's outcome: its JSON summary, or its text summary, on
// stdout, and on stderr why it did not succeed; it reports whether it did.
func Ended(stdout, stderr io.Writer, sum *grpipe.RunSummary, asJSON bool) (bool, error) {
	if asJSON {
		if err := JSON(stdout, sum); err != nil {
			return false, err
		}
	} else {
		Summary(stdout, sum)
	}
	switch sum.State {
	case grpipe.StateSuccess:
		return true, nil
	case grpipe.StateQueued:
		fmt.Fprintf(stderr, "grpipe: run %s waits: %s\n", sum.RunID, sum.Error)
	default:
		fmt.Fprintf(stderr, "grpipe: run %s failed: %s\n", sum.RunID, sum.Error)
	}
	return false, nil
}

// Landed lists the files landed.
func Landed(w io.Writer, names []string) {
	for _, n := range names {
		fmt.Fprintf(w, "landed %s\n", n)
	}
}

// Next says what to try after the demo, with the home relative to the
// working folder when it is below it.
func Next(w io.Writer, home string) {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, home); err == nil && !strings.HasPrefix(rel, "..") {
			home = rel
		}
	}
	fmt.Fprintf(w, "\nnext: grpipe --home %s query \"SELECT * FROM goodreads_analytics.best_books\"\n", home)
}

// Queued lists the backfill runs queued out of intervals.
func Queued(w io.Writer, runs []grpipe.Run, intervals int) {
	for _, r := range runs {
		fmt.Fprintf(w, "queued %s\n", r.RunID)
	}
	fmt.Fprintf(w, "%d backfill runs queued (%d intervals)\n", len(runs), intervals)
}

// Executed lists the states of runs executed one after the other, and on
// stderr why the last did not succeed; it reports whether all succeeded.
func Executed(stdout, stderr io.Writer, sums []*grpipe.RunSummary) bool {
	for _, sum := range sums {
		fmt.Fprintf(stdout, "run %s: %s\n", sum.RunID, sum.State)
		if sum.State != grpipe.StateSuccess {
			fmt.Fprintf(stderr, "grpipe: run %s %s: %s\n", sum.RunID, sum.State, sum.Error)
			return false
		}
	}
	return true
}

// Triggered says which run was queued, and that it waits while the DAG is paused.
func Triggered(stdout, stderr io.Writer, run grpipe.Run, paused bool) {
	fmt.Fprintf(stdout, "queued run %s\n", run.RunID)
	if paused {
		fmt.Fprintln(stderr, "grpipe: note: the DAG is paused; the run waits until `grpipe dags unpause`")
	}
}

// Cleared says which tasks of a run were cleared and what runs them.
func Cleared(w io.Writer, runID string, ids []string) {
	fmt.Fprintf(w, "cleared %s in run %s; the run is queued: the scheduler re-runs them, or run `grpipe runs resume %s`\n",
		strings.Join(ids, ", "), runID, runID)
}

// Log writes a try's log on stdout, after a line naming it on stderr.
func Log(stdout, stderr io.Writer, runID, taskID string, try int, log string) {
	fmt.Fprintf(stderr, "--- %s %s try %d\n", runID, taskID, try)
	fmt.Fprint(stdout, log)
}

// Serving says where the API replay server serves how many reviews.
func Serving(w io.Writer, reviews int, from string, addr net.Addr) {
	fmt.Fprintf(w, "serving %d reviews from %s as the Goodreads API on http://%s\n", reviews, from, addr)
}

// WebUI says where the web UI listens.
func WebUI(w io.Writer, addr net.Addr) { fmt.Fprintf(w, "grpipe: web UI on http://%s/\n", addr) }

// UCSD says what UCSD dumps grpipe fake wrote, where, and how fast.
func UCSD(w io.Writer, r fake.UCSDResult, dir string) {
	fmt.Fprintf(w, "wrote %d reviews (%d users), %d books, %d authors: %s compressed in %.1fs (%s/s) to %s: %s\n",
		r.Reviews, r.Users, r.Books, r.Authors, Bytes(r.Bytes), r.Seconds, Bytes(int64(float64(r.Bytes)/r.Seconds)), dir, strings.Join(r.Paths, " "))
}
