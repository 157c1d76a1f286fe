package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/objstore/s3test"
)

// stores returns a local and an S3 store, each holding a file in landing and
// an operator's held file in working, plus a way to list every object.
func stores(t *testing.T) map[string]*objstore.Store {
	t.Helper()
	ctx := context.Background()
	local, err := objstore.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	srv := s3test.Start(t, "zones")
	out := map[string]*objstore.Store{"local": local, "s3": openS3(t, srv)}
	for _, s := range out {
		for _, k := range []string{"landing/reviews.csv", "working/run1/_manifest.json", "working/run1/held.csv", "processed/run1/reviews/part-0.parquet"} {
			if err := s.PutBytes(ctx, k, []byte("keep "+k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func allKeys(t *testing.T, s *objstore.Store) []string {
	t.Helper()
	objs, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// Defect 1: a run id "." or ".." (or any element that is not one plain
// name) never reaches the store: every method refuses such a key, so a
// cleanup of batch "." cannot delete working/, nor ".." write at a zone's root.
func TestKeysCannotLeaveTheirFolder(t *testing.T) {
	bad := []string{".", "..", "", "a\\b", "a\x00b", "a\nb", strings.Repeat("n", objstore.MaxKeyElemLen+1), "\xff"}
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			before := allKeys(t, s)
			dir := t.TempDir()
			src := filepath.Join(dir, "f.csv")
			os.WriteFile(src, []byte("x"), 0o644)
			for _, e := range bad {
				ops := map[string]func() error{
					"DeletePrefix": func() error { return s.DeletePrefix(ctx, objstore.Key(grpipe.Working, e)+"/") },
					"Delete":       func() error { return s.Delete(ctx, objstore.Key(grpipe.Working, e, "held.csv")) },
					"Put": func() error {
						_, err := s.Put(ctx, objstore.Key(grpipe.Working, e, "x.csv"), strings.NewReader("x"))
						return err
					},
					"PutFile": func() error {
						_, err := s.PutFile(ctx, objstore.Key(grpipe.Quarantine, e, "x.rejects.csv"), src)
						return err
					},
					"PutFileNew": func() error { _, err := s.PutFileNew(ctx, objstore.Key(grpipe.Landing, e), src); return err },
					"PutBytes":   func() error { return s.PutBytes(ctx, objstore.Key(grpipe.Working, e, "_manifest.json"), []byte("{}")) },
					"Create": func() error {
						w, err := s.Create(ctx, objstore.Key(grpipe.Processed, e, "reviews", "part-0.parquet"))
						if err == nil {
							w.Abort()
						}
						return err
					},
					"Move": func() error {
						return s.Move(ctx, "landing/reviews.csv", objstore.Key(grpipe.Working, e, "reviews.csv"), 99)
					},
					"MoveFrom": func() error { return s.Move(ctx, objstore.Key(grpipe.Landing, e), "working/run2/reviews.csv", 1) },
					"Stat":     func() error { _, err := s.Stat(ctx, objstore.Key(grpipe.Working, e, "held.csv")); return err },
					"ReadAll":  func() error { _, err := s.ReadAll(ctx, objstore.Key(grpipe.Working, e, "held.csv")); return err },
					"NewReader": func() error {
						r, err := s.NewReader(ctx, objstore.Key(grpipe.Working, e, "held.csv"))
						if err == nil {
							r.Close()
						}
						return err
					},
					"Checksum": func() error { _, err := s.Checksum(ctx, objstore.Key(grpipe.Working, e, "held.csv")); return err },
					"Fetch":    func() error { _, _, err := s.Fetch(ctx, objstore.Key(grpipe.Working, e, "held.csv"), dir); return err },
					"List":     func() error { _, err := s.List(ctx, objstore.Key(grpipe.Working, e, "")); return err },
				}
				for op, f := range ops {
					if e == "" && op == "List" {
						continue // "working//" is refused, but Key(Working, "", "") is "working//" only by accident
					}
					err := f()
					if !errors.Is(err, grpipe.ErrBadInput) {
						t.Errorf("%s with element %q: %v, want a refusal wrapping ErrBadInput", op, e, err)
					}
				}
				if p, ok := s.LocalPath(objstore.Key(grpipe.Working, e)); ok {
					t.Errorf("LocalPath of element %q = %s", e, p)
				}
			}
			if after := allKeys(t, s); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Fatalf("objects changed: before %v, after %v", before, after)
			}
		})
	}
}

func TestKeyElementMessages(t *testing.T) {
	long := "user-" + strings.Repeat("x", 251) + ".csv"
	err := objstore.CheckKeyElement(long)
	if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "260 bytes long; at most 255") {
		t.Fatalf("CheckKeyElement(260 bytes) = %v", err)
	}
	for _, ok := range []string{"reviews.csv", "reviews-2026 batch (1).csv", "manual__2026-11-27T02:44:28.953513Z_try2", "レビュー.csv", strings.Repeat("n", objstore.MaxKeyElemLen)} {
		if err := objstore.CheckKeyElement(ok); err != nil {
			t.Errorf("CheckKeyElement(%q) = %v", ok, err)
		}
	}
}

// A delete under a whole zone, or under nothing, is refused: only a folder
// inside a zone is ever deleted.
func TestDeletePrefixNeedsAFolder(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			before := allKeys(t, s)
			for _, p := range []string{"", "/", "working/", "working", "landing/", "working//", "working/run1", "elsewhere/run1/", "working/./", "working/../"} {
				if err := s.DeletePrefix(ctx, p); !errors.Is(err, grpipe.ErrBadInput) {
					t.Errorf("DeletePrefix(%q) = %v, want a refusal", p, err)
				}
			}
			if after := allKeys(t, s); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Fatalf("objects changed: before %v, after %v", before, after)
			}
			if err := s.DeletePrefix(ctx, "working/run1/"); err != nil {
				t.Fatal(err)
			}
			if keys := allKeys(t, s); len(keys) != 2 {
				t.Fatalf("after deleting working/run1/: %v", keys)
			}
		})
	}
}

