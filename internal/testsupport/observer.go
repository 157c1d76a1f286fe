package testsupport

import (
	"context"
	"sync"

	grpipe "github.com/grpipe/grpipe"
)

// Observer is a grpipe.Observer for tests: it records what it is told and
// calls OnRetry, when set, at each retry (before the backoff).
type Observer struct {
	// OnRetry is called with the task id of each try that will be retried.
	OnRetry func(taskID string)

	mu      sync.Mutex
	runs    []*grpipe.RunSummary
	tries   []grpipe.TaskSummary
	retries []string
}

var _ grpipe.Observer = (*Observer)(nil)

// RunEnded records sum.
func (o *Observer) RunEnded(_ context.Context, sum *grpipe.RunSummary) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.runs = append(o.runs, sum)
}

// TaskEnded records t.
func (o *Observer) TaskEnded(_ context.Context, _ grpipe.Run, t grpipe.TaskSummary) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tries = append(o.tries, t)
}

// TaskRetry records the task id and calls OnRetry.
func (o *Observer) TaskRetry(_ context.Context, _ grpipe.Run, taskID string, _ int, _ error) {
	o.mu.Lock()
	o.retries = append(o.retries, taskID)
	o.mu.Unlock()
	if o.OnRetry != nil {
		o.OnRetry(taskID)
	}
}

// Runs returns the runs that ended, in order.
func (o *Observer) Runs() []*grpipe.RunSummary {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*grpipe.RunSummary(nil), o.runs...)
}

// Tries returns the tries that ended, in order.
func (o *Observer) Tries() []grpipe.TaskSummary {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]grpipe.TaskSummary(nil), o.tries...)
}

// Retries returns the task ids of the tries that were retried, in order.
func (o *Observer) Retries() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.retries...)
}
