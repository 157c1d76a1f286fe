package landing_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/testsupport"
)

func zones(t *testing.T) (*objstore.Store, string) {
	t.Helper()
	dir := t.TempDir()
	z, err := objstore.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z, dir
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLandRefusesBadFiles(t *testing.T) {
	z, _ := zones(t)
	dir := t.TempDir()
	cases := []struct {
		name string
		path string
		want string
	}{
		{"wrong name", write(t, dir, "reviews.txt", "review_id\n"), "reviews.csv, user.csv, author.csv, book.csv"},
		{"unknown entity", write(t, dir, "shelves.csv", "x\n"), `"shelves.csv" is not a landing file name`},
		{"not a csv of that entity", write(t, dir, "user.csv", "review_id,text\n"), "does not look like a user file"},
		{"missing file", filepath.Join(dir, "book.csv"), "no such file"},
		{"a folder", func() string { p := filepath.Join(dir, "sub", "author.csv"); os.MkdirAll(p, 0o755); return p }(), "is not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := landing.Land(context.Background(), z, []string{tc.path}, nil)
			if err == nil || !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Land(%s) = %v, want a bad-input error mentioning %q", tc.path, err, tc.want)
			}
		})
	}
	t.Run("two files under one name", func(t *testing.T) {
		a := write(t, dir, "book.csv", testsupport.SampleText(t, "book.csv"))
		other := filepath.Join(t.TempDir(), "book.csv")
		write(t, filepath.Dir(other), "book.csv", testsupport.SampleText(t, "book.csv"))
		if _, err := landing.Land(context.Background(), z, []string{a, other}, nil); err == nil || !strings.Contains(err.Error(), "would both land as book.csv") {
			t.Fatalf("Land = %v", err)
		}
		if w, _ := landing.Waiting(context.Background(), z, "book.csv"); w {
			t.Errorf("a refused call landed a file")
		}
	})
}

// TestAlreadyWaiting: land, fake --land (Create) and capture (Put) all refuse
// a name that waits in the landing zone, with the same error.
func TestAlreadyWaiting(t *testing.T) {
	ctx := context.Background()
	z, _ := zones(t)
	p := write(t, t.TempDir(), "author.csv", testsupport.SampleText(t, "author.csv"))
	landed, err := landing.Land(ctx, z, []string{p}, nil)
	if err != nil || len(landed) != 1 || landed[0] != "author.csv" {
		t.Fatalf("Land = %v, %v", landed, err)
	}
	if w, err := landing.Waiting(ctx, z, "author.csv"); !w || err != nil {
		t.Fatalf("Waiting = %v, %v", w, err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, landing.ErrWaiting) || !errors.Is(err, grpipe.ErrBadInput) ||
			!strings.Contains(err.Error(), "author.csv is already waiting in the landing zone and has not been processed yet") {
			t.Errorf("%s: %v, want the already-waiting refusal", what, err)
		}
	}
	_, err = landing.Land(ctx, z, []string{p}, nil)
	check("Land", err)
	_, err = landing.Create(ctx, z, []string{"book-1.csv", "author.csv"})
	check("Create", err)
	check("Put", landing.Put(ctx, z, "author.csv", p))
	if w, _ := landing.Waiting(ctx, z, "book-1.csv"); w {
		t.Errorf("Create wrote book-1.csv though the batch was refused")
	}
}

func TestCreateCommitAndAbort(t *testing.T) {
	ctx := context.Background()
	z, dir := zones(t)
	b, err := landing.Create(ctx, z, []string{"user-7.csv", "book-7.csv"})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b.Writer(0), "user_id\n1\n")
	io.WriteString(b.Writer(1), "book_id\n2\n")
	if w, _ := landing.Waiting(ctx, z, "user-7.csv"); w {
		t.Errorf("a file is visible before Commit")
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "landing", "book-7.csv")); string(got) != "book_id\n2\n" {
		t.Errorf("book-7.csv holds %q", got)
	}
	b, err = landing.Create(ctx, z, []string{"user-8.csv"})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b.Writer(0), "user_id\n1\n")
	b.Abort()
	files, ignored, err := landing.List(ctx, z)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name+"="+f.Entity.Name)
	}
	if strings.Join(names, ",") != "book-7.csv=books,user-7.csv=users" || len(ignored) != 0 {
		t.Errorf("landing lists %v (ignored %v), want the two committed files", names, ignored)
	}
	if _, err := landing.Create(ctx, z, []string{"shelves.csv"}); !errors.Is(err, grpipe.ErrBadInput) {
		t.Errorf("Create of a name not accepted: %v", err)
	}
}

func TestListIgnoresOtherObjects(t *testing.T) {
	ctx := context.Background()
	z, _ := zones(t)
	for _, k := range []string{"landing/notes.txt", "landing/sub/reviews.csv", "landing/reviews.csv"} {
		if err := z.PutBytes(ctx, k, []byte("review_id\n")); err != nil {
			t.Fatal(err)
		}
	}
	files, ignored, err := landing.List(ctx, z)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != "reviews.csv" || files[0].Entity.Name != "reviews" || files[0].Size != int64(len("review_id\n")) {
		t.Errorf("files %+v", files)
	}
	if strings.Join(ignored, ",") != "landing/notes.txt,landing/sub/reviews.csv" {
		t.Errorf("ignored %v", ignored)
	}
}

func TestLinkIntoLocalZones(t *testing.T) {
	ctx := context.Background()
	z, dir := zones(t)
	p := write(t, t.TempDir(), "reviews-big.csv", testsupport.SampleText(t, "reviews.csv"))
	if _, err := landing.Land(ctx, z, []string{p}, &landing.Options{Link: true}); err != nil {
		t.Fatal(err)
	}
	src, _ := os.Stat(p)
	dst, err := os.Stat(filepath.Join(dir, "landing", "reviews-big.csv"))
	if err != nil || !os.SameFile(src, dst) {
		t.Errorf("reviews-big.csv was not hard-linked into landing: %v", err)
	}
}