// Defect 5: of several writers of one new name, exactly one wins; the others
// get ErrExists and the winner's bytes stay whole. On S3 both the single
// PUT and the multipart upload carry If-None-Match: *.
func TestCreateNewIsAtomic(t *testing.T) {
	sizes := map[string]int{"small": 64 << 10, "multipart": objstore.PartSize + 1000}
	for name, s := range stores(t) {
		for sizeName, size := range sizes {
			if name == "local" && sizeName == "multipart" {
				continue
			}
			t.Run(name+"/"+sizeName, func(t *testing.T) {
				ctx := context.Background()
				const writers = 6
				key := objstore.Key(grpipe.Landing, "reviews-"+sizeName+".csv")
				dir := t.TempDir()
				var wg sync.WaitGroup
				errs := make([]error, writers)
				bodies := make([][]byte, writers)
				for i := range writers {
					bodies[i] = bytes.Repeat([]byte{byte('a' + i)}, size)
					src := filepath.Join(dir, fmt.Sprint(i))
					if err := os.WriteFile(src, bodies[i], 0o644); err != nil {
						t.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errs[i] = s.PutFileNew(ctx, key, src)
					}()
				}
				wg.Wait()
				winner := -1
				for i, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("writers %d and %d both created %s", winner, i, key)
					case err == nil:
						winner = i
					case !errors.Is(err, objstore.ErrExists):
						t.Fatalf("writer %d: %v, want ErrExists", i, err)
					}
				}
				if winner < 0 {
					t.Fatalf("no writer created %s: %v", key, errs)
				}
				got, err := s.ReadAll(ctx, key)
				if err != nil || !bytes.Equal(got, bodies[winner]) {
					t.Fatalf("%s holds %d bytes (%v), not writer %d's %d", key, len(got), err, winner, size)
				}
				// A later writer is refused too, and nothing is left behind.
				src := filepath.Join(dir, "late")
				os.WriteFile(src, []byte("late"), 0o644)
				if _, err := s.PutFileNew(ctx, key, src); !errors.Is(err, objstore.ErrExists) {
					t.Fatalf("late writer: %v", err)
				}
				for _, k := range allKeys(t, s) {
					if strings.Contains(k, ".tmp") {
						t.Fatalf("temporary object left: %s", k)
					}
				}
				if p, ok := s.LocalPath(key); ok {
					entries, _ := os.ReadDir(filepath.Dir(p))
					for _, e := range entries {
						if strings.HasSuffix(e.Name(), ".tmp") {
							t.Fatalf("temporary file left: %s", e.Name())
						}
					}
				}
			})
		}
	}
}

