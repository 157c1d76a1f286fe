package transform

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"github.com/grpipe/grpipe/internal/cputime"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/sample"
)

// benchFiles are real-shaped inputs for the validation benchmarks: the four
// files of a generated batch (50 K records) and the bundled sample rows.
type benchFile struct {
	name   string
	entity grpipe.Entity
	path   string
	bytes  int64
}

func benchInputs(b *testing.B) []benchFile {
	b.Helper()
	dir := b.TempDir()
	paths, m, err := fake.WriteBatch(context.Background(), dir, "", fake.Options{Records: 50_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var out []benchFile
	for i, e := range grpipe.Entities() {
		out = append(out, benchFile{name: "fake/" + e.Name, entity: e, path: paths[i], bytes: m.Files[i].Bytes})
	}
	for _, e := range grpipe.Entities() {
		data, err := sample.Bytes(e.FilePrefix + ".csv")
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, "sample-"+e.FilePrefix+".csv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		out = append(out, benchFile{name: "sample/" + e.Name, entity: e, path: p, bytes: int64(len(data))})
	}
	return out
}

// BenchmarkCleanFile measures the Go validation pass (scan, validate, clean,
// drop rows superseded within the file, write clean rows and keys) on one
// goroutine: its MB/s is the speed per core. Compare with
// BenchmarkEncodingCSV, a plain encoding/csv read of the same files. The
// predup buffers are kept from one iteration to the next, as a transform's
// worker keeps them from one span to the next (BenchmarkCleanFreshBuffers
// allocates them afresh each time).
func BenchmarkCleanFile(b *testing.B) { benchCleanFile(b, true) }

// BenchmarkCleanFreshBuffers is BenchmarkCleanFile with new predup buffers at
// each iteration: the cost of a worker's first span.
func BenchmarkCleanFreshBuffers(b *testing.B) { benchCleanFile(b, false) }

func benchCleanFile(b *testing.B, pooled bool) {
	log := slog.New(slog.DiscardHandler)
	out := filepath.Join(b.TempDir(), "out")
	for _, f := range benchInputs(b) {
		b.Run(f.name, func(b *testing.B) {
			var arenas *predupPool
			if pooled {
				arenas = &predupPool{max: 1}
			}
			b.SetBytes(f.bytes)
			defer reportCPU(b, f.bytes)()
			for n := 0; n < b.N; n++ {
				rw, err := quarantine.NewWriter(io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := cleanFile(context.Background(), log, f.entity, f.path, filepath.Base(f.path), 0, out, rw, 0.01, arenas); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodingCSV reads the same files with encoding/csv (records
// reused, nothing validated or written): the yardstick for BenchmarkCleanFile.
func BenchmarkEncodingCSV(b *testing.B) {
	for _, f := range benchInputs(b) {
		data, err := os.ReadFile(f.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(f.bytes)
			defer reportCPU(b, f.bytes)()
			for n := 0; n < b.N; n++ {
				r := csv.NewReader(bytes.NewReader(data))
				r.ReuseRecord = true
				r.FieldsPerRecord = -1
				for {
					_, err := r.Read()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// reportCPU adds the metric MB/cpu-s: input bytes per second of CPU time the
// process used (user and system, garbage collection included). On a shared
// machine it moves far less than the wall-clock MB/s.
func reportCPU(b *testing.B, bytes int64) func() {
	start := cputime.Process()
	return func() {
		if secs := (cputime.Process() - start).Seconds(); secs > 0 {
			b.ReportMetric(float64(bytes)*float64(b.N)/1e6/secs, "MB/cpu-s")
		}
	}
}
