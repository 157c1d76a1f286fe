package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"text/tabwriter"

	"github.com/grpipe/grpipe/internal/bench"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/fake"
)

func cmdBench(ctx context.Context, e *env, args []string) int {
	fs := e.flags("bench")
	ff := addFakeFlags(fs)
	dir := fs.String("dir", "", "scratch `DIR` for the run's home (default: a new temporary folder, removed at the end)")
	data := fs.String("data", "", "keep the generated batch in `DIR` and reuse it when it matches (implies --keep)")
	keep := fs.Bool("keep", false, "keep the generated batch (its folder is printed) so that the next bench with --data reuses it")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the benchmark to `FILE`")
	profileDir := fs.String("profile", "", "write Go CPU and heap profiles of the run (cpu.pprof, heap.pprof) into `DIR`")
	reference := fs.Bool("reference", false, "also run a bare-DuckDB reference of the core work on the same files and print the ratio")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "grpipe bench: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *cpuProfile != "" && *profileDir != "" {
		fmt.Fprintln(e.stderr, "grpipe bench: give --cpuprofile or --profile, not both")
		return exitUsage
	}
	if *ff.records == 0 && *ff.size == "" {
		*ff.records = 1_000_000
	}
	opts, err := ff.options(ctx)
	if err != nil {
		return e.fail(err)
	}
	scratch := *dir
	if scratch == "" {
		if scratch, err = os.MkdirTemp("", "grpipe-bench-"); err != nil {
			return e.fail(err)
		}
		if *data == "" && *keep {
			*data = scratch + "/data"
		} else {
			defer os.RemoveAll(scratch)
		}
	}
	level := e.getenv("GRPIPE_LOG_LEVEL")
	if level == "" {
		level = "warn"
	}
	log := e.logger(config.Config{LogLevel: level})
	total, err := fake.EstimateBytes(ctx, opts)
	if err != nil {
		return e.fail(err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return e.fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return e.fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	prog := newProgress(e.stderr, total)
	res, err := bench.Run(ctx, bench.Options{Fake: opts, Dir: scratch, DataDir: *data, KeepData: *keep || *data != "",
		Reference: *reference, Getenv: e.getenv, Log: log, Progress: prog.add, ProfileDir: *profileDir})
	prog.stop()
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	printBench(e.stdout, res)
	return exitOK
}

func printBench(w io.Writer, r *bench.Result) {
	gen := "reused from " + r.DataDir
	if r.Generated {
		gen = fmt.Sprintf("generated in %.1fs (%s/s)", r.GenerateSeconds, humanBytes(int64(float64(r.InputBytes)/r.GenerateSeconds)))
		if r.DataDir != "" {
			gen += ", kept in " + r.DataDir
		}
	}
	fmt.Fprintf(w, "batch: %d records, %s in 4 files (%d rows); %s\n", r.Records, humanBytes(r.InputBytes), r.InputRows, gen)
	fmt.Fprintf(w, "run %s: %s; DuckDB memory_limit %s\n\n", r.RunID, r.State, r.MemoryLimit)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tseconds\tMB/s of input\trows\trows/s\tpeak RSS\t")
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%d\t%.0f\t%s\t\n", s.Stage, s.Seconds, s.MBPerSec, s.Rows, s.RowsPerSec, mib(s.PeakRSS))
	}
	fmt.Fprintf(tw, "ETL job\t%.2f\t%.0f\t\t\t\t\n", r.ETLSeconds, float64(r.InputBytes)/1e6/r.ETLSeconds)
	fmt.Fprintf(tw, "whole run\t%.2f\t%.0f\t%d\t%.0f\t%s\t\n", r.RunSeconds, r.RunMBPerSec, r.InputRows, float64(r.InputRows)/r.RunSeconds, mib(r.PeakRSS))
	tw.Flush()
	fmt.Fprintf(w, "\nextrapolated to the seed's 11.4 GB batch: ETL %.0fs, whole DAG %.0fs on this machine\n", r.SeedBatchETLSeconds, r.SeedBatchRunSeconds)
	fmt.Fprintf(w, "the seed on %s: ETL about %ds, whole DAG about %ds\n", bench.SeedHardware, bench.SeedETLSeconds, bench.SeedDAGSeconds)
	fmt.Fprintf(w, "(peak RSS: the process's highest resident memory in the stage's window, DuckDB included; stage and upsert alternate per table and share a window)\n")
	if ref := r.Reference; ref != nil {
		fmt.Fprintf(w, "\nbare-DuckDB reference on the same files (no ledger, quarantine or checks):\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "step\tseconds\tMB/s of input\t")
		for _, s := range ref.Steps {
			fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t\n", s.Stage, s.Seconds, s.MBPerSec)
		}
		fmt.Fprintf(tw, "total\t%.2f\t%.0f\t\n", ref.Seconds, float64(r.InputBytes)/1e6/ref.Seconds)
		tw.Flush()
		fmt.Fprintf(w, "grpipe / reference: %.2fx (peak RSS of the reference: %s)\n", ref.Ratio, mib(ref.PeakRSS))
	}
}

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }
