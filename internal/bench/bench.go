// Package bench measures the pipeline on a generated, seed-shaped batch:
// it generates (or reuses) the four CSV files, lands them in a fresh home,
// runs the whole DAG, and reports per stage the wall time, the input
// throughput, rows per second and the process's peak resident memory. On
// request it also runs a bare-DuckDB reference of the core work on the same
// files, so the pipeline's overhead is visible.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/cputime"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/landing"
)

// The seed's "Testing the Limits" figures: an 11.4 GB batch on EMR 3 x
// m5.xlarge plus Redshift 2 x dc2.large.
const (
	SeedBatchBytes  = 11_400_000_000
	SeedETLSeconds  = 90
	SeedDAGSeconds  = 180
	SeedHardware    = "EMR 3 x m5.xlarge (12 vCPU) + Redshift 2 x dc2.large"
	manifestName    = "manifest.json"
	sampleRSSPeriod = 50 * time.Millisecond
)

// DefaultRecords is the batch grpipe bench generates when given neither
// --records nor --size: one million review records.
const DefaultRecords = 1_000_000

// Options configure a benchmark.
type Options struct {
	// Fake describes the batch (Records must be set).
	Fake fake.Options
	// Dir is the scratch folder: the home of the run (and the data unless
	// DataDir is set). It is created if missing and removed at the end,
	// except the data when KeepData is set. Empty: a new temporary folder
	// (kept, with the data in it, when KeepData is set without DataDir).
	Dir string
	// DataDir holds the generated batch; a batch already there whose
	// manifest matches Fake is reused.
	DataDir string
	// KeepData keeps the generated batch after the benchmark.
	KeepData bool
	// Reference also runs the bare-DuckDB reference on the same files.
	Reference bool
	// Getenv supplies GRPIPE_* settings (DuckDB memory limit...) to the run's config.
	Getenv func(string) string
	// Log receives the pipeline's logs.
	Log *slog.Logger
	// Size, when set, sizes the batch in bytes instead of Fake.Records
	// ("1.2GB"); with neither, the batch has DefaultRecords records.
	Size string
	// Progress, when set, is given the batch's expected bytes and returns
	// the generator's progress callback and a function that ends it.
	Progress func(total int64) (add func(int64), stop func())
	// Compare, when set, is a BENCHMARKS.md whose recorded baseline the
	// result is judged against (see Compare); the judgement goes to
	// CompareOut, and a regression makes Run return ErrRegressed.
	Compare    string
	CompareOut io.Writer
	// LogOutput, when Log is nil, receives the log at GRPIPE_LOG_LEVEL (Getenv), default warn.
	LogOutput io.Writer

	progress func(int64) // the generator's progress callback
	// CPUProfile, when set, is the file of a Go CPU profile of the whole
	// benchmark, generation included.
	CPUProfile string
	// ProfileDir, when set, receives Go profiles of the run (not of the
	// batch's generation nor of the reference): cpu.pprof (CPU, the whole
	// run) and heap.pprof (allocations over the run and the heap in use at
	// its end). DuckDB's own threads run C++ code the Go profiler does not
	// see; their time shows as the Go calls that wait on them.
	ProfileDir string
}

// Stage is the measurement of one stage.
type Stage struct {
	Stage      string  `json:"stage"`
	Seconds    float64 `json:"seconds"`
	MBPerSec   float64 `json:"mb_per_s"`   // input bytes / seconds, in 10^6 bytes
	RowsPerSec float64 `json:"rows_per_s"` // rows the stage handled / seconds
	Rows       int64   `json:"rows"`
	PeakRSS    int64   `json:"peak_rss_bytes"` // highest resident memory of the process seen during the stage
}

