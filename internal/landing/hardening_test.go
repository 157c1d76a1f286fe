package landing_test

import (
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
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/objstore/s3test"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// Defect 13: Land stops when its context ends.
func TestLandHonoursCancellation(t *testing.T) {
	z, _ := zones(t)
	dir := t.TempDir()
	p := write(t, dir, "reviews.csv", testsupport.SampleText(t, "reviews.csv"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	landed, err := landing.Land(ctx, z, []string{p}, nil)
	if !errors.Is(err, context.Canceled) || len(landed) != 0 {
		t.Fatalf("Land with a cancelled context: %v, landed %v", err, landed)
	}
	if w, _ := landing.Waiting(context.Background(), z, "reviews.csv"); w {
		t.Fatal("a cancelled Land landed the file")
	}
}

// Defect 5: of several concurrent lands of one name, exactly one lands; the
// others are refused (ErrWaiting), on local zones and on S3.
func TestConcurrentLandsOfOneName(t *testing.T) {
	srv := s3test.Start(t, "zones")
	s3, err := objstore.Open(context.Background(), srv.ZonesURL("zones", "grpipe")+"&max_backoff=50ms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3.Close() })
	local, _ := zones(t)
	for name, z := range map[string]*objstore.Store{"local": local, "s3": s3} {
		for _, link := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/link=%v", name, link), func(t *testing.T) {
				ctx := context.Background()
				landName := fmt.Sprintf("user-race-%v.csv", link)
				const n = 6
				dir := t.TempDir()
				var wg sync.WaitGroup
				errs := make([]error, n)
				bodies := make([]string, n)
				for i := range n {
					bodies[i] = fmt.Sprintf("user_id,user_name\n%d,writer %d\n", i, i) + strings.Repeat(fmt.Sprintf("%d,x\n", i), 20000)
					sub := filepath.Join(dir, fmt.Sprint(i))
					os.MkdirAll(sub, 0o755)
					p := write(t, sub, landName, bodies[i])
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errs[i] = landing.Land(ctx, z, []string{p}, &landing.Options{Link: link})
					}()
				}
				wg.Wait()
				winner := -1
				for i, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("lands %d and %d both landed %s", winner, i, landName)
					case err == nil:
						winner = i
					case !errors.Is(err, landing.ErrWaiting) || !errors.Is(err, grpipe.ErrBadInput):
						t.Fatalf("land %d: %v, want ErrWaiting", i, err)
					}
				}
				if winner < 0 {
					t.Fatalf("no land succeeded: %v", errs)
				}
				got, err := z.ReadAll(ctx, landing.Key(landName))
				if err != nil || string(got) != bodies[winner] {
					t.Fatalf("landing holds %d bytes (%v), not the winner's", len(got), err)
				}
			})
		}
	}
}

// Defect 5: a name taken between the early check and the publication (by a
// land the check could not see yet) is refused at publication, for streams
// (Create/Commit) too, and the first file stays.
func TestNameTakenAfterTheCheck(t *testing.T) {
	ctx := context.Background()
	z, _ := zones(t)
	b, err := landing.Create(ctx, z, []string{"book-9.csv"})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b.Writer(0), "book_id\n2\n")
	dir := t.TempDir()
	if _, err := landing.Land(ctx, z, []string{write(t, dir, "book-9.csv", "book_id\n1\n")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); !errors.Is(err, landing.ErrWaiting) {
		t.Fatalf("Commit over a file landed meanwhile: %v, want ErrWaiting", err)
	}
	if got, _ := z.ReadAll(ctx, landing.Key("book-9.csv")); string(got) != "book_id\n1\n" {
		t.Fatalf("book-9.csv holds %q, want the first land's", got)
	}
	spool := write(t, dir, "spool.csv", "user_id\n3\n")
	if err := landing.Put(ctx, z, "book-9.csv", spool); !errors.Is(err, landing.ErrWaiting) {
		t.Fatalf("Put of a waiting name: %v", err)
	}
}

// Defect 2: a name too long for the names the run derives from it is
// refused at land time, with the bound in the message.
func TestLandBoundsNames(t *testing.T) {
	z, _ := zones(t)
	dir := t.TempDir()
	long := "user-" + strings.Repeat("x", 221) + ".csv"
	if _, err := landing.Land(context.Background(), z, []string{write(t, dir, long, "user_id\n1\n")}, nil); !errors.Is(err, grpipe.ErrBadInput) ||
		!strings.Contains(err.Error(), fmt.Sprintf("at most %d", landing.MaxNameLen)) {
		t.Fatalf("Land of a %d-byte name: %v", len(long), err)
	}
	ok := "user-" + strings.Repeat("x", landing.MaxNameLen-len("user-.csv")) + ".csv"
	if _, err := landing.Land(context.Background(), z, []string{write(t, dir, ok, "user_id\n1\n")}, nil); err != nil {
		t.Fatalf("Land of a %d-byte name: %v", len(ok), err)
	}
	if _, err := landing.Create(context.Background(), z, []string{long}); !errors.Is(err, grpipe.ErrBadInput) {
		t.Fatalf("Create of a %d-byte name: %v", len(long), err)
	}
}

// Defect 17: land reads a header as the run does (a quoted, padded column
// name is accepted), refuses carriage-return-only line ends with a message
// saying so, and reads no more than the header's first 64 KiB.
func TestLandHeaders(t *testing.T) {
	z, _ := zones(t)
	dir := t.TempDir()
	if _, err := landing.Land(context.Background(), z, []string{write(t, dir, "user.csv", "\" user_id \",\"user_name\"\n1,a\n")}, nil); err != nil {
		t.Fatalf("quoted, padded header: %v", err)
	}
	_, err := landing.Land(context.Background(), z, []string{write(t, dir, "user-cr.csv", "user_id,name\r1,dan\r2,dan\r")}, nil)
	if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "carriage return") {
		t.Fatalf("CR-only file: %v", err)
	}
	_, err = landing.Land(context.Background(), z, []string{write(t, dir, "user-wide.csv", "user_id,"+strings.Repeat("c,", 40000)+"\n1\n")}, nil)
	if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "no line end in its first 64 KiB") {
		t.Fatalf("a header beyond 64 KiB: %v", err)
	}
}
