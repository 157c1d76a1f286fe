package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// pendingRoom is the room reserved for a run's summary that the run store
// could not record: written in place, it needs no free space on its disk.
const pendingRoom = 256 << 10

// storeTries is how often a write to the run store is tried before the
// run is failed for it: a disk that a failed task's leftovers filled often
// has room again once they are removed.
const storeTries = 5

// reservePending creates the pending-record file with its room reserved
// (blank), unless it exists: it may hold a record not yet applied.
func reservePending(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.Size() >= pendingRoom {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("reserve %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{'\n'}, pendingRoom), 0); err != nil {
		return fmt.Errorf("reserve %s: %w", path, err)
	}
	return f.Sync()
}

// writePending writes sum into the reserved room, in place.
func (s *Service) writePending(sum *grpipe.RunSummary) error {
	path := s.opts.PendingRecord
	if path == "" {
		return errors.New("no room was reserved for it")
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	if len(b) > pendingRoom {
		// Keep what says why: the run, its state and its error.
		slim := &grpipe.RunSummary{Run: sum.Run}
		if b, err = json.Marshal(slim); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	padded := append(b, bytes.Repeat([]byte{'\n'}, pendingRoom-len(b))...)
	if _, err := f.WriteAt(padded, 0); err != nil {
		return err
	}
	return f.Sync()
}

// applyPending records a run summary a previous execution could not write
// to the run store (its disk was full), then blanks the room. The caller
// holds the run lock; it runs before orphans are handled, so that such a
// run's record says why it ended, not only that its process stopped.
func (s *Service) applyPending(ctx context.Context) error {
	path := s.opts.PendingRecord
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return reservePending(path)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	var sum grpipe.RunSummary
	if err := json.Unmarshal(b, &sum); err != nil || sum.RunID == "" {
		s.log.Error("a pending run record cannot be read: left as it is; inspect it", "file", path, "error", fmt.Sprint(err))
		return nil
	}
	run, err := s.opts.Store.Run(ctx, sum.RunID)
	switch {
	case errors.Is(err, grpipe.ErrNotFound):
		s.log.Warn("a pending run record names a run the store does not have: dropped", "run_id", sum.RunID)
	case err != nil:
		return fmt.Errorf("apply the pending record of run %s: %w", sum.RunID, err)
	case run.State.Ended():
		// Recorded after all (a later write went through).
	default:
		if sum.Tables == nil {
			sum.Tables = grpipe.NewLedgers()
		}
		if err := s.opts.Store.FinishRun(ctx, &sum); err != nil {
			return fmt.Errorf("record run %s, which its process could not record (see %s): %w", sum.RunID, path, err)
		}
		s.log.Warn("recorded the end of a run its process could not record", "run_id", sum.RunID, "state", sum.State, "error", sum.Error)
	}
	return reservePending(path)
}

// storeWrite runs a write to the run store, trying again (with a growing
// pause, about 3 s in all) while it fails.
func (s *Service) storeWrite(ctx context.Context, fn func() error) error {
	pause := 200 * time.Millisecond
	var err error
	for i := 0; i < storeTries; i++ {
		if err = fn(); err == nil {
			return nil
		}
		if i < storeTries-1 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(pause):
			}
			pause *= 2
		}
	}
	return err
}