// Result is a benchmark's outcome.
type Result struct {
	Records         int64   `json:"records"`
	InputBytes      int64   `json:"input_bytes"`
	InputRows       int64   `json:"input_rows"`
	Generated       bool    `json:"generated"` // false when an existing batch was reused
	GenerateSeconds float64 `json:"generate_seconds,omitempty"`
	DataDir         string  `json:"data_dir,omitempty"` // where the batch is kept; empty when it was removed
	RunID           string  `json:"run_id"`
	State           string  `json:"state"`
	Stages          []Stage `json:"stages"`
	ETLSeconds      float64 `json:"etl_seconds"`
	RunSeconds      float64 `json:"run_seconds"`
	// CPUSeconds is the CPU time (user and system, every thread, DuckDB's
	// included) the process used during the run: on a shared machine it
	// moves far less than the wall time.
	CPUSeconds  float64 `json:"cpu_seconds,omitempty"`
	RunMBPerSec float64 `json:"run_mb_per_s"`
	// PeakRSS is the process's VmHWM at the end of the run (DuckDB runs in-process, so it counts).
	PeakRSS int64 `json:"peak_rss_bytes"`
	// SeedBatchETLSeconds and SeedBatchRunSeconds extrapolate linearly to the seed's 11.4 GB batch.
	SeedBatchETLSeconds float64                  `json:"seed_batch_etl_seconds"`
	SeedBatchRunSeconds float64                  `json:"seed_batch_run_seconds"`
	Tables              map[string]grpipe.Ledger `json:"tables"`
	Reference           *Reference               `json:"reference,omitempty"`
	// TransformMemoryLimit and WarehouseMemoryLimit are the DuckDB
	// memory_limit of the transform's engine and of the warehouse's.
	TransformMemoryLimit string `json:"duckdb_transform_memory_limit"`
	WarehouseMemoryLimit string `json:"duckdb_warehouse_memory_limit"`
}

// Run runs the benchmark.
func Run(ctx context.Context, opts Options) (*Result, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	log := opts.Log
	if log == nil && opts.LogOutput != nil {
		level := slog.LevelWarn
		_ = level.UnmarshalText([]byte(getenv("GRPIPE_LOG_LEVEL")))
		log = slog.New(slog.NewTextHandler(opts.LogOutput, &slog.HandlerOptions{Level: level}))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var baseline *Result
	if opts.Compare != "" {
		var err error
		if baseline, err = ReadBaseline(opts.Compare); err != nil {
			return nil, err
		}
	}
	if opts.Fake.Records == 0 && opts.Size == "" {
		opts.Fake.Records = DefaultRecords
	}
	var err error
	if opts.Fake, err = opts.Fake.Sized(ctx, opts.Size); err != nil {
		return nil, err
	}
	opts.KeepData = opts.KeepData || opts.DataDir != ""
	if opts.Progress != nil {
		total, err := fake.EstimateBytes(ctx, opts.Fake)
		if err != nil {
			return nil, err
		}
		add, stop := opts.Progress(total)
		defer stop()
		opts.progress = add
	}
	if opts.Fake.Records <= 0 {
		return nil, fmt.Errorf("%w: bench: give a number of records or a size", grpipe.ErrBadInput)
	}
	if opts.CPUProfile != "" && opts.ProfileDir != "" {
		return nil, fmt.Errorf("%w: give --cpuprofile or --profile, not both", grpipe.ErrBadInput)
	}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "grpipe-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench dir: %w", err)
		}
		if opts.KeepData && opts.DataDir == "" {
			opts.DataDir = filepath.Join(dir, "data")
		} else {
			defer os.RemoveAll(dir)
		}
		opts.Dir = dir
	}
	if opts.CPUProfile != "" {
		f, err := os.Create(opts.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench dir: %w", err)
	}
	home := filepath.Join(opts.Dir, "home")
	if err := os.RemoveAll(home); err != nil {
		return nil, fmt.Errorf("bench home: %w", err)
	}
	defer os.RemoveAll(home)
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = filepath.Join(opts.Dir, "data")
	}
	if !opts.KeepData && opts.DataDir == "" {
		defer os.RemoveAll(dataDir)
	}

	res := &Result{Records: opts.Fake.Records}
	if opts.KeepData || opts.DataDir != "" {
		res.DataDir = dataDir
	}
	files, m, err := batch(ctx, dataDir, opts, res)
	if err != nil {
		return nil, err
	}
	res.InputBytes = m.Bytes
	res.InputRows = 4 * m.Records

	cfg, err := config.Load(home, getenv, nil)
	if err != nil {
		return nil, err
	}
	res.TransformMemoryLimit, res.WarehouseMemoryLimit = cfg.DuckDB.TransformMemoryLimit, cfg.DuckDB.WarehouseMemoryLimit
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			a.Close()
		}
	}()
	// Hard links on a local store: atomic, no copy, and the batch stays for the next benchmark.
	if _, err := landing.Land(ctx, a.Zones, files, &landing.Options{Link: true}); err != nil {
		return nil, err
	}

	prof, err := startProfile(opts.ProfileDir)
	if err != nil {
		return nil, err
	}
	rss := startSampler()
	cpu0 := cputime.Process()
	sum, err := a.Orchestrator.RunNow(ctx)
	closed = true
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	res.CPUSeconds = (cputime.Process() - cpu0).Seconds()
	samples := rss.stop()
	if perr := prof.stop(); err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	res.RunID, res.State, res.Tables = sum.RunID, string(sum.State), sum.Tables
	if sum.State != grpipe.StateSuccess {
		return res, fmt.Errorf("bench: run %s failed: %s", sum.RunID, sum.Error)
	}
	res.measure(sum, samples)
	res.PeakRSS = vmHWM()

	if opts.Reference {
		ref, err := runReference(ctx, cfg, files, res.InputBytes, filepath.Join(opts.Dir, "reference"))
		if err != nil {
			return res, fmt.Errorf("reference: %w", err)
		}
		ref.Ratio = res.RunSeconds / ref.Seconds
		if ref.CPUSeconds > 0 {
			ref.CPURatio = res.CPUSeconds / ref.CPUSeconds
		}
		res.Reference = ref
	}
	if baseline != nil {
		findings, regressed := Compare(baseline, res)
		if opts.CompareOut != nil {
			PrintComparison(opts.CompareOut, findings, regressed)
		}
		if regressed {
			return res, ErrRegressed
		}
	}
	return res, nil
}

