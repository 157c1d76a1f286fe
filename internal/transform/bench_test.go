package transform

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// BenchmarkCleanFile measures the Go validation pass on generated files of
// each entity (bytes of CSV per second, one file at a time on one goroutine).
func BenchmarkCleanFile(b *testing.B) {
	dir := b.TempDir()
	paths, m, err := fake.WriteBatch(context.Background(), dir, "", fake.Options{Records: 50_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	for i, e := range grpipe.Entities() {
		b.Run(e.Name, func(b *testing.B) {
			b.SetBytes(m.Files[i].Bytes)
			for n := 0; n < b.N; n++ {
				rw, err := quarantine.NewWriter(io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				out := filepath.Join(dir, "out.tsv")
				if _, err := cleanFile(context.Background(), log, e, paths[i], filepath.Base(paths[i]), 0, out, out+".keys", rw, 0.01); err != nil {
					b.Fatal(err)
				}
				os.Remove(out)
				os.Remove(out + ".keys")
			}
		})
	}
}
