package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/objstore/s3test"
)

func openS3(t *testing.T, srv *s3test.Server) *objstore.Store {
	t.Helper()
	s, err := objstore.Open(context.Background(), srv.ZonesURL("zones", "grpipe/test")+"&max_backoff=50ms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestS3RoundTrip(t *testing.T) {
	srv := s3test.Start(t, "zones")
	s := openS3(t, srv)
	ctx := context.Background()
	body := []byte("review_id,user_id\n1,2\n")
	if _, err := s.Put(ctx, "landing/reviews.csv", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	objs, err := s.List(ctx, "landing/")
	if err != nil || len(objs) != 1 || objs[0].Key != "landing/reviews.csv" || objs[0].Size != int64(len(body)) {
		t.Fatalf("list %+v, %v", objs, err)
	}
	// Claim: server-side copy, size check, delete.
	if err := s.Move(ctx, "landing/reviews.csv", "working/r1/reviews.csv", int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if srv.Requests("CopyObject") != 1 {
		t.Errorf("%d server-side copies, want 1", srv.Requests("CopyObject"))
	}
	if _, err := s.Stat(ctx, "landing/reviews.csv"); !errors.Is(err, grpipe.ErrNotFound) {
		t.Fatalf("source after the move: %v, want not found", err)
	}
	// A wrong expected size keeps the source.
	if _, err := s.Put(ctx, "landing/user.csv", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if err := s.Move(ctx, "landing/user.csv", "working/r1/user.csv", 999); err == nil || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("move with a wrong size: %v", err)
	}
	if _, err := s.Stat(ctx, "landing/user.csv"); err != nil {
		t.Fatalf("source lost after a failed verification: %v", err)
	}
	// Fetch streams the object to a local file; cleanup removes it.
	dir := t.TempDir()
	p, cleanup, err := s.Fetch(ctx, "working/r1/reviews.csv", dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, body) {
		t.Fatalf("fetched %q, want %q (aws-chunked framing stored in the object?)", got, body)
	}
	cleanup()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("fetched copy left behind: %v", err)
	}
	if err := s.DeletePrefix(ctx, "working/r1/"); err != nil {
		t.Fatal(err)
	}
	if objs, _ := s.List(ctx, "working/"); len(objs) != 0 {
		t.Fatalf("left after DeletePrefix: %v", objs)
	}
}

func TestS3LargeObjectMultipart(t *testing.T) {
	srv := s3test.Start(t, "zones")
	s := openS3(t, srv)
	ctx := context.Background()
	body := make([]byte, 2*objstore.PartSize+12345)
	rand.Read(body)
	src := t.TempDir() + "/big.parquet"
	os.WriteFile(src, body, 0o644)
	n, err := s.PutFile(ctx, "processed/r1/reviews/part-0.parquet", src)
	if err != nil || n != int64(len(body)) {
		t.Fatalf("put %d bytes, %v", n, err)
	}
	if c := srv.Requests("CreateMultipartUpload"); c != 1 {
		t.Errorf("%d multipart uploads started, want 1", c)
	}
	if p := srv.Requests("UploadPart"); p != 3 {
		t.Errorf("%d parts uploaded, want 3 of at most %d bytes", p, objstore.PartSize)
	}
	sum := sha256.Sum256(body)
	got, err := s.Checksum(ctx, "processed/r1/reviews/part-0.parquet")
	if err != nil || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("checksum %s, %v: object differs from what was uploaded", got, err)
	}
	// Moving a large object is still one server-side copy.
	if err := s.Move(ctx, "processed/r1/reviews/part-0.parquet", "processed/r2/reviews/part-0.parquet", int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Checksum(ctx, "processed/r2/reviews/part-0.parquet"); err != nil || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("after the move: checksum %s, %v", got, err)
	}
}

func TestS3TransientErrorsRetried(t *testing.T) {
	srv := s3test.Start(t, "zones")
	s := openS3(t, srv)
	ctx := context.Background()
	cases := []struct {
		name   string
		inject func()
	}{
		{"503 four times", func() { srv.FailNext(4, 503) }},
		{"500 twice", func() { srv.FailNext(2, 500) }},
		{"connection reset three times", func() { srv.ResetNext(3) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.inject()
			if err := s.PutBytes(ctx, "landing/a.csv", []byte("x,y\n")); err != nil {
				t.Fatalf("put: %v", err)
			}
			tc.inject()
			b, err := s.ReadAll(ctx, "landing/a.csv")
			if err != nil || string(b) != "x,y\n" {
				t.Fatalf("read %q, %v", b, err)
			}
			tc.inject()
			if _, err := s.List(ctx, "landing/"); err != nil {
				t.Fatalf("list: %v", err)
			}
		})
	}
	t.Run("timeouts", func(t *testing.T) {
		s, err := objstore.Open(ctx, srv.ZonesURL("zones", "t")+"&max_backoff=20ms&response_timeout=300ms")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		srv.StallNext(2, time.Second)
		t0 := time.Now()
		if err := s.PutBytes(ctx, "landing/c.csv", []byte("x\n")); err != nil {
			t.Fatalf("put after two stalled requests: %v", err)
		}
		if d := time.Since(t0); d < 600*time.Millisecond || d > 4*time.Second {
			t.Errorf("put took %v: want two 300ms timeouts, then success", d)
		}
	})
	t.Run("gives up after max_attempts", func(t *testing.T) {
		srv.FailNext(100, 503)
		before := srv.Total()
		err := s.PutBytes(ctx, "landing/b.csv", []byte("x\n"))
		if err == nil {
			t.Fatal("a put succeeded against a server that always answers 503")
		}
		if n := srv.Total() - before; n != 8 {
			t.Errorf("%d attempts, want 8", n)
		}
		srv.ClearFaults()
	})
}

func TestS3OpenErrors(t *testing.T) {
	srv := s3test.Start(t, "zones")
	ctx := context.Background()
	t.Run("missing bucket", func(t *testing.T) {
		_, err := objstore.Open(ctx, srv.ZonesURL("nosuchbucket", "p"))
		if err == nil || !strings.Contains(err.Error(), `bucket "nosuchbucket" does not exist`) || !strings.Contains(err.Error(), "GRPIPE_ZONES") {
			t.Fatalf("err %v: want the bucket named and the setting", err)
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "someone-else")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "Sup3rS3cret")
		_, err := objstore.Open(ctx, srv.ZonesURL("zones", "p"))
		if err == nil {
			t.Fatal("opened the zones with a key the server does not know")
		}
		msg := err.Error()
		if !strings.Contains(msg, "AWS_ACCESS_KEY_ID") || !strings.Contains(msg, "zones") || strings.Contains(msg, "Sup3rS3cret") {
			t.Fatalf("message %q: want the credentials named, never the secret", msg)
		}
	})
	t.Run("bad parameter", func(t *testing.T) {
		_, err := objstore.Open(ctx, srv.ZonesURL("zones", "p")+"&max_attempts=zero")
		if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "max_attempts") {
			t.Fatalf("err %v: want bad input naming max_attempts", err)
		}
	})
}