// A new object is invisible until it is closed, and an aborted or cancelled
// one never appears.
func TestCreateNewAbortAndCancel(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key := objstore.Key(grpipe.Landing, "user-1.csv")
			w, err := s.CreateNew(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("user_id\n1\n"))
			if _, err := s.Stat(ctx, key); !objstore.IsNotFound(err) {
				t.Fatalf("unfinished object visible: %v", err)
			}
			for _, k := range allKeys(t, s) {
				if k == key || strings.HasSuffix(k, ".tmp") {
					t.Fatalf("List shows %s while it is written", k)
				}
			}
			w.Abort()
			if _, err := s.Stat(ctx, key); !objstore.IsNotFound(err) {
				t.Fatalf("aborted object visible: %v", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			w, err = s.CreateNew(cctx, key)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("user_id\n1\n"))
			cancel()
			if err := w.Close(); err == nil {
				t.Fatal("Close after cancel published the object")
			}
			if _, err := s.Stat(ctx, key); !objstore.IsNotFound(err) {
				t.Fatalf("cancelled object visible: %v", err)
			}
		})
	}
}

// Defect 13: a copy into the store stops when its context ends, at the next
// read, and publishes nothing. The reader cancels at its third read and
// would give 256 reads in all: without the check, the copy reads them all.
func TestPutHonoursCancellation(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, put := range []struct {
				name string
				put  func(context.Context, io.Reader) error
			}{
				{"Put", func(ctx context.Context, r io.Reader) error {
					_, err := s.Put(ctx, "landing/reviews-big.csv", r)
					return err
				}},
				{"PutNew", func(ctx context.Context, r io.Reader) error {
					_, err := s.PutNew(ctx, "landing/reviews-big2.csv", r)
					return err
				}},
			} {
				ctx, cancel := context.WithCancel(context.Background())
				r := &cancelAfter{n: 3, max: 256, cancel: cancel}
				if err := put.put(ctx, r); !errors.Is(err, context.Canceled) {
					t.Fatalf("%s: copy after cancel: %v", put.name, err)
				}
				if r.reads > r.n+1 {
					t.Fatalf("%s: %d reads after the cancel at read %d", put.name, r.reads-r.n, r.n)
				}
			}
			for _, k := range allKeys(t, s) {
				if strings.Contains(k, "big") {
					t.Fatalf("a cancelled copy published %s", k)
				}
			}
		})
	}
}

// cancelAfter is a reader of max reads of 4 KiB of x that cancels its
// context at read n.
type cancelAfter struct {
	n, max, reads int
	cancel        func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.reads == c.max {
		return 0, io.EOF
	}
	c.reads++
	if c.reads == c.n {
		c.cancel()
	}
	p = p[:min(len(p), 4<<10)]
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// TestDeletePrefixRemovesLeftovers: on a local store, the temporary file of
// a write that never finished (its process was killed) is no object (List
// leaves it out), and deleting its folder removes it with the folders.
func TestDeletePrefixRemovesLeftovers(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := objstore.Open(ctx, "file://"+root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(ctx, "processed/b1/_parts/reviews-0001.csv/reviews.parquet", strings.NewReader("PAR1")); err != nil {
		t.Fatal(err)
	}
	// What a writer killed midway leaves: fileblob's temporary name.
	dir := filepath.Join(root, "processed", "b1", "_parts", "reviews-0002.csv")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "reviews.parquet.18a2b3c4d5e6f708.tmp"), []byte("PA"), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := s.List(ctx, "processed/")
	if err != nil || len(objs) != 1 || objs[0].Key != "processed/b1/_parts/reviews-0001.csv/reviews.parquet" {
		t.Fatalf("list: %+v, %v: want only the finished object", objs, err)
	}
	if err := s.DeletePrefix(ctx, "processed/b1/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "processed", "b1")); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("processed/b1 after DeletePrefix: %v (left: %v)", err, entries)
	}
	if _, err := os.Stat(filepath.Join(root, "processed")); err != nil {
		t.Fatalf("the zone's own folder: %v", err)
	}
}
