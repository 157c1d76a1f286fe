package web

import (
	"fmt"
	"sort"
	"strings"

	grpipe "github.com/grpipe/grpipe"
)

// The grid and the Gantt chart show the instances of a mapped task (the
// ETL fanned out per landed file with executor distributed) under the row
// of the task itself, as Airflow shows dynamically mapped tasks: the graph
// keeps the DAG's task ids, the grid gets a row per map index, the Gantt a
// row per instance with a bar per try.

// gridMapped is how many map indices the grid shows one row each; the
// instances beyond are summed up in one more row (the Gantt lists them all).
const gridMapped = 24

// latestMapped returns, per task, the instances of the task's latest try
// that fanned out, by map index.
func latestMapped(mis []MappedInstance) map[string][]MappedInstance {
	last := map[string]int{}
	for _, mi := range mis {
		if mi.Try > last[mi.TaskID] {
			last[mi.TaskID] = mi.Try
		}
	}
	out := map[string][]MappedInstance{}
	for _, mi := range mis {
		if mi.Try == last[mi.TaskID] {
			out[mi.TaskID] = append(out[mi.TaskID], mi)
		}
	}
	for _, list := range out {
		sort.Slice(list, func(i, j int) bool { return list[i].MapIndex < list[j].MapIndex })
	}
	return out
}

// groupState is the state of a group of instances: failed when one failed,
// else the state of one still on its way (running before up_for_retry
// before queued), else success when all succeeded.
func groupState(mis []MappedInstance) grpipe.State {
	if len(mis) == 0 {
		return grpipe.StateNone
	}
	rank := map[grpipe.State]int{grpipe.StateFailed: 5, grpipe.StateUpstreamFailed: 4, grpipe.StateRunning: 3, grpipe.StateUpForRetry: 2, grpipe.StateQueued: 1}
	best := grpipe.StateSuccess
	for _, mi := range mis {
		if mi.State != grpipe.StateSuccess && rank[mi.State] >= rank[best] {
			best = mi.State
		}
	}
	return best
}

// countStates says how many instances are in each state: "10 success, 2 failed".
func countStates(mis []MappedInstance) string {
	n := map[grpipe.State]int{}
	var order []grpipe.State
	for _, mi := range mis {
		if n[mi.State] == 0 {
			order = append(order, mi.State)
		}
		n[mi.State]++
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	parts := make([]string, len(order))
	for i, st := range order {
		parts[i] = fmt.Sprintf("%d %s", n[st], st)
	}
	return strings.Join(parts, ", ")
}

// mappedName is how the UI names an instance: "GoodReadsETLJob[3]".
func mappedName(task string, mapIndex int) string {
	return fmt.Sprintf("%s[%d]", task, mapIndex)
}

// mappedAnchor is the id of an instance's try in the Gantt page's table.
func mappedAnchor(task string, mapIndex, try int) string {
	return fmt.Sprintf("try-%s-%d-%d", task, mapIndex, try)
}

// mappedHref links a try of an instance to its line in the run's Gantt page.
func mappedHref(mi MappedInstance) string {
	return "/dags/" + grpipe.DAGID + "/runs/" + mi.RunID + "/gantt#" + mappedAnchor(mi.TaskID, mi.MapIndex, mi.Try)
}

// mappedTitle is an instance's hover text in the grid.
func mappedTitle(mi MappedInstance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s: %s (try %d, %s", mappedName(mi.TaskID, mi.MapIndex), mi.RunID, mi.State, mi.Try, fmtDur(mi.Duration()))
	if mi.Worker != "" {
		fmt.Fprintf(&b, ", worker %s", mi.Worker)
	}
	b.WriteString(")")
	if mi.Label != "" {
		fmt.Fprintf(&b, "\nfile %s", mi.Label)
	}
	if mi.Error != "" {
		fmt.Fprintf(&b, "\nerror: %s", clip(mi.Error, 240))
	}
	return b.String()
}
