package bench

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/grpipe/grpipe/internal/report"
)

// WriteText writes the result for people: the batch, each stage's speed
// and memory, the extrapolation to the seed's batch, and the bare-DuckDB
// reference when it ran.
func (r *Result) WriteText(w io.Writer) {
	gen := "reused from " + r.DataDir
	if r.Generated {
		gen = fmt.Sprintf("generated in %.1fs (%s/s)", r.GenerateSeconds, report.Bytes(int64(float64(r.InputBytes)/r.GenerateSeconds)))
		if r.DataDir != "" {
			gen += ", kept in " + r.DataDir
		}
	}
	fmt.Fprintf(w, "batch: %d records, %s in 4 files (%d rows); %s\n", r.Records, report.Bytes(r.InputBytes), r.InputRows, gen)
	fmt.Fprintf(w, "run %s: %s; DuckDB memory_limit: transform %s, warehouse %s\n\n", r.RunID, r.State, r.TransformMemoryLimit, r.WarehouseMemoryLimit)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tseconds\tMB/s of input\trows\trows/s\tpeak RSS\t")
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%d\t%.0f\t%s\t\n", s.Stage, s.Seconds, s.MBPerSec, s.Rows, s.RowsPerSec, mib(s.PeakRSS))
	}
	fmt.Fprintf(tw, "ETL job\t%.2f\t%.0f\t\t\t\t\n", r.ETLSeconds, float64(r.InputBytes)/1e6/r.ETLSeconds)
	fmt.Fprintf(tw, "whole run\t%.2f\t%.0f\t%d\t%.0f\t%s\t\n", r.RunSeconds, r.RunMBPerSec, r.InputRows, float64(r.InputRows)/r.RunSeconds, mib(r.PeakRSS))
	tw.Flush()
	fmt.Fprintf(w, "\nextrapolated to the seed's 11.4 GB batch: ETL %.0fs, whole DAG %.0fs on this machine\n", r.SeedBatchETLSeconds, r.SeedBatchRunSeconds)
	fmt.Fprintf(w, "the seed on %s: ETL about %ds, whole DAG about %ds\n", SeedHardware, SeedETLSeconds, SeedDAGSeconds)
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
