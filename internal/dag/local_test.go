package dag_test

import (
	"errors"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/dag/executortest"
)

// TestLocalConformance runs the executor suite on dag.Local.
func TestLocalConformance(t *testing.T) {
	executortest.Run(t, func(t *testing.T, work map[string]dag.Func) dag.Executor { return &dag.Local{Work: work} })
}

// TestNewFromSpecs: the DAG of grpipe.Tasks() with the retry policy, and
// per-task overrides of retries and timeout; an override of a task that
// does not exist is refused.
func TestNewFromSpecs(t *testing.T) {
	zero := 0
	d, err := dag.New(grpipe.DAGID, grpipe.Tasks(), dag.RetryPolicy{Retries: 2, Delay: time.Second},
		map[string]dag.Override{grpipe.TaskETL: {Retries: &zero, Timeout: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	etl, stop := d.Task(grpipe.TaskETL), d.Task(grpipe.TaskStop)
	if len(d.Tasks) != 15 || etl.Timeout != time.Hour || d.Policy(*etl).Retries != 0 || d.Policy(*etl).Delay != time.Second {
		t.Errorf("ETL task %+v policy %+v", etl, d.Policy(*etl))
	}
	if stop.Kind != grpipe.KindMarker || stop.Timeout != time.Minute || d.Policy(*stop).Retries != 2 {
		t.Errorf("Stop_execution %+v policy %+v", stop, d.Policy(*stop))
	}
	if _, err := dag.New(grpipe.DAGID, grpipe.Tasks(), dag.RetryPolicy{}, map[string]dag.Override{"Nope": {}}); !errors.Is(err, grpipe.ErrNotFound) {
		t.Errorf("override of an unknown task: %v", err)
	}
}
