package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// BaselineFence opens the block of BENCHMARKS.md that holds the last
// recorded result (the JSON of grpipe bench --json, or the part of it that
// Compare reads), closed by a line of three backquotes.
const BaselineFence = "```json bench-baseline"

// ErrRegressed is returned by Run, with the result, when it regressed
// against the baseline of Options.Compare.
var ErrRegressed = errors.New("the benchmark regressed against the baseline")

// Tolerances of Compare. The ratio to the bare-DuckDB reference is measured
// side by side in one process, so it moves far less with the machine's load
// than the wall time, which is only reported.
const (
	RatioTolerance = 1.15 // the grpipe/reference ratio may grow by 15 %
	RSSTolerance   = 1.10 // the peak RSS may grow by 10 %
)

// ReadBaseline reads the last recorded result from a BENCHMARKS.md file: the
// last block opened by BaselineFence.
func ReadBaseline(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	i := bytes.LastIndex(data, []byte(BaselineFence))
	if i < 0 {
		return nil, fmt.Errorf("baseline: %s has no %q block (the JSON of the last recorded grpipe bench --json)", path, BaselineFence)
	}
	rest := data[i+len(BaselineFence):]
	end := bytes.Index(rest, []byte("\n```"))
	if end < 0 {
		return nil, fmt.Errorf("baseline: the %q block of %s is not closed", BaselineFence, path)
	}
	var r Result
	if err := json.Unmarshal(rest[:end], &r); err != nil {
		return nil, fmt.Errorf("baseline: the %q block of %s: %w", BaselineFence, path, err)
	}
	return &r, nil
}

// Finding is one difference Compare found.
type Finding struct {
	What      string
	Baseline  string
	Now       string
	Regressed bool
}

// Compare compares a result with the baseline: the ledger of every table must
// be the same (same batch, same rows read, rejected, superseded and staged),
// the grpipe/reference ratio may not exceed the baseline's by more than
// RatioTolerance (the ratio of CPU times when both have it, else of wall
// times), the peak RSS not by more than RSSTolerance. The wall times
// are listed, never judged. It returns the findings and whether any
// regressed.
func Compare(base, now *Result) ([]Finding, bool) {
	var out []Finding
	bad := false
	add := func(f Finding) {
		out = append(out, f)
		bad = bad || f.Regressed
	}
	if base.Records != now.Records || base.InputBytes != now.InputBytes {
		add(Finding{"batch", fmt.Sprintf("%d records, %d bytes", base.Records, base.InputBytes),
			fmt.Sprintf("%d records, %d bytes", now.Records, now.InputBytes), true})
	}
	names := make([]string, 0, len(base.Tables))
	for name := range base.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b, n := base.Tables[name], now.Tables[name]
		bl := fmt.Sprintf("read %d rejected %d superseded %d staged %d", b.Read, b.Rejected, b.Superseded, b.Staged)
		nl := fmt.Sprintf("read %d rejected %d superseded %d staged %d", n.Read, n.Rejected, n.Superseded, n.Staged)
		add(Finding{"ledger " + name, bl, nl, bl != nl})
	}
	switch {
	case base.Reference == nil:
		add(Finding{"grpipe / reference", "not recorded", ratio(now), false})
	case now.Reference == nil:
		add(Finding{"grpipe / reference", ratio(base), "not measured (run with --reference)", true})
	case base.Reference.CPURatio > 0 && now.Reference.CPURatio > 0:
		// Both measured CPU time: judge it, show the wall-time ratio.
		add(Finding{"grpipe / reference, CPU time", cpuRatio(base), cpuRatio(now), now.Reference.CPURatio > base.Reference.CPURatio*RatioTolerance})
		add(Finding{"grpipe / reference, wall time (not judged)", ratio(base), ratio(now), false})
	default:
		add(Finding{"grpipe / reference", ratio(base), ratio(now), now.Reference.Ratio > base.Reference.Ratio*RatioTolerance})
	}
	add(Finding{"peak RSS", mib(base.PeakRSS), mib(now.PeakRSS), float64(now.PeakRSS) > float64(base.PeakRSS)*RSSTolerance})
	add(Finding{"whole run (not judged: load-dependent)", fmt.Sprintf("%.2f s", base.RunSeconds), fmt.Sprintf("%.2f s", now.RunSeconds), false})
	stages := map[string]float64{}
	for _, s := range base.Stages {
		stages[s.Stage] = s.Seconds
	}
	for _, s := range now.Stages {
		if b, ok := stages[s.Stage]; ok {
			add(Finding{s.Stage + " (not judged)", fmt.Sprintf("%.2f s", b), fmt.Sprintf("%.2f s", s.Seconds), false})
		}
	}
	return out, bad
}

func ratio(r *Result) string {
	if r.Reference == nil {
		return "not measured"
	}
	return fmt.Sprintf("%.3f (%.2f s / %.2f s)", r.Reference.Ratio, r.RunSeconds, r.Reference.Seconds)
}

func cpuRatio(r *Result) string {
	return fmt.Sprintf("%.3f (%.1f CPU-s / %.1f CPU-s)", r.Reference.CPURatio, r.CPUSeconds, r.Reference.CPUSeconds)
}

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

// PrintComparison writes the findings as a table, regressions marked.
func PrintComparison(w io.Writer, findings []Finding, regressed bool) {
	width := 0
	for _, f := range findings {
		width = max(width, len(f.What))
	}
	for _, f := range findings {
		mark := "  "
		if f.Regressed {
			mark = "✗ "
		}
		fmt.Fprintf(w, "%s%-*s  baseline %s\n%s%-*s  now      %s\n", mark, width, f.What, f.Baseline, "  ", width, "", f.Now)
	}
	if regressed {
		fmt.Fprintln(w, "\nREGRESSED: see the lines marked ✗ (tolerances: ratio +"+pct(RatioTolerance)+", peak RSS +"+pct(RSSTolerance)+", ledgers equal)")
	} else {
		fmt.Fprintln(w, "\nno regression against the baseline (tolerances: ratio +"+pct(RatioTolerance)+", peak RSS +"+pct(RSSTolerance)+", ledgers equal)")
	}
}

func pct(t float64) string { return strings.TrimSuffix(fmt.Sprintf("%.0f%%", (t-1)*100), ".") }
