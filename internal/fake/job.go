package fake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
)

// Job is one `grpipe fake`: Count batches numbered from First (see
// BatchNumbers), written into the folder Out or, when Zones is set, straight
// into its landing zone.
type Job struct {
	// Options describe each batch (Batch is set per batch); Size, when set,
	// sizes it in bytes instead of Options.Records (see Options.Sized).
	Options Options
	Size    string
	// Out is the folder of the files; Zones, when set, is the URL of the
	// zones whose landing zone they land in instead.
	Out, Zones string
	// Manifest, when set, is where the manifests are written (JSON); with
	// Out it defaults to Out/manifest.json.
	Manifest string
	// First and Count number the batches.
	First, Count int
	// Parts, when more than 1, cuts each file into that many parts of about
	// equal size at record boundaries (<entity>-<name>-NNNN.csv).
	Parts int
	// Progress, when set, is given the expected bytes of a batch and returns
	// the batch's progress callback and a function that ends it.
	Progress func(total int64) (add func(int64), stop func())
	// Wrote, when set, is told of each batch written and the seconds it took.
	Wrote func(m *Manifest, seconds float64)
}

// CheckTarget checks grpipe fake's --format against where the files go
// (out: --out DIR; land: --land): the four CSV files go to exactly one of
// them, the UCSD dumps only to a folder. Its error is the command line's
// complaint, naming the flags (grpipe fake prints it as a usage error).
func CheckTarget(format, out string, land bool) error {
	switch {
	case format == "ucsd" && (land || out == ""):
		return errors.New("grpipe fake --format ucsd: give --out DIR (then `grpipe land DIR/*.json.gz`)")
	case format != "csv" && format != "ucsd":
		return fmt.Errorf("grpipe fake: --format %q: give csv or ucsd", format)
	case format == "csv" && (out == "") == !land:
		return errors.New("grpipe fake: give --out DIR or --land (one of them)")
	}
	return nil
}

// Validate checks that the job has one destination and batches to write;
// the error names the flags of grpipe fake.
func (j Job) Validate() error {
	if err := CheckTarget("csv", j.Out, j.Zones != ""); err != nil {
		return fmt.Errorf("%w: %w", grpipe.ErrBadInput, err)
	}
	switch {
	case j.Count < 1 || j.First < 0:
		return fmt.Errorf("%w: grpipe fake: --batches must be 1 or more and --batch 0 or more", grpipe.ErrBadInput)
	case j.Parts < 0 || j.Parts > maxParts:
		return fmt.Errorf("%w: grpipe fake: --parts must be between 1 and %d", grpipe.ErrBadInput, maxParts)
	}
	return nil
}

// Run writes the batches and the manifests (see Manifest), and returns
// the manifests as JSON.
func (j Job) Run(ctx context.Context) ([]byte, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	var err error
	if j.Options, err = j.Options.Sized(ctx, j.Size); err != nil {
		return nil, err
	}
	total, err := EstimateBytes(ctx, j.Options)
	if err != nil {
		return nil, err
	}
	var zones *objstore.Store
	if j.Zones != "" {
		if zones, err = objstore.Open(ctx, j.Zones); err != nil {
			return nil, err
		}
		defer zones.Close()
	}
	var out []*Manifest
	for _, num := range BatchNumbers(j.First, j.Count) {
		name := ""
		if j.Count > 1 || j.First > 0 {
			name = strconv.Itoa(num)
		}
		o := j.Options
		o.Batch = max(num-1, 0)
		stop := func() {}
		if j.Progress != nil {
			o.Progress, stop = j.Progress(total)
		}
		start := time.Now()
		var m *Manifest
		switch {
		case j.Parts > 1:
			m, err = writeParts(ctx, zones, j.Out, name, o, j.Parts)
		case zones != nil:
			m, err = Land(ctx, zones, name, o)
		default:
			_, m, err = WriteBatch(ctx, j.Out, name, o)
		}
		if errors.Is(err, landing.ErrWaiting) {
			err = fmt.Errorf("%w (or give --batch N to land under other names)", err)
		}
		stop()
		if err != nil {
			return nil, err
		}
		if j.Wrote != nil {
			j.Wrote(m, time.Since(start).Seconds())
		}
		out = append(out, m)
	}
	if j.Manifest == "" && j.Out != "" {
		j.Manifest = filepath.Join(j.Out, "manifest.json")
	}
	return WriteManifests(j.Manifest, out)
}

// WriteManifests writes manifests as indented JSON to path and returns the JSON.
func WriteManifests(path string, ms []*Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(ms, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if path != "" {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
	}
	return b, nil
}
