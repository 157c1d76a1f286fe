package runstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/runstore"
)

// eachStore runs test against a store on SQLite and one on PostgreSQL
// (GRPIPE_TEST_POSTGRES): the same migrations and queries on both.
func eachStore(t *testing.T, test func(t *testing.T, st *runstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := runstore.OpenMetadata(context.Background(), filepath.Join(t.TempDir(), "grpipe.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		test(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := runstore.OpenMetadata(context.Background(), pgtest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		test(t, st)
	})
}

func startRun(t *testing.T, st *runstore.Store, id string) {
	t.Helper()
	if _, err := st.EnqueueRun(context.Background(), grpipe.Run{RunID: id, RunType: grpipe.RunManual, LogicalDate: t0, QueuedAt: t0}); err != nil {
		t.Fatal(err)
	}
}

// A try is claimed by one worker only; its end is recorded by that worker
// only; a try given up as lost stays given up.
func TestClaimTry(t *testing.T) {
	eachStore(t, func(t *testing.T, st *runstore.Store) {
		ctx := context.Background()
		startRun(t, st, "manual__a")
		task := runstore.TryKey{RunID: "manual__a", TaskID: "Load_best_books", MapIndex: -1, Try: 1}
		part := runstore.TryKey{RunID: "manual__a", TaskID: "GoodReadsETLJob", MapIndex: 4, Try: 1}
		if err := st.TaskStarted(ctx, task.RunID, task.TaskID, "sql", task.Try, t0); err != nil {
			t.Fatal(err)
		}
		if err := st.QueueMapped(ctx, part, "reviews-x-0005.csv", t0); err != nil {
			t.Fatal(err)
		}
		if err := st.QueueMapped(ctx, part, "reviews-x-0005.csv", t0); err != nil {
			t.Fatalf("queue twice: %v", err)
		}
		if ok, err := st.ClaimTry(ctx, runstore.TryKey{RunID: "manual__a", TaskID: "GoodReadsETLJob", MapIndex: 9, Try: 1}, "w1", t0); err != nil || ok {
			t.Fatalf("claim of a try never queued: ok=%v err=%v", ok, err)
		}
		for _, k := range []runstore.TryKey{task, part} {
			// Several workers race for the try: exactly one wins.
			var wins sync.Map
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := st.ClaimTry(ctx, k, fmt.Sprintf("w%d", i), t0.Add(time.Second))
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Store(i, true)
					}
				}()
			}
			wg.Wait()
			var winner string
			n := 0
			wins.Range(func(k, _ any) bool { n++; winner = fmt.Sprintf("w%d", k.(int)); return true })
			if n != 1 {
				t.Fatalf("%s claimed by %d workers", k, n)
			}
			got, err := st.TryRecord(ctx, k)
			if err != nil || got.State != grpipe.StateRunning || got.Worker != winner || !got.StartedAt.Equal(t0.Add(time.Second)) {
				t.Fatalf("%s after claim: %+v %v", k, got, err)
			}
			if k.MapIndex >= 0 && got.Label != "reviews-x-0005.csv" {
				t.Fatalf("label %q", got.Label)
			}
			// Another worker cannot record its end.
			if ok, err := st.EndTry(ctx, k, "intruder", runstore.Outcome{State: grpipe.StateSuccess, EndedAt: t0}); err != nil || ok {
				t.Fatalf("end by another worker: ok=%v err=%v", ok, err)
			}
			if ok, err := st.EndTry(ctx, k, winner, runstore.Outcome{State: grpipe.StateFailed, EndedAt: t0.Add(2 * time.Second),
				Err: fmt.Errorf("file x: %w", grpipe.ErrBadInput), Log: "the log", Output: `{"a":1}`}); err != nil || !ok {
				t.Fatalf("end: ok=%v err=%v", ok, err)
			}
			got, err = st.TryRecord(ctx, k)
			if err != nil || got.State != grpipe.StateFailed || got.ErrorKind != "bad_input" || got.Output != `{"a":1}` || !got.EndedAt.Equal(t0.Add(2*time.Second)) {
				t.Fatalf("%s after end: %+v %v", k, got, err)
			}
			if !errors.Is(runstore.TryError(got.Error, got.ErrorKind), grpipe.ErrBadInput) {
				t.Fatalf("the recorded error lost its kind")
			}
			// An ended try is never claimed again.
			if ok, err := st.ClaimTry(ctx, k, "late", t0.Add(3*time.Second)); err != nil || ok {
				t.Fatalf("claim of an ended try: ok=%v err=%v", ok, err)
			}
		}
		// A lost try: given up once, and its worker cannot overwrite that.
		lost := runstore.TryKey{RunID: "manual__a", TaskID: "GoodReadsETLJob", MapIndex: 5, Try: 1}
		if err := st.QueueMapped(ctx, lost, "reviews-x-0006.csv", t0); err != nil {
			t.Fatal(err)
		}
		if ok, err := st.ClaimTry(ctx, lost, "w9", t0); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if ok, err := st.FailLostTry(ctx, lost, "w9", "worker w9 stopped", t0.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("give up: %v %v", ok, err)
		}
		if ok, err := st.FailLostTry(ctx, lost, "w9", "again", t0.Add(time.Minute)); err != nil || ok {
			t.Fatalf("give up twice: %v %v", ok, err)
		}
		if ok, err := st.EndTry(ctx, lost, "w9", runstore.Outcome{State: grpipe.StateSuccess, EndedAt: t0.Add(2 * time.Minute)}); err != nil || ok {
			t.Fatalf("end of a lost try: ok=%v err=%v", ok, err)
		}
		got, err := st.TryRecord(ctx, lost)
		if err != nil || got.State != grpipe.StateFailed || got.Error != "worker w9 stopped" || got.ErrorKind != "lost" {
			t.Fatalf("lost try %+v %v", got, err)
		}
		mapped, err := st.MappedInstances(ctx, "manual__a")
		if err != nil || len(mapped) != 2 || mapped[0].MapIndex != 4 || mapped[1].MapIndex != 5 || mapped[1].Worker != "w9" {
			t.Fatalf("mapped instances %+v %v", mapped, err)
		}
		if _, err := st.TryRecord(ctx, runstore.TryKey{RunID: "manual__a", TaskID: "GoodReadsETLJob", MapIndex: 77, Try: 1}); !errors.Is(err, grpipe.ErrNotFound) {
			t.Fatalf("unknown try: %v", err)
		}
	})
}

