// Package dag holds the task-level semantics of a DAG run, written once:
// the model (tasks with upstream edges, kind, timeout and retry policy,
// built from grpipe.Tasks()), and a Runner that starts tasks in dependency
// order (independent ones concurrently, in a bounded pool), retries failed
// tries with exponential backoff, marks the downstream of a failed task
// upstream_failed, keeps a blocked task (depends_on_past) and what follows
// it queued, stops starting tasks on a stop signal, and resumes a run from
// the results of an earlier execution.
//
// Where a try physically runs is the Executor's business (executor.go):
// Local runs it on a goroutine of this process; internal/distributed puts
// it on a queue that workers on other machines take. A new
// executor implements Executor and passes the executor tests
// (internal/dag/executortest); the semantics above it do not change. The
// run-level semantics (the run lock, depends_on_past, orphaned runs, clear)
// are internal/orchestrator's.
package dag

import (
	"fmt"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Task is one node of a DAG. Its work is not here: the Executor finds it by
// the task's id.
type Task struct {
	// ID is unique within the DAG (Airflow's task_id).
	ID string
	// Upstream lists the ids of the tasks that must succeed first.
	Upstream []string
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

// Override changes one task's retries and timeout.
type Override struct {
	// Retries, when not nil, replaces the policy's number of retries.
	Retries *int
	// Timeout, when positive, replaces the spec's timeout.
	Timeout time.Duration
}

// New returns the DAG id of the tasks specs, each with its spec's timeout
// and the retry policy, as overrides (by task id) change them; an override
// of a task that does not exist is an error.
func New(id string, specs []grpipe.TaskSpec, policy RetryPolicy, overrides map[string]Override) (*DAG, error) {
	d := &DAG{ID: id, Retry: &policy}
	for _, spec := range specs {
		t := Task{ID: spec.ID, Upstream: spec.Upstream, Kind: spec.Kind, Timeout: spec.Timeout}
		if o, ok := overrides[spec.ID]; ok {
			if o.Retries != nil {
				p := policy
				p.Retries = *o.Retries
				t.Retry = &p
			}
			if o.Timeout > 0 {
				t.Timeout = o.Timeout
			}
		}
		d.Tasks = append(d.Tasks, t)
	}
	for id := range overrides {
		if d.Task(id) == nil {
			return nil, fmt.Errorf("%w: task %s is not in %s", grpipe.ErrNotFound, id, d.ID)
		}
	}
	return d, d.Validate()
}

// Task returns the task called id, nil when there is none.
func (d *DAG) Task(id string) *Task {
	for i := range d.Tasks {
		if d.Tasks[i].ID == id {
			return &d.Tasks[i]
		}
	}
	return nil
}

// Policy returns the retry policy of task t.
func (d *DAG) Policy(t Task) RetryPolicy {
	switch {
	case t.Retry != nil:
		return *t.Retry
	case d.Retry != nil:
		return *d.Retry
	}
	return RetryPolicy{}
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