// TestS3DownloadCutMidway: a download whose connection is cut halfway
// through the body starts again; after too many cuts the error says so.
func TestS3DownloadCutMidway(t *testing.T) {
	srv := s3test.Start(t, "zones")
	s := openS3(t, srv)
	ctx := context.Background()
	body := make([]byte, 3<<20)
	rand.Read(body)
	if err := s.PutBytes(ctx, "working/r1/reviews.csv", body); err != nil {
		t.Fatal(err)
	}
	srv.CutNext(2)
	p, cleanup, err := s.Fetch(ctx, "working/r1/reviews.csv", t.TempDir())
	if err != nil {
		t.Fatalf("fetch after two cut downloads: %v", err)
	}
	defer cleanup()
	if got, _ := os.ReadFile(p); !bytes.Equal(got, body) {
		t.Fatalf("fetched %d bytes that differ from the %d stored", len(got), len(body))
	}
	srv.CutNext(2)
	if got, err := s.ReadAll(ctx, "working/r1/reviews.csv"); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read all after two cut downloads: %d bytes, %v", len(got), err)
	}
	srv.CutNext(10)
	defer srv.ClearFaults()
	if _, _, err := s.Fetch(ctx, "working/r1/reviews.csv", t.TempDir()); err == nil || !strings.Contains(err.Error(), "working/r1/reviews.csv") {
		t.Fatalf("fetch with every download cut: %v, want an error naming the object", err)
	}
}