// Workers register under unique names, beat, and the tries of a dead worker,
// or of one that no longer runs them, are found lost.
func TestWorkersAndLostTries(t *testing.T) {
	eachStore(t, func(t *testing.T, st *runstore.Store) {
		ctx := context.Background()
		const timeout, beat = 15 * time.Second, 2 * time.Second
		w1 := runstore.Worker{Name: "w1", Hostname: "hostA", PID: 11, Concurrency: 2, StartedAt: t0}
		w2 := runstore.Worker{Name: "w2", Hostname: "hostB", PID: 22, Concurrency: 1, StartedAt: t0}
		for _, w := range []runstore.Worker{w1, w2} {
			if err := st.RegisterWorker(ctx, w, timeout); err != nil {
				t.Fatal(err)
			}
		}
		dup := w1
		dup.Hostname, dup.PID, dup.StartedAt = "hostC", 33, t0.Add(5*time.Second)
		if err := st.RegisterWorker(ctx, dup, timeout); !errors.Is(err, grpipe.ErrBusy) {
			t.Fatalf("a second live w1: %v", err)
		}
		startRun(t, st, "manual__b")
		keys := []runstore.TryKey{
			{RunID: "manual__b", TaskID: "GoodReadsETLJob", MapIndex: 0, Try: 1},
			{RunID: "manual__b", TaskID: "GoodReadsETLJob", MapIndex: 1, Try: 1},
			{RunID: "manual__b", TaskID: "GoodReadsETLJob", MapIndex: 2, Try: 1},
		}
		for i, k := range keys {
			if err := st.QueueMapped(ctx, k, "", t0); err != nil {
				t.Fatal(err)
			}
			w := "w1"
			if i == 2 {
				w = "w2"
			}
			if ok, err := st.ClaimTry(ctx, k, w, t0.Add(time.Second)); err != nil || !ok {
				t.Fatalf("claim %v %v", ok, err)
			}
		}
		// w1 runs both its tries and beats; w2 beats without its try.
		now := t0.Add(10 * time.Second)
		if err := st.BeatWorker(ctx, "w1", runstore.WorkerRunning, keys[:2], 5, now); err != nil {
			t.Fatal(err)
		}
		if err := st.BeatWorker(ctx, "w2", runstore.WorkerRunning, nil, 1, now); err != nil {
			t.Fatal(err)
		}
		lost, err := st.LostTries(ctx, now, timeout, beat)
		if err != nil || len(lost) != 1 || lost[0].TryKey != keys[2] || lost[0].Worker != "w2" {
			t.Fatalf("lost tries %+v %v: want w2's try only", lost, err)
		}
		ws, err := st.Workers(ctx)
		if err != nil || len(ws) != 2 || ws[0].Name != "w1" || len(ws[0].Running) != 2 || ws[0].Running[1] != keys[1] || ws[0].TriesDone != 5 || !ws[0].BeatAt.Equal(now) {
			t.Fatalf("workers %+v %v", ws, err)
		}
		// w1 stops beating: after the timeout its tries are lost too.
		later := now.Add(timeout + time.Second)
		if err := st.BeatWorker(ctx, "w2", runstore.WorkerRunning, nil, 1, later); err != nil {
			t.Fatal(err)
		}
		lost, err = st.LostTries(ctx, later, timeout, beat)
		if err != nil || len(lost) != 3 {
			t.Fatalf("lost tries %+v %v: want all three", lost, err)
		}
		// A dead worker's name can be taken again.
		if err := st.RegisterWorker(ctx, dup, timeout); err == nil {
			t.Fatal("w1 beat 5s before: still alive")
		}
		dup.StartedAt = later
		if err := st.RegisterWorker(ctx, dup, timeout); err != nil {
			t.Fatalf("re-register a dead worker's name: %v", err)
		}
	})
}

