package fake

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

func generate(t testing.TB, opts Options) ([4]*bytes.Buffer, *Manifest) {
	t.Helper()
	var bufs [4]*bytes.Buffer
	var ws [4]io.Writer
	for i := range bufs {
		bufs[i] = new(bytes.Buffer)
		ws[i] = bufs[i]
	}
	m, err := Generate(context.Background(), opts, ws)
	if err != nil {
		t.Fatal(err)
	}
	return bufs, m
}

func TestDeterministic(t *testing.T) {
	a, _ := generate(t, Options{Records: 3000, Seed: 42})
	b, _ := generate(t, Options{Records: 3000, Seed: 42})
	c, _ := generate(t, Options{Records: 3000, Seed: 43})
	for i := range a {
		if !bytes.Equal(a[i].Bytes(), b[i].Bytes()) {
			t.Errorf("file %d: the same seed gave different bytes", i)
		}
		if bytes.Equal(a[i].Bytes(), c[i].Bytes()) {
			t.Errorf("file %d: seeds 42 and 43 gave the same bytes", i)
		}
	}
}

// TestShape reads the files back with encoding/csv and checks the header,
// the field counts, the id ranges, the timestamps and the review dates.
func TestShape(t *testing.T) {
	const n = 5000
	bufs, m := generate(t, Options{Records: n, Seed: 7, UserIDs: 500})
	if m.Records != n || len(m.Files) != 4 {
		t.Fatalf("manifest: %+v", m)
	}
	var total int64
	multiline := 0
	for i, e := range grpipe.Entities() {
		total += int64(bufs[i].Len())
		if m.Files[i].Bytes != int64(bufs[i].Len()) || m.Files[i].Rows != n {
			t.Errorf("%s: manifest says %d rows %d bytes, wrote %d bytes", e.Name, m.Files[i].Rows, m.Files[i].Bytes, bufs[i].Len())
		}
		r := csv.NewReader(bytes.NewReader(bufs[i].Bytes()))
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		if got := strings.Join(recs[0], ","); got != strings.Join(e.ColumnNames(), ",") {
			t.Fatalf("%s header: %s", e.Name, got)
		}
		if len(recs) != n+1 {
			t.Fatalf("%s: %d records, want %d", e.Name, len(recs)-1, n)
		}
		var prev string
		for j, rec := range recs[1:] {
			id, err := strconv.ParseInt(rec[0], 10, 64)
			limit := int64(DefaultEntityIDs)
			switch e.Name {
			case "reviews":
				limit = DefaultReviewIDs
			case "users":
				limit = 500
			}
			if err != nil || id < 0 || id >= limit {
				t.Fatalf("%s row %d: id %q not in [0, %d)", e.Name, j+1, rec[0], limit)
			}
			ts := rec[len(rec)-1]
			if _, err := time.Parse("2006-01-02 15:04:05.000000", ts); err != nil {
				t.Fatalf("%s row %d: timestamp %q: %v", e.Name, j+1, ts, err)
			}
			if ts <= prev {
				t.Fatalf("%s row %d: timestamp %s not after %s", e.Name, j+1, ts, prev)
			}
			prev = ts
			if e.Name == "reviews" {
				for _, c := range []int{9, 10} {
					if _, err := time.Parse("Mon Jan 02 15:04:05 -0700 2006", rec[c]); err != nil {
						t.Fatalf("review row %d: date %q: %v", j+1, rec[c], err)
					}
				}
				if strings.Contains(rec[4], "\n") {
					multiline++
				}
			}
		}
		// The same record has the same timestamp in every file.
		if i == 0 {
			continue
		}
	}
	if multiline == 0 {
		t.Error("no review text holds a line break")
	}
	if per := total / n; per < 800 || per > 1400 {
		t.Errorf("%d bytes per record, want about 1000-1200 like the seed's batch", per)
	}
}

func TestBatchesLater(t *testing.T) {
	a, _ := generate(t, Options{Records: 1000, Seed: 1, Batch: 0})
	b, _ := generate(t, Options{Records: 1000, Seed: 1, Batch: 1})
	lastA := lastTimestamp(t, a[0].Bytes())
	firstB := firstTimestamp(t, b[0].Bytes())
	if firstB <= lastA {
		t.Fatalf("batch 1 starts at %s, not after batch 0's last %s", firstB, lastA)
	}
	if bytes.Equal(a[0].Bytes(), b[0].Bytes()) {
		t.Fatal("batches 0 and 1 are identical")
	}
	// A later batch carries new versions of a share of the first batch's
	// reviews (so runs over batches exercise the upsert), not only chance hits
	// in the 10 M id range.
	ids := func(buf *bytes.Buffer) map[string]bool {
		recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, r := range recs[1:] {
			out[r[0]] = true
		}
		return out
	}
	first, later := ids(a[0]), ids(b[0])
	shared := 0
	for id := range later {
		if first[id] {
			shared++
		}
	}
	if shared < 150 || shared > 350 {
		t.Fatalf("batch 1 shares %d review ids with batch 0, want about a quarter of 1000", shared)
	}
}

func firstTimestamp(t *testing.T, b []byte) string {
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[1][len(recs[1])-1]
}

func lastTimestamp(t *testing.T, b []byte) string {
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	return last[len(last)-1]
}

func TestDirtyCounted(t *testing.T) {
	_, m := generate(t, Options{Records: 20000, Seed: 3, DirtyRate: 0.01})
	for _, f := range m.Files {
		var sum int64
		for _, v := range f.Dirty {
			sum += v
		}
		if sum < 100 || sum > 300 {
			t.Errorf("%s: %d broken rows of 20000 at rate 0.01", f.Entity, sum)
		}
		if len(f.Dirty) < 5 {
			t.Errorf("%s: only kinds %v", f.Entity, f.Dirty)
		}
	}
}

func TestRecordsForSize(t *testing.T) {
	n, err := RecordsForSize(context.Background(), 10_000_000, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, m := generate(t, Options{Records: n, Seed: 1})
	if m.Bytes < 9_700_000 || m.Bytes > 10_300_000 {
		t.Fatalf("size 10 MB gave %d records of %d bytes", n, m.Bytes)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"11.4GB": 11_400_000_000, "500MB": 500_000_000, "2GiB": 2 << 30, "1000": 1000, "3kb": 3000} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-1GB", "0"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// BenchmarkGenerate measures the generator's throughput (bytes of CSV per
// second, all four files generated concurrently) into io.Discard.
func BenchmarkGenerate(b *testing.B) {
	const n = 100_000
	_, m := generate(b, Options{Records: n, Seed: 1})
	b.SetBytes(m.Bytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Generate(context.Background(), Options{Records: n, Seed: uint64(i)}, [4]io.Writer{io.Discard, io.Discard, io.Discard, io.Discard}); err != nil {
			b.Fatal(err)
		}
	}
}
