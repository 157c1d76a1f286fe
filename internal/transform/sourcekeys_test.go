package transform

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/fake"
)

// TestSourceKeysPartsAsOnePass runs a UCSD batch (reviews, books, authors)
// whose reviews hold review and user keys colliding on their derived ids,
// repeated reviews and users, grouping the source keys in one pass and in
// parts of several sizes, and checks that every output is the same: the
// ledgers, the staged rows, the source keys Parquet, the collisions'
// quarantine files (in the order read) and the rejects. In parts of 9,000
// bytes, most parts hold a few keys only.
func TestSourceKeysPartsAsOnePass(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var reviews, books, authors bytes.Buffer
	if err := fake.GenerateUCSD(ctx, fake.UCSDOptions{Reviews: 6_000, Seed: 5}, [3]io.Writer{&reviews, &books, &authors}); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&reviews)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n")
	rng := rand.New(rand.NewPCG(3, 4))
	// collide keeps the first 20 hex digits of the 32-hex key after field
	// (the derived id is the first 62 bits) and changes the rest.
	collide := func(l, field string, i int) string {
		j := strings.Index(l, `"`+field+`": "`) + len(`"`+field+`": "`)
		return l[:j+20] + fmt.Sprintf("%012x", i) + l[j+32:]
	}
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(l + "\n")
		switch rng.IntN(60) {
		case 0:
			b.WriteString(lines[rng.IntN(i+1)] + "\n") // the same review (and user) again
		case 1:
			b.WriteString(collide(l, "review_id", i) + "\n")
		case 2:
			b.WriteString(collide(l, "user_id", i) + "\n")
		case 3:
			b.WriteString(collide(collide(l, "review_id", i), "user_id", i) + "\n")
		}
	}
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"goodreads_reviews_dedup.json":   []byte(b.String()),
		"goodreads_books.json.gz":        books.Bytes(),
		"goodreads_book_authors.json.gz": authors.Bytes(),
	}
	var sources []Source
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	}) {
		path := filepath.Join(in, name)
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		input, err := grpipe.InputForFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, Source{Entity: input.Entity, Input: input, Name: input.Name, Path: path})
	}

	run := func(name string, partBytes int64) (map[string]string, *Result) {
		db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		work := filepath.Join(dir, name)
		res, err := Run(ctx, db, sources, Options{WorkDir: work, MaxRejectRatio: 0.5, Parallelism: 2, keyPartBytes: partBytes, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		sorted := func(path string) string {
			rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM read_parquet(%s) ORDER BY ALL", duckdb.Quote(path)))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			var b strings.Builder
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintln(&b, vals...)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
		for _, e := range grpipe.Entities() {
			er := res.Entities[e.Name]
			if er == nil {
				continue
			}
			out[e.Name+" ledger"] = fmt.Sprintf("read %d rejected %d superseded %d staged %d", er.Read, er.Rejected, er.Superseded, er.Staged)
			out[e.Name+" rows"] = sorted(er.Parquet)
			if er.Rejects != "" {
				out[e.Name+" rejects"] = sorted(er.Rejects)
			}
		}
		for entity, path := range res.SourceKeys {
			out[entity+" source keys"] = sorted(path)
		}
		for src, path := range res.RejectFiles {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out["quarantine "+src] = string(data)
		}
		entries, err := os.ReadDir(work)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tsv") || strings.Contains(e.Name(), ".source_keys.0") {
				t.Errorf("%s: scratch file %s left in the work dir", name, e.Name())
			}
		}
		return out, res
	}

	one, res := run("one", 1<<40)
	for _, e := range []string{"reviews", "users"} {
		if !strings.Contains(one["quarantine "+e+".collisions"], "a collision of the derived id") {
			t.Fatalf("no %s collisions in the batch: %+v", e, res.Entities[e])
		}
	}
	if n := len(collidedIDs(t, one["quarantine reviews.collisions"]+one["quarantine users.collisions"])); n < 20 {
		t.Fatalf("%d colliding ids, want at least 20", n)
	}
	for _, partBytes := range []int64{200_000, 40_000, 9_000} {
		t.Run(fmt.Sprint(partBytes), func(t *testing.T) {
			got, _ := run(fmt.Sprint("parts", partBytes), partBytes)
			for k, want := range one {
				if got[k] != want {
					t.Errorf("%s differs in parts of %d bytes:\n got %.1500s\nwant %.1500s", k, partBytes, got[k], want)
				}
			}
			if len(got) != len(one) {
				t.Errorf("%d outputs, want %d", len(got), len(one))
			}
		})
	}
}

// collidedIDs are the ids named by the reasons of collision quarantine files.
func collidedIDs(t *testing.T, csv string) map[int64]bool {
	t.Helper()
	ids := map[int64]bool{}
	for _, line := range strings.Split(csv, "\n") {
		i := strings.Index(line, " maps to id ")
		if i < 0 {
			continue
		}
		var id int64
		if _, err := fmt.Sscan(line[i+len(" maps to id "):], &id); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		ids[id] = true
	}
	return ids
}