// TestS3NewReaderResumes: a stream whose transfer is cut midway resumes at
// the offset reached (a ranged read), and reads the whole object once.
func TestS3NewReaderResumes(t *testing.T) {
	srv := s3test.Start(t, "zones")
	s := openS3(t, srv)
	ctx := context.Background()
	body := make([]byte, 3<<20)
	rand.Read(body)
	if err := s.PutBytes(ctx, "quarantine/r1/reviews.csv.rejects.csv", body); err != nil {
		t.Fatal(err)
	}
	gets := srv.Requests("GET")
	srv.CutNext(2)
	defer srv.ClearFaults()
	r, err := s.NewReader(ctx, "quarantine/r1/reviews.csv.rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes (equal: %v), %v; want the %d stored", len(got), bytes.Equal(got, body), err, len(body))
	}
	if n := srv.Requests("GET") - gets; n != 3 {
		t.Errorf("%d GET requests, want 3 (two cut, each resumed)", n)
	}
	if _, err := s.NewReader(ctx, "quarantine/r1/none.csv"); !errors.Is(err, grpipe.ErrNotFound) {
		t.Errorf("missing object: %v, want ErrNotFound", err)
	}
}

// TestS3UploadCutMidway: an upload whose connection is cut after half of
// its bytes reached the server is tried again whole; when every try is cut
// the put fails, and no object, whole or partial, is there to be read (nor
// an old one replaced): S3 publishes an object only once all of it arrived,
// so the zones need no temporary key. Both a single PUT and a multipart
// upload (an object over objstore.PartSize) are cut.
func TestS3UploadCutMidway(t *testing.T) {
	srv := s3test.Start(t, "zones")
	ctx := context.Background()
	s := openS3(t, srv)
	few, err := objstore.Open(ctx, srv.ZonesURL("zones", "grpipe/test")+"&max_backoff=50ms&max_attempts=2")
	if err != nil {
		t.Fatal(err)
	}
	defer few.Close()
	defer srv.ClearFaults()
	for _, tc := range []struct {
		name string
		size int
	}{
		{"single put", 3 << 20},
		{"multipart", objstore.PartSize + 1<<20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := make([]byte, tc.size)
			rand.Read(body)
			key := "processed/b1/_parts/" + strings.ReplaceAll(tc.name, " ", "-") + "/reviews.parquet"
			before := srv.Injected(s3test.FaultCutUpload)
			srv.CutNextUpload(1)
			if _, err := s.Put(ctx, key, bytes.NewReader(body)); err != nil {
				t.Fatalf("put after one cut upload: %v", err)
			}
			if n := srv.Injected(s3test.FaultCutUpload) - before; n != 1 {
				t.Fatalf("%d uploads cut, want 1", n)
			}
			if got, err := s.ReadAll(ctx, key); err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read back %d bytes (equal: %v), %v; want the %d put", len(got), bytes.Equal(got, body), err, len(body))
			}

			// Every try cut: the put fails, the object put before stays whole.
			other := make([]byte, tc.size)
			rand.Read(other)
			srv.CutNextUpload(100)
			if _, err := few.Put(ctx, key, bytes.NewReader(other)); err == nil || !strings.Contains(err.Error(), key) {
				t.Fatalf("put with every upload cut: %v, want an error naming the object", err)
			}
			srv.ClearFaults()
			if got, err := s.ReadAll(ctx, key); err != nil || !bytes.Equal(got, body) {
				t.Fatalf("after a failed put the object reads %d bytes (the first put's: %v), %v", len(got), bytes.Equal(got, body), err)
			}
			fresh := key + ".new"
			srv.CutNextUpload(100)
			if _, err := few.Put(ctx, fresh, bytes.NewReader(other)); err == nil {
				t.Fatal("a put succeeded with every upload cut")
			}
			srv.ClearFaults()
			if _, err := s.Stat(ctx, fresh); !errors.Is(err, grpipe.ErrNotFound) {
				t.Fatalf("a new object after a failed put: %v, want not found", err)
			}
			if objs, err := s.List(ctx, "processed/"); err != nil || slices.ContainsFunc(objs, func(o objstore.Object) bool { return o.Key == fresh }) {
				t.Fatalf("list after a failed put: %+v, %v", objs, err)
			}
		})
	}
}
