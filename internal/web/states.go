package web

import (
	"fmt"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// StateInfo is a state's colour and meaning, for the legend.
type StateInfo struct {
	State   grpipe.State
	Label   string
	Color   string
	Meaning string
}

// States lists the states with Airflow's colours, so its users feel at home.
var States = []StateInfo{
	{grpipe.StateSuccess, "success", "#008000", "finished without error"},
	{grpipe.StateRunning, "running", "#00ff00", "running now"},
	{grpipe.StateFailed, "failed", "#ff0000", "failed (after its retries)"},
	{grpipe.StateUpForRetry, "up_for_retry", "#ffd700", "failed; will be tried again"},
	{grpipe.StateUpstreamFailed, "upstream_failed", "#ffa500", "not run: an upstream task failed"},
	{grpipe.StateSkipped, "skipped", "#ff69b4", "skipped"},
	{grpipe.StateQueued, "queued", "#808080", "waiting to run"},
	{grpipe.StateNone, "no_status", "#ffffff", "not run yet in this run"},
}

// StateColor returns the colour of a state.
func StateColor(s grpipe.State) string {
	for _, st := range States {
		if st.State == s {
			return st.Color
		}
	}
	return "#d3d3d3"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
