package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// addMapped gives run manual__1 the mapped instances of its two ETL tries:
// try 1 fanned out 2 files (one failed on w2), try 2 the same 2 files and
// succeeded; and a second run scheduled__m with 30 instances, 1 failed.
func addMapped(b *memBackend) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	mi := func(run string, idx, try int, st grpipe.State, from, to time.Duration, worker, errText string) MappedInstance {
		return MappedInstance{MapIndex: idx, Label: fmt.Sprintf("b1/reviews-x-%04d.csv", idx), TaskInstance: TaskInstance{RunID: run, TaskID: "GoodReadsETLJob",
			Try: try, MaxTries: 3, State: st, StartedAt: t0.Add(from), EndedAt: t0.Add(to), Worker: worker, Error: errText}}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mapped = map[string][]MappedInstance{"manual__1": {
		mi("manual__1", 0, 1, grpipe.StateSuccess, 1500*time.Millisecond, 2500*time.Millisecond, "w1", ""),
		mi("manual__1", 1, 1, grpipe.StateFailed, 1500*time.Millisecond, 2800*time.Millisecond, "w2", "s3: connection reset"),
		mi("manual__1", 0, 2, grpipe.StateSuccess, 5500*time.Millisecond, 7*time.Second, "w2", ""),
		mi("manual__1", 1, 2, grpipe.StateSuccess, 5500*time.Millisecond, 8*time.Second, "w1", ""),
	}}
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	b.runs = append([]grpipe.Run{{RunID: "scheduled__m", RunType: grpipe.RunScheduled, State: grpipe.StateFailed, LogicalDate: start, StartedAt: start, EndedAt: start.Add(time.Minute)}}, b.runs...)
	b.tis["scheduled__m"] = []TaskInstance{{RunID: "scheduled__m", TaskID: "GoodReadsETLJob", Try: 1, MaxTries: 3, State: grpipe.StateFailed, StartedAt: start, EndedAt: start.Add(time.Minute)}}
	for i := range 30 {
		st, w := grpipe.StateSuccess, "w1"
		if i == 27 {
			st, w = grpipe.StateFailed, "w3"
		}
		b.mapped["scheduled__m"] = append(b.mapped["scheduled__m"], MappedInstance{MapIndex: i, Label: fmt.Sprintf("b2/reviews-y-%04d.csv", i),
			TaskInstance: TaskInstance{RunID: "scheduled__m", TaskID: "GoodReadsETLJob", Try: 1, State: st, StartedAt: start, EndedAt: start.Add(time.Second), Worker: w}})
	}
}

func TestGridMapped(t *testing.T) {
	ts, b := newTestServer(t, "")
	addMapped(b)
	page, _ := mustGet(t, ts.Client(), ts.URL+"/dags/"+grpipe.DAGID+"/grid", 200)
	// The tasks keep their square cells (4 tasks × 2 runs); the mapped
	// instances get a row per map index under the ETL: 24 rows, then one
	// summing up map indices 24 to 29, each with a cell per run.
	if n := strings.Count(page, `class="cell"`); n != 8 {
		t.Errorf("%d task cells, want 8", n)
	}
	if n := strings.Count(page, `class="mcell"`); n != 25*2 {
		t.Errorf("%d mapped cells, want 50", n)
	}
	contains(t, page,
		// manual__1: the instances of its latest try (2), none past map index 1.
		`<a href="/dags/goodreads_pipeline/runs/manual__1/gantt#try-GoodReadsETLJob-1-2" class="mcell" data-state="success" data-task="GoodReadsETLJob" data-map-index="1" data-run="manual__1">`,
		"GoodReadsETLJob[1] in manual__1: success (try 2, 2.5s, worker w1)\nfile b1/reviews-x-0001.csv</title>",
		`data-map-index="2" data-run="manual__1"`, "GoodReadsETLJob[2] in manual__1: not mapped",
		"GoodReadsETLJob[24…] in manual__1: not mapped",
		// scheduled__m: map index 27 failed, so the summed-up row is failed.
		`class="mcell" data-state="failed" data-task="GoodReadsETLJob" data-map-index="24" data-run="scheduled__m"`,
		"GoodReadsETLJob[24…29] in scheduled__m: 6 instances of try 1: 1 failed, 5 success",
		`class="mcell" data-state="success" data-task="GoodReadsETLJob" data-map-index="23" data-run="scheduled__m"`,
		// Row labels, indented under the task.
		`<text x="20" y="84" font-size="12" class="mapped" fill="#445"><title>mapped instance 0 of GoodReadsETLJob (one per landed file)</title>GoodReadsETLJob[0]</text>`,
		`>GoodReadsETLJob[24…]</text>`,
		// The task rows below the mapped ones move down: row 27 is the checks: 26 + 27×22 + 14.
		`<text x="4" y="634" font-size="12">Warehouse_data_quality_checks</text>`,
		// The task's own cell stays a task cell.
		`class="cell" data-state="failed" data-task="GoodReadsETLJob" data-run="manual__1"`)
	lacks(t, page, `data-map-index="25"`)

	// Without mapped instances, no mapped row.
	b.mu.Lock()
	b.mapped = nil
	b.mu.Unlock()
	page, _ = mustGet(t, ts.Client(), ts.URL+"/dags/"+grpipe.DAGID+"/grid", 200)
	lacks(t, page, "mcell", `class="mapped"`)
	contains(t, page, `<text x="4" y="84" font-size="12">Warehouse_data_quality_checks</text>`)
}

func TestGanttMapped(t *testing.T) {
	ts, b := newTestServer(t, "")
	addMapped(b)
	page, _ := mustGet(t, ts.Client(), ts.URL+"/dags/"+grpipe.DAGID+"/runs/manual__1/gantt", 200)
	// 3 task bars (Begin, ETL tries 1 and 2) and 4 tries of mapped instances.
	if n := strings.Count(page, `class="bar"`); n != 7 {
		t.Errorf("%d bars, want 7", n)
	}
	contains(t, page,
		`data-map-index="1" data-state="failed" data-task="GoodReadsETLJob" data-try="1" data-worker="w2"`,
		"GoodReadsETLJob[1] · try 1 of 3 · failed\nstart 2026-11-27 10:00:01Z\nend 2026-11-27 10:00:02Z\nduration 1.3s\nworker w2\nerror: s3: connection reset\nfile b1/reviews-x-0001.csv",
		`data-map-index="0" data-state="success" data-task="GoodReadsETLJob" data-try="2" data-worker="w2"`,
		">GoodReadsETLJob[0]<", ">GoodReadsETLJob[1]<",
		`id="mapped-tries"`, "Mapped instances (4 tries)",
		`<tr id="try-GoodReadsETLJob-1-1" data-task="GoodReadsETLJob" data-map-index="1"><td>GoodReadsETLJob[1]</td><td>b1/reviews-x-0001.csv</td><td><a href="/dags/goodreads_pipeline/runs/manual__1/tasks/GoodReadsETLJob?try=1">1</a></td><td>failed</td><td>2026-11-27 10:00:01Z</td><td>2026-11-27 10:00:02Z</td><td>1.3s</td><td>w2</td><td>s3: connection reset</td></tr>`)

	// A run with no mapped instances has neither rows nor table for them.
	b.addRun("scheduled__w", time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC), grpipe.StateSuccess, 90*time.Second, 0)
	page, _ = mustGet(t, ts.Client(), ts.URL+"/dags/"+grpipe.DAGID+"/runs/scheduled__w/gantt", 200)
	lacks(t, page, "data-map-index", `id="mapped-tries"`)
}