// batch generates the batch into dir, or reuses the one there when its manifest matches.
func batch(ctx context.Context, dir string, opts Options, res *Result) ([]string, *fake.Manifest, error) {
	var files []string
	for _, e := range grpipe.Entities() {
		files = append(files, filepath.Join(dir, fake.FileName(e, "")))
	}
	if b, err := os.ReadFile(filepath.Join(dir, manifestName)); err == nil {
		var m fake.Manifest
		if json.Unmarshal(b, &m) == nil && m.Matches(opts.Fake) && sizesMatch(files, &m) {
			return files, &m, nil
		}
	}
	start := time.Now()
	o := opts.Fake
	o.Progress = opts.progress
	_, m, err := fake.WriteBatch(ctx, dir, "", o)
	if err != nil {
		return nil, nil, err
	}
	res.Generated, res.GenerateSeconds = true, time.Since(start).Seconds()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("bench manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifestName), b, 0o644); err != nil {
		return nil, nil, fmt.Errorf("bench manifest: %w", err)
	}
	return files, m, nil
}

func sizesMatch(files []string, m *fake.Manifest) bool {
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil || i >= len(m.Files) || st.Size() != m.Files[i].Bytes {
			return false
		}
	}
	return true
}

// measure fills the stages from the run summary and the memory samples.
func (r *Result) measure(sum *grpipe.RunSummary, samples []sample) {
	tasks := map[string]grpipe.TaskSummary{}
	for _, t := range sum.Tasks {
		tasks[t.TaskID] = t
	}
	etl := tasks[grpipe.TaskETL]
	stageSecs := map[string]grpipe.StageTiming{}
	for _, s := range sum.Stages {
		stageSecs[s.Stage] = s
	}
	at := etl.StartedAt
	window := func(secs float64) (time.Time, time.Time) {
		from := at
		at = at.Add(time.Duration(secs * float64(time.Second)))
		return from, at
	}
	add := func(name string, secs float64, rows int64, from, to time.Time) {
		s := Stage{Stage: name, Seconds: secs, Rows: rows, PeakRSS: peak(samples, from, to)}
		if secs > 0 {
			s.MBPerSec = float64(r.InputBytes) / 1e6 / secs
			s.RowsPerSec = float64(rows) / secs
		}
		r.Stages = append(r.Stages, s)
	}
	claim, transform := stageSecs["claim"], stageSecs["transform"]
	from, to := window(claim.Seconds)
	add("claim", claim.Seconds, r.InputRows, from, to)
	from, to = window(transform.Seconds)
	add("transform", transform.Seconds, transform.Rows, from, to)
	// Stage and upsert alternate table by table: both share the rest of the ETL task's window.
	add("stage", stageSecs["stage"].Seconds, stageSecs["stage"].Rows, at, etl.EndedAt)
	add("upsert", stageSecs["upsert"].Seconds, stageSecs["upsert"].Rows, at, etl.EndedAt)

	span := func(ids ...string) (time.Time, time.Time) {
		var a, b time.Time
		for _, id := range ids {
			t := tasks[id]
			if a.IsZero() || t.StartedAt.Before(a) {
				a = t.StartedAt
			}
			if t.EndedAt.After(b) {
				b = t.EndedAt
			}
		}
		return a, b
	}
	wa, wb := span(grpipe.TaskWarehouseChecks)
	qa, qb := span(grpipe.TaskAuthorChecks, grpipe.TaskBookChecks)
	quality := wb.Sub(wa).Seconds() + qb.Sub(qa).Seconds()
	var warehouseRows int64
	for _, l := range sum.Tables {
		warehouseRows += l.Staged
	}
	q := Stage{Stage: "quality", Seconds: quality, Rows: warehouseRows,
		PeakRSS: max(peak(samples, wa, wb), peak(samples, qa, qb))}
	aa, ab := span(grpipe.TaskAnalyticsSchema, grpipe.TaskAuthorTables, grpipe.TaskBookTables,
		grpipe.TaskAuthorReviews, grpipe.TaskAuthorRatings, grpipe.TaskBestAuthors,
		grpipe.TaskBookReviews, grpipe.TaskBookRatings, grpipe.TaskBestBooks)
	an := Stage{Stage: "analytics", Seconds: ab.Sub(aa).Seconds(), Rows: sum.Tables["reviews"].Staged, PeakRSS: peak(samples, aa, ab)}
	for _, s := range []*Stage{&q, &an} {
		if s.Seconds > 0 {
			s.MBPerSec = float64(r.InputBytes) / 1e6 / s.Seconds
			s.RowsPerSec = float64(s.Rows) / s.Seconds
		}
	}
	r.Stages = append(r.Stages, q, an)

	r.ETLSeconds = etl.EndedAt.Sub(etl.StartedAt).Seconds()
	r.RunSeconds = sum.EndedAt.Sub(sum.StartedAt).Seconds()
	if r.RunSeconds > 0 {
		r.RunMBPerSec = float64(r.InputBytes) / 1e6 / r.RunSeconds
	}
	scale := float64(SeedBatchBytes) / float64(r.InputBytes)
	r.SeedBatchETLSeconds = r.ETLSeconds * scale
	r.SeedBatchRunSeconds = r.RunSeconds * scale
}

