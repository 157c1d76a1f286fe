package pipeline

import (
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
)

// Progress is told how the ETL task advances, step by step, for a display
// (`grpipe run` on a terminal). Steps are named "claim", "transform",
// "stage <entity>", "upsert <entity>" and "fill_authors". A Progress must be
// safe for use from several goroutines.
type Progress interface {
	// Started is told that a step starts and the bytes it will read (0:
	// not known, or nothing to read).
	Started(step string, bytes int64)
	// Advanced counts bytes read and records seen by the running step
	// since its last call (the transform's validation tells it as it goes).
	Advanced(bytes, records int64)
	// Ended is told that the step ended: the bytes it read, the rows it
	// handled and how long it took.
	Ended(step string, bytes, rows int64, took time.Duration)
}

// started tells the progress that a step starts.
func (p *Pipeline) started(step string, bytes int64) {
	if p.opts.Progress != nil {
		p.opts.Progress.Started(step, bytes)
	}
}

// ended records a stage's timing in the try's output (under its stage,
// "stage" for every entity's staging) and tells the progress (under step).
func (p *Pipeline) ended(c *dag.Call, step string, st grpipe.StageTiming) {
	c.AddStage(st)
	if p.opts.Progress != nil {
		p.opts.Progress.Ended(step, st.Bytes, st.Rows, time.Duration(st.Seconds*float64(time.Second)))
	}
}

// advanced is the transform's progress callback, nil without a Progress.
func (p *Pipeline) advanced() func(bytes, records int64) {
	if p.opts.Progress == nil {
		return nil
	}
	return p.opts.Progress.Advanced
}