// The unclaimed instances of earlier tries of a mapped task are failed when
// a later try maps afresh; claimed, ended and later ones are left alone.
func TestAbandonMapped(t *testing.T) {
	eachStore(t, func(t *testing.T, st *runstore.Store) {
		ctx := context.Background()
		startRun(t, st, "manual__c")
		key := func(idx, try int) runstore.TryKey {
			return runstore.TryKey{RunID: "manual__c", TaskID: "GoodReadsETLJob", MapIndex: idx, Try: try}
		}
		for _, k := range []runstore.TryKey{key(0, 1), key(1, 1), key(2, 1), key(0, 2)} {
			if err := st.QueueMapped(ctx, k, "", t0); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := st.ClaimTry(ctx, key(1, 1), "w1", t0); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		n, err := st.AbandonMapped(ctx, "manual__c", "GoodReadsETLJob", 2, "try 2 maps afresh", t0.Add(time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("abandoned %d, %v; want 2", n, err)
		}
		want := map[runstore.TryKey]grpipe.State{key(0, 1): grpipe.StateFailed, key(1, 1): grpipe.StateRunning, key(2, 1): grpipe.StateFailed, key(0, 2): grpipe.StateQueued}
		for k, st0 := range want {
			got, err := st.TryRecord(ctx, k)
			if err != nil || got.State != st0 {
				t.Errorf("%s: %s %v, want %s", k, got.State, err, st0)
			}
			if st0 == grpipe.StateFailed && (got.Error != "try 2 maps afresh" || got.ErrorKind != "lost" || !got.EndedAt.Equal(t0.Add(time.Minute))) {
				t.Errorf("%s: %+v", k, got)
			}
		}
		if ok, err := st.ClaimTry(ctx, key(2, 1), "w2", t0.Add(2*time.Minute)); err != nil || ok {
			t.Fatalf("claim of an abandoned instance: %v %v", ok, err)
		}
		if n, err := st.AbandonMapped(ctx, "manual__c", "GoodReadsETLJob", 2, "again", t0); err != nil || n != 0 {
			t.Fatalf("abandoned again: %d %v", n, err)
		}
	})
}
