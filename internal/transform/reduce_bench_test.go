package transform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/cputime"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/fake"
)

// BenchmarkReduce measures the reduce of a transform that fans out per file
// (the distributed ETL's last step before the load): 4 fake files per
// entity (50 K records each, ids overlapping as consecutive batches'), each
// transformed alone to a part with the sub-benchmark's codec, then the
// parts of each entity reduced to the winner per id and written with zstd,
// as the processed zone is by default. cpu-ms/op is the process's CPU time
// (DuckDB's threads included) per reduce.
func BenchmarkReduce(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	const files = 4
	var sources [files][]Source
	for k := range files {
		paths, _, err := fake.WriteBatch(ctx, filepath.Join(dir, fmt.Sprintf("in%d", k)), "", fake.Options{Records: 50_000, Seed: 1, Batch: k})
		if err != nil {
			b.Fatal(err)
		}
		for i, e := range grpipe.Entities() {
			sources[k] = append(sources[k], Source{Entity: e, Name: filepath.Base(paths[i]), Path: paths[i]})
		}
	}
	db, err := duckdb.Open(ctx, "", duckdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, codec := range []grpipe.Compression{grpipe.Zstd, grpipe.LZ4Raw} {
		parts := map[string][]string{}
		for k := range files {
			for _, src := range sources[k] {
				res, err := Run(ctx, db, []Source{src}, Options{WorkDir: filepath.Join(dir, string(codec), fmt.Sprint(k)), MaxRejectRatio: 1, Compression: codec})
				if err != nil {
					b.Fatal(err)
				}
				parts[src.Entity.Name] = append(parts[src.Entity.Name], res.Entities[src.Entity.Name].Parquet)
			}
		}
		for _, e := range grpipe.Entities() {
			b.Run(string(codec)+"/"+e.Name, func(b *testing.B) {
				out := filepath.Join(dir, "out.parquet")
				start := cputime.Process()
				for n := 0; n < b.N; n++ {
					if _, err := Reduce(ctx, db, e, parts[e.Name], out, grpipe.Zstd); err != nil {
						b.Fatal(err)
					}
					if err := os.Remove(out); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cputime.Process()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
			})
		}
	}
}
