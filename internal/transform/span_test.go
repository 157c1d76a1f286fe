package transform

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/fake"
)

// trickyUsers is a users file whose rows hold quoted line breaks, blank
// lines, CRLF ends and broken rows (an unterminated quote, text after a
// closing quote, a wrong field count), and ties: the same id and timestamp
// several times, where the row read last must win.
func trickyUsers(n int) string {
	var b strings.Builder
	b.WriteString("user_id,user_name,location,record_create_timestamp\n")
	for i := 0; i < n; i++ {
		id := i % 37
		switch i % 11 {
		case 0:
			fmt.Fprintf(&b, "%d,\"name %d\nsecond line\n\n%d third\",\"Rome, IT\",2020-01-01 00:00:%02d\n", id, i, i, i%7)
		case 1:
			fmt.Fprintf(&b, "%d,\"open %d,nowhere,2020-01-01 00:00:00\n", id, i) // unterminated: resumes on the next line
		case 2:
			fmt.Fprintf(&b, "\n\r\n%d,plain %d,x,2020-01-01 00:00:%02d\r\n", id, i, i%7)
		case 3:
			fmt.Fprintf(&b, "%d,\"q\"x,y,2020-01-01 00:00:00\n", id) // text after a closing quote
		case 4:
			fmt.Fprintf(&b, "%d,short\n", id)
		default:
			// A quoted line that looks like a record: a guessed span start.
			fmt.Fprintf(&b, "%d,\"tie %d \"\"quoted\"\"\",\"line\n%d,not,a row,2020-01-01 00:00:09\",2020-01-01 00:00:03\n", id, i, id)
		}
	}
	return b.String()
}

// TestSpansReadLikeOneFile cuts files into many small spans, most of whose
// guessed starts fall inside quoted fields or records, and checks that the
// transform gives exactly what it gives reading each file whole: the same
// ledger, the same winners (the greatest timestamp, then the row read last:
// the later line, the later file), and the same quarantine files, line
// numbers included.
func TestSpansReadLikeOneFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	paths, _, err := fake.WriteBatch(ctx, filepath.Join(dir, "in"), "", fake.Options{Records: 400, Seed: 9, DirtyRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	var sources []Source
	for i, e := range grpipe.Entities() {
		sources = append(sources, Source{Entity: e, Name: filepath.Base(paths[i]), Path: paths[i]})
	}
	for i, n := range []int{400, 900} {
		p := filepath.Join(dir, "in", fmt.Sprintf("user-%d.csv", i))
		if err := os.WriteFile(p, []byte(trickyUsers(n)), 0o644); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, Source{Entity: grpipe.Users, Name: filepath.Base(p), Path: p})
	}
	// Ids repeated across spans: a file's merger gets them (and drops
	// them when the tricky file's spans are read again).
	for i, tricky := range []bool{false, true} {
		p := filepath.Join(dir, "in", fmt.Sprintf("user-dup-%d.csv", i))
		if err := os.WriteFile(p, []byte(dupUsers(3000, 200, tricky)), 0o644); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, Source{Entity: grpipe.Users, Name: filepath.Base(p), Path: p})
	}

	run := func(name string, spanBytes, par, mergeLimit int) (map[string]string, *Result) {
		db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		counter := &countHandler{}
		res, err := Run(ctx, db, sources, Options{WorkDir: filepath.Join(dir, name), MaxRejectRatio: 1, Parallelism: par, spanBytes: spanBytes, mergeLimit: mergeLimit, Log: slog.New(counter)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, e := range grpipe.Entities() {
			er := res.Entities[e.Name]
			out[e.Name+" ledger"] = fmt.Sprintf("read %d rejected %d superseded %d staged %d", er.Read, er.Rejected, er.Superseded, er.Staged)
			rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM read_parquet(%s) ORDER BY %s", duckdb.Quote(er.Parquet), e.Key))
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			var b strings.Builder
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintln(&b, vals...)
			}
			rows.Close()
			out[e.Name+" rows"] = b.String()
		}
		for src, path := range res.RejectFiles {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out["rejects "+src] = string(data)
		}
		out["spans read again"] = fmt.Sprint(counter.count(msgSpanAgain) > 0)
		out["spans' winners merged"] = fmt.Sprint(counter.count(msgMerged) > 0)
		out["merged winners dropped"] = fmt.Sprint(counter.count(msgMergeDropped) > 0)
		return out, res
	}

	whole, res := run("whole", 1<<30, 1, 0)
	// The small spans' guesses must have missed at times; files of
	// several spans merge their winners, and drop them when read again.
	whole["spans read again"], whole["spans' winners merged"], whole["merged winners dropped"] = "true", "true", "true"
	if res.Entities["users"].Rejected == 0 || !strings.Contains(whole["users rows"], "tie 898") {
		t.Fatalf("the tricky users did not give rejects and the last tie's winner: %+v\n%s", res.Entities["users"], whole["users rows"])
	}
	for _, c := range []struct{ size, mergeLimit int }{{97, 0}, {2000, 0}, {16 << 10, 0}, {2000, 2 << 10}} {
		size := c.size
		t.Run(fmt.Sprint(size, "/", c.mergeLimit), func(t *testing.T) {
			got, _ := run(fmt.Sprint("spans", size, "-", c.mergeLimit), size, 2, c.mergeLimit)
			for k, want := range whole {
				if got[k] != want {
					t.Errorf("%s differs with spans of %d bytes:\n got %.2000s\nwant %.2000s", k, size, got[k], want)
				}
			}
			if len(got) != len(whole) {
				t.Errorf("%d outputs, want %d", len(got), len(whole))
			}
		})
	}
}

// countHandler counts the log records of each message.
type countHandler struct {
	mu sync.Mutex
	n  map[string]int
}

// count returns how many records had message msg.
func (h *countHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[r.Message]++
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

// TestProgress checks what Options.Progress is told: every byte after the
// header and every record, once, also when files are cut into spans on
// several workers (a span whose guessed start was wrong is read again but
// counted once, so the total may differ there by the few records around
// the wrong starts).
func TestProgress(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	paths, _, err := fake.WriteBatch(ctx, filepath.Join(dir, "in"), "", fake.Options{Records: 3000, Seed: 4, DirtyRate: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	var sources []Source
	var body int64
	for i, e := range grpipe.Entities() {
		sources = append(sources, Source{Entity: e, Name: filepath.Base(paths[i]), Path: paths[i]})
		data, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		body += int64(len(data) - strings.IndexByte(string(data), '\n') - 1)
	}
	for _, tc := range []struct {
		name      string
		spanBytes int
		exact     bool
	}{{"whole files", 1 << 30, true}, {"spans", 64 << 10, false}} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var bytes, records atomic.Int64
			res, err := Run(ctx, db, sources, Options{WorkDir: filepath.Join(dir, tc.name), MaxRejectRatio: 1, Parallelism: 2, spanBytes: tc.spanBytes,
				Progress: func(b, r int64) {
					if b < 0 || r < 0 {
						t.Errorf("progress went back: %d bytes, %d records", b, r)
					}
					bytes.Add(b)
					records.Add(r)
				}})
			if err != nil {
				t.Fatal(err)
			}
			var read int64
			for _, er := range res.Entities {
				read += er.Read
			}
			if tc.exact && (bytes.Load() != body || records.Load() != read) {
				t.Errorf("progress counted %d bytes and %d records, want %d and %d", bytes.Load(), records.Load(), body, read)
			}
			if d := float64(bytes.Load()-body) / float64(body); d < -0.05 || d > 0.05 {
				t.Errorf("progress counted %d bytes of %d", bytes.Load(), body)
			}
		})
	}
}