// TestSourceKeysSplit writes source keys files by hand, where keys collide
// on ids at the first and the last line of each part, and checks that
// grouping them in parts gives exactly what one pass gives: the same
// collisions in the same order, the same keys written; that each line
// goes to exactly one part, all of an id's lines to the same part; and that
// the split files are removed.
func TestSourceKeysSplit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const parts = 4
	// ids[p] are ids of part p.
	var ids [parts][]int64
	for id := int64(1); len(ids[0]) < 6 || len(ids[1]) < 6 || len(ids[2]) < 6 || len(ids[3]) < 6; id += 7919 {
		ids[keyPart(id, parts)] = append(ids[keyPart(id, parts)], id)
	}
	line := func(entity, key string, id, ln, ord int64) string {
		return fmt.Sprintf("%s\tucsd\t%s\t%d\t%d\t%d\n", entity, key, id, ln, ord)
	}
	// File 0 opens each part with a key that another key of its id, at the
	// end of file 1, collides with; the middle holds plain keys, a key
	// seen twice and a users' collision inside a part.
	var f0, f1 strings.Builder
	ord0, ord1 := int64(0), int64(1)<<40
	for p := range parts {
		ord0++
		f0.WriteString(line("reviews", fmt.Sprintf("first-%d", p), ids[p][0], ord0, ord0))
	}
	for p := range parts {
		for _, id := range ids[p][1:4] {
			ord0++
			f0.WriteString(line("reviews", fmt.Sprintf("plain-%d", id), id, ord0, ord0))
		}
		ord0++
		f0.WriteString(line("users", fmt.Sprintf("user-%d", p), ids[p][4], ord0, ord0))
		ord0++
		f0.WriteString(line("users", fmt.Sprintf("user-%d-again", p), ids[p][4], ord0, ord0))
		ord0++
		f0.WriteString(line("users", fmt.Sprintf("user-%d", p), ids[p][4], ord0, ord0)) // the winner again: no collision
		ord1++
		f1.WriteString(line("reviews", fmt.Sprintf("plain-%d", ids[p][1]), ids[p][1], ord1&(1<<40-1), ord1)) // seen in file 0 first
	}
	for p := parts - 1; p >= 0; p-- {
		ord1++
		f1.WriteString(line("reviews", fmt.Sprintf("second-%d", p), ids[p][0], ord1&(1<<40-1), ord1))
	}
	write := func(name string) []string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		var files []string
		for i, text := range []string{f0.String(), f1.String()} {
			p := filepath.Join(d, fmt.Sprintf("%d.source_keys.tsv", i))
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		}
		return files
	}
	total := int64(len(f0.String()) + len(f1.String()))
	names := []string{"reviews.json", "more_reviews.json"}

	run := func(name string, partBytes int64) ([]string, map[string]string) {
		db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		files := write(name)
		res := &Result{SourceKeys: map[string]string{}}
		out, err := sourceKeysToParquet(ctx, slog.New(slog.DiscardHandler), db, files, names, filepath.Join(dir, name), partBytes, res)
		if err != nil {
			t.Fatal(err)
		}
		var collisions []string
		for _, e := range []string{"reviews", "users"} {
			for _, c := range out[e] {
				collisions = append(collisions, fmt.Sprintf("%+v", c))
			}
		}
		keys := map[string]string{}
		for e, path := range res.SourceKeys {
			rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT concat_ws('|', entity, source, source_key, id, source_file, line) FROM read_parquet(%s) ORDER BY ALL", duckdb.Quote(path)))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				b.WriteString(s + "\n")
			}
			rows.Close()
			keys[e] = b.String()
		}
		entries, err := os.ReadDir(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			// In one pass, the caller removes the files it gave.
			if (partBytes < total && strings.HasSuffix(e.Name(), ".tsv")) || strings.Contains(e.Name(), ".source_keys.0") {
				t.Errorf("%s: scratch file %s left", name, e.Name())
			}
		}
		return collisions, keys
	}
	wantCollisions, wantKeys := run("one", total)
	if len(wantCollisions) != 2*parts {
		t.Fatalf("one pass: %d collisions, want %d:\n%s", len(wantCollisions), 2*parts, strings.Join(wantCollisions, "\n"))
	}
	for p := range parts {
		if c := wantCollisions[p]; !strings.Contains(c, fmt.Sprintf("key:second-%d winner:first-%d", parts-1-p, parts-1-p)) {
			t.Errorf("collision %d: %s", p, c)
		}
	}
	if strings.Contains(wantKeys["reviews"], "second-") || strings.Count(wantKeys["reviews"], "|") != 5*(parts+3*parts) {
		t.Errorf("review keys:\n%s", wantKeys["reviews"])
	}
	gotCollisions, gotKeys := run("parts", total/parts+1)
	if !slices.Equal(gotCollisions, wantCollisions) {
		t.Errorf("collisions in %d parts:\n%s\nwant\n%s", parts, strings.Join(gotCollisions, "\n"), strings.Join(wantCollisions, "\n"))
	}
	for _, e := range []string{"reviews", "users"} {
		if gotKeys[e] != wantKeys[e] {
			t.Errorf("%s keys in %d parts:\n%s\nwant\n%s", e, parts, gotKeys[e], wantKeys[e])
		}
	}

	// The split itself: every line once, an id's lines in one part, in the order read.
	files := write("split")
	split, err := splitSourceKeys(files, filepath.Join(dir, "split", "part"), parts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the split: %v", f, err)
		}
	}
	var all []string
	for p, path := range split {
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		var last int64
		for sc.Scan() {
			id, ok := sourceKeyID(sc.Bytes())
			if !ok || keyPart(id, parts) != p {
				t.Errorf("part %d holds %q", p, sc.Text())
			}
			var ord int64
			fmt.Sscan(sc.Text()[strings.LastIndexByte(sc.Text(), '\t')+1:], &ord)
			if ord <= last {
				t.Errorf("part %d: ordinal %d after %d", p, ord, last)
			}
			last = ord
			all = append(all, sc.Text())
		}
		fh.Close()
	}
	want := strings.Split(strings.TrimSuffix(f0.String()+f1.String(), "\n"), "\n")
	slices.Sort(all)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("the parts hold %d lines, want the %d lines written", len(all), len(want))
	}
}
