package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/pipeline"
	"github.com/grpipe/grpipe/internal/queue"
	"github.com/grpipe/grpipe/internal/runstore"
)

// Mapper runs the files of a batch as mapped instances of the ETL try that
// this worker runs (pipeline.Mapper): each part is recorded in the run
// store and put on the queue, where any worker takes it; while it waits,
// the ETL's own worker takes parts nobody took yet itself, so a single
// worker with one slot never waits for itself. A part that fails, or is
// lost with its worker, fails the ETL try, which the scheduler retries.
type Mapper struct {
	h *handler

	mu   sync.Mutex
	next map[runstore.TryKey]int // per ETL try: the next map index
}

var _ pipeline.Mapper = (*Mapper)(nil)

// Map runs parts and returns their outputs in order; done, when set, is
// told each part's output as soon as it succeeded.
func (m *Mapper) Map(ctx context.Context, c *dag.Call, parts []pipeline.Part, done func(int, pipeline.PartOutput)) ([]pipeline.PartOutput, error) {
	h := m.h
	if h == nil {
		return nil, fmt.Errorf("map %d parts: the worker is not running", len(parts))
	}
	try := runstore.TryKey{RunID: c.Run.RunID, TaskID: c.TaskID, MapIndex: -1, Try: c.Number}
	m.mu.Lock()
	if m.next == nil {
		m.next = map[runstore.TryKey]int{}
	}
	base := m.next[try]
	m.next[try] += len(parts)
	m.mu.Unlock()
	if base == 0 {
		// Instances an earlier try recorded but never got running are failed:
		// this try maps its own.
		n, err := h.store.AbandonMapped(ctx, try.RunID, try.TaskID, try.Try, fmt.Sprintf("try %d of %s maps the files afresh", try.Try, try.TaskID), time.Now().UTC())
		if err != nil {
			return nil, err
		}
		if n > 0 {
			c.Log.Info("abandoned the unclaimed mapped instances of earlier tries", "instances", n)
		}
	}
	outs, err := m.mapParts(ctx, c, h, try, base, parts, done)
	if err != nil {
		// Best effort, now, for this try's own unclaimed instances; the next
		// try does it anyway when the database is out of reach now.
		if n, aerr := h.store.AbandonMapped(context.WithoutCancel(ctx), try.RunID, try.TaskID, try.Try+1, "the try that mapped it failed: "+err.Error(), time.Now().UTC()); aerr != nil {
			c.Log.Warn("cannot mark the unclaimed mapped instances failed", "error", aerr)
		} else if n > 0 {
			c.Log.Info("abandoned the unclaimed mapped instances", "instances", n)
		}
	}
	return outs, err
}

// mapParts records and queues parts as instances base, base+1, ... of try
// and waits for their outputs, telling done of each as it comes.
func (m *Mapper) mapParts(ctx context.Context, c *dag.Call, h *handler, try runstore.TryKey, base int, parts []pipeline.Part, done func(int, pipeline.PartOutput)) ([]pipeline.PartOutput, error) {

	keys := make([]runstore.TryKey, len(parts))
	args := make([]queue.TaskArgs, len(parts))
	for i, pt := range parts {
		payload, err := json.Marshal(pt)
		if err != nil {
			return nil, err
		}
		keys[i] = runstore.TryKey{RunID: try.RunID, TaskID: try.TaskID, MapIndex: base + i, Try: try.Try}
		args[i] = queue.TaskArgs{RunID: try.RunID, TaskID: try.TaskID, MapIndex: base + i, Try: try.Try, Timeout: c.Timeout, Payload: payload}
		if err := h.store.QueueMapped(ctx, keys[i], pt.Batch+"/"+pt.File, time.Now().UTC()); err != nil {
			return nil, err
		}
		if _, err := h.q.Enqueue(ctx, args[i]); err != nil {
			return nil, err
		}
	}
	c.Log.Info("transform fanned out", "parts", len(parts), "first_map_index", base)
	outs := make([]pipeline.PartOutput, len(parts))
	finished := make([]bool, len(parts))
	left := len(parts)
	for left > 0 {
		helped := false
		for i, k := range keys {
			if finished[i] {
				continue
			}
			rec, err := h.store.TryRecord(ctx, k)
			if err != nil {
				return nil, err
			}
			switch rec.State {
			case grpipe.StateSuccess:
				if err := json.Unmarshal([]byte(rec.Output), &outs[i]); err != nil {
					return nil, fmt.Errorf("part %s: its output cannot be read: %w", parts[i].File, err)
				}
				finished[i], left = true, left-1
				if done != nil {
					done(i, outs[i])
				}
			case grpipe.StateFailed:
				return nil, fmt.Errorf("part %s (map index %d, worker %s): %w", parts[i].File, k.MapIndex, rec.Worker, runstore.TryError(rec.Error, rec.ErrorKind))
			case grpipe.StateQueued:
				if rec.Worker == "" && !helped {
					// Nobody took it yet: run it here.
					if err := h.run(ctx, args[i]); err != nil {
						return nil, err
					}
					helped = true
				}
			}
		}
		if left > 0 && !helped {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return outs, nil
}

// runPart runs a mapped instance with its own log.
func (h *handler) runPart(ctx context.Context, a queue.TaskArgs) (res dag.Result, output []byte) {
	tlog := dag.NewTryLog(h.log, "run_id", a.RunID, "task", a.TaskID, "map_index", a.MapIndex, "try", a.Try)
	log := tlog.Logger
	res.Started = time.Now().UTC()
	defer func() {
		if p := recover(); p != nil {
			res.Err = fmt.Errorf("part panicked: %v\n%s", p, debug.Stack())
		}
		res.Ended = time.Now().UTC()
		res.Log = tlog.End()
	}()
	if h.parts == nil {
		res.Err = fmt.Errorf("worker %s runs no mapped instances", h.name)
		return res, nil
	}
	tctx := ctx
	if a.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, a.Timeout)
		defer cancel()
	}
	output, res.Err = h.parts(tctx, a.Payload, log)
	return res, output
}
