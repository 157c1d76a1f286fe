// Package dag provides the DAG model (tasks with their upstream edges, kind,
// timeout and retry policy) and a runner that executes a DAG's tasks in
// dependency order, independent tasks concurrently in a bounded pool,
// retrying failed tries with exponential backoff, marking the downstream of
// a failed task upstream_failed, and resuming a run from the results of an
// earlier execution.
package dag

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Func is the work of a task. log writes to the task's own log.
type Func func(ctx context.Context, log *slog.Logger) error

// Task is one node of a DAG.
type Task struct {
	// ID is unique within the DAG (Airflow's task_id).
	ID string
	// Upstream lists the ids of the tasks that must succeed first.
	Upstream []string
	// Run is the task's work; nil means nothing to do (a marker task).
	Run Func
	// Timeout bounds one try; zero means no bound.
	Timeout time.Duration
	// Kind says what sort of work the task does, for people and the run
	// history; the runner does not interpret it.
	Kind grpipe.TaskKind
	// Retry overrides the DAG's retry policy for this task; nil keeps it.
	Retry *RetryPolicy
}

// RetryPolicy says how often a failed try is retried and how long to wait:
// try n+1 starts Delay*2^(n-1) after try n failed, at most MaxDelay.
type RetryPolicy struct {
	// Retries is the number of tries after the first (Airflow's retries).
	Retries int
	// Delay is the wait before the first retry; it doubles for each next one.
	Delay time.Duration
	// MaxDelay caps the wait (0: no cap).
	MaxDelay time.Duration
}

// DefaultRetry returns the default policy: two retries, 10s then 20s apart.
func DefaultRetry() RetryPolicy {
	return RetryPolicy{Retries: 2, Delay: 10 * time.Second, MaxDelay: 5 * time.Minute}
}

// Backoff returns the wait before try next (2 or more).
func (p RetryPolicy) Backoff(next int) time.Duration {
	d := p.Delay
	for i := 2; i < next; i++ {
		d *= 2
		if p.MaxDelay > 0 && d >= p.MaxDelay {
			return p.MaxDelay
		}
	}
	if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d
}

// DAG is a set of tasks with upstream edges.
type DAG struct {
	ID    string
	Tasks []Task
	// Retry is the retry policy of tasks that set none; nil means no retries.
	Retry *RetryPolicy
}

// Validate checks ids are unique, upstream ids exist and there is no cycle.
func (d *DAG) Validate() error {
	ids := map[string]bool{}
	for _, t := range d.Tasks {
		if t.ID == "" {
			return fmt.Errorf("dag %s: a task has no id", d.ID)
		}
		if ids[t.ID] {
			return fmt.Errorf("dag %s: task id %s appears twice", d.ID, t.ID)
		}
		ids[t.ID] = true
	}
	for _, t := range d.Tasks {
		for _, u := range t.Upstream {
			if !ids[u] {
				return fmt.Errorf("dag %s: task %s: unknown upstream task %s", d.ID, t.ID, u)
			}
		}
	}
	if _, err := d.Order(); err != nil {
		return err
	}
	return nil
}

// Order returns the task ids in a topological order (stable: ties keep declaration order).
func (d *DAG) Order() ([]string, error) {
	indeg := map[string]int{}
	down := map[string][]string{}
	for _, t := range d.Tasks {
		indeg[t.ID] += 0
		for _, u := range t.Upstream {
			indeg[t.ID]++
			down[u] = append(down[u], t.ID)
		}
	}
	var order []string
	var ready []string
	for _, t := range d.Tasks {
		if indeg[t.ID] == 0 {
			ready = append(ready, t.ID)
		}
	}
	for len(ready) > 0 {
		id := ready[0]
		ready = ready[1:]
		order = append(order, id)
		for _, n := range down[id] {
			indeg[n]--
			if indeg[n] == 0 {
				ready = append(ready, n)
			}
		}
	}
	if len(order) != len(d.Tasks) {
		return nil, fmt.Errorf("dag %s: the tasks' upstream edges form a cycle", d.ID)
	}
	return order, nil
}

// Downstream returns the ids of the tasks that depend, directly or not, on id.
func (d *DAG) Downstream(id string) []string {
	down := map[string][]string{}
	for _, t := range d.Tasks {
		for _, u := range t.Upstream {
			down[u] = append(down[u], t.ID)
		}
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		for _, c := range down[n] {
			if !seen[c] {
				seen[c] = true
				walk(c)
			}
		}
	}
	walk(id)
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