// sample is the resident memory of the process at a time.
type sample struct {
	at  time.Time
	rss int64
}

type sampler struct {
	mu      sync.Mutex
	samples []sample
	quit    chan struct{}
	done    chan struct{}
}

// startSampler samples VmRSS every sampleRSSPeriod until stop.
func startSampler() *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleRSSPeriod)
		defer t.Stop()
		for {
			s.mu.Lock()
			s.samples = append(s.samples, sample{time.Now(), procStatus("VmRSS:")})
			s.mu.Unlock()
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() []sample {
	close(s.quit)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(s.samples, sample{time.Now(), procStatus("VmRSS:")})
}

// peak returns the highest sample in [from, to], widened by one sampling
// period on each side.
func peak(samples []sample, from, to time.Time) int64 {
	var p int64
	from, to = from.Add(-sampleRSSPeriod), to.Add(sampleRSSPeriod)
	for _, s := range samples {
		if !s.at.Before(from) && !s.at.After(to) && s.rss > p {
			p = s.rss
		}
	}
	return p
}

// vmHWM returns the process's peak resident memory so far.
func vmHWM() int64 { return procStatus("VmHWM:") }

// procStatus reads a "kB" field of /proc/self/status, in bytes (0 if unknown).
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			v, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0
			}
			return v << 10
		}
	}
	return 0
}

var errNoFiles = errors.New("no input files")
