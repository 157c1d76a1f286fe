// Package s3test provides tests with an S3-protocol server on 127.0.0.1,
// inside the test process: gofakes3 with an in-memory backend, behind a
// front that checks the access key (so that bad credentials are refused as
// S3 refuses them) and can inject transient faults (503 replies, reset
// connections, stalls, replies, downloads and uploads cut midway). The
// server outlives any subprocess the test starts.
package s3test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Credentials the server accepts; Start sets them in the environment.
const (
	AccessKey = "grpipe-test-key"
	SecretKey = "grpipe-test-secret"
	Region    = "us-east-1"
)

// Server is a running S3-protocol server.
type Server struct {
	srv     *httptest.Server
	backend *s3mem.Backend

	mu       sync.Mutex
	faults   []fault
	injected map[string]int // faults injected, by kind (Fault*)

	// condMu serializes conditional writes (If-None-Match: *), so that the
	// check this front makes for multipart uploads is atomic with them.
	condMu sync.Mutex

	// Requests counts requests by kind: "PUT", "GET", "UploadPart",
	// "CreateMultipartUpload", "CompleteMultipartUpload", "CopyObject", ...
	reqMu    sync.Mutex
	requests map[string]int
	total    atomic.Int64
}

type fault struct {
	status   int           // an HTTP status to reply with, or 0
	reset    bool          // cut the connection without a reply
	cut      bool          // cut the connection halfway through the reply's body
	stall    time.Duration // wait this long before answering
	download bool          // only for a download (GET of an object); other requests pass it by
	upload   bool          // only for an upload (PUT of an object or of a part); other requests pass it by
}

// matches reports whether the fault applies to r.
func (f fault) matches(r *http.Request) bool {
	switch {
	case f.download:
		return isDownload(r)
	case f.upload:
		return isUpload(r)
	}
	return true
}

// The kinds of injected faults, as Injected counts them.
const (
	FaultStatus      = "status"       // an error status (FailNext)
	FaultReset       = "reset"        // a reset connection (ResetNext)
	FaultCut         = "cut"          // a reply cut halfway (CutNext)
	FaultCutDownload = "cut download" // a download cut halfway (CutNextDownload)
	FaultCutUpload   = "cut upload"   // an upload cut halfway (CutNextUpload)
	FaultStall       = "stall"        // a delayed reply (StallNext)
)

func (f fault) kind() string {
	switch {
	case f.download && f.cut:
		return FaultCutDownload
	case f.upload && f.cut:
		return FaultCutUpload
	case f.reset:
		return FaultReset
	case f.cut:
		return FaultCut
	case f.stall > 0:
		return FaultStall
	}
	return FaultStatus
}

// Start starts a server with the given buckets, sets AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION for the test (and the processes it
// starts), and stops the server when the test ends.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	s := &Server{backend: s3mem.New(), requests: map[string]int{}, injected: map[string]int{}}
	for _, b := range buckets {
		if err := s.backend.CreateBucket(b); err != nil {
			t.Fatalf("s3test: create bucket %s: %v", b, err)
		}
	}
	fake := gofakes3.New(s.backend, gofakes3.WithoutVersioning(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	s.srv = httptest.NewServer(s.front(fake.Server()))
	t.Cleanup(s.srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return s
}

// Endpoint returns the server's base URL, http://127.0.0.1:port.
func (s *Server) Endpoint() string { return s.srv.URL }

// ZonesURL returns the zones URL of a bucket and prefix on this server.
func (s *Server) ZonesURL(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s", bucket, prefix, s.srv.URL, Region)
}

// FailNext makes the next n requests fail with HTTP status code.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status})
	}
}

// ResetNext makes the next n requests end with a cut connection.
func (s *Server) ResetNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{reset: true})
	}
}

// CutNext makes the next n requests end with a connection cut halfway
// through the reply's body (after its headers and half of its bytes).
func (s *Server) CutNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{cut: true})
	}
}

// CutNextDownload makes the next n downloads (GET requests of an object,
// not listings) end with the connection cut halfway through the object's
// bytes; the requests between them are answered normally.
func (s *Server) CutNextDownload(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{cut: true, download: true})
	}
}

// CutNextUpload makes the next n uploads (PUT requests of an object or of a
// multipart upload's part, not copies) end with the connection cut after
// the server read half of the object's bytes: the server stores nothing of
// it, as S3 does. The requests between them are answered normally.
func (s *Server) CutNextUpload(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{cut: true, upload: true})
	}
}

// StallNext makes the next n requests wait d before they are answered.
func (s *Server) StallNext(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{stall: d})
	}
}

// ClearFaults drops the faults not yet injected.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Pending returns how many faults wait to be injected.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

// Injected returns how many faults of a kind (FaultStatus, FaultReset,
// FaultCut, FaultCutDownload, FaultStall) were injected so far.
func (s *Server) Injected(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.injected[kind]
}

// Requests returns how many requests of kind the server answered (see Server.requests).
func (s *Server) Requests(kind string) int {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	return s.requests[kind]
}

// Total returns how many requests reached the server, faults included.
func (s *Server) Total() int64 { return s.total.Load() }

// front checks credentials, injects faults and counts requests.
func (s *Server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.total.Add(1)
		s.mu.Lock()
		var f *fault
		for i := range s.faults {
			if !s.faults[i].matches(r) {
				continue
			}
			ff := s.faults[i]
			f = &ff
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			s.injected[f.kind()]++
			break
		}
		s.mu.Unlock()
		if f != nil && f.upload && f.cut {
			// Half of the body reaches the server, then the connection is cut.
			_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
			resetConn(w)
			return
		}
		if f != nil && f.reset {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						_ = tc.SetLinger(0) // RST, not FIN
					}
					conn.Close()
					return
				}
			}
		}
		if f != nil && f.stall > 0 {
			select {
			case <-time.After(f.stall):
			case <-r.Context().Done():
				return // the client gave up
			}
		}
		if f != nil && f.status != 0 {
			writeError(w, f.status, "ServiceUnavailable", "injected fault: please retry")
			return
		}
		if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKey+"/") {
			writeError(w, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
			return
		}
		s.count(r)
		if r.Header.Get("If-None-Match") == "*" && (r.Method == http.MethodPut || r.Method == http.MethodPost) {
			// gofakes3 checks If-None-Match on PutObject only; S3 checks it
			// on CompleteMultipartUpload too, and so does this front.
			s.condMu.Lock()
			defer s.condMu.Unlock()
			if r.Method == http.MethodPost && r.URL.Query().Has("uploadId") && s.exists(r.URL.Path) {
				writeError(w, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
				return
			}
		}
		if f != nil && f.cut {
			cw := &cutWriter{ResponseWriter: w}
			next.ServeHTTP(cw, r)
			cw.cut()
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isDownload reports whether r fetches an object's bytes (a GET of
// /bucket/key, not a listing or a multipart call).
func isDownload(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	return key != "" && !q.Has("uploadId") && !q.Has("uploads") && !q.Has("list-type")
}

// isUpload reports whether r sends an object's bytes (a PUT of /bucket/key
// or of a part of a multipart upload, not a server-side copy).
func isUpload(r *http.Request) bool {
	if r.Method != http.MethodPut || r.Header.Get("x-amz-copy-source") != "" {
		return false
	}
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return key != ""
}

// resetConn cuts the connection under w with a reset (RST, not FIN).
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// exists reports whether the object at a path-style URL path (/bucket/key) exists.
func (s *Server) exists(urlPath string) bool {
	bucket, key, ok := strings.Cut(strings.TrimPrefix(urlPath, "/"), "/")
	if !ok {
		return false
	}
	_, err := s.backend.HeadObject(bucket, key)
	return err == nil
}

func (s *Server) count(r *http.Request) {
	q := r.URL.Query()
	kind := r.Method
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		kind = "CreateMultipartUpload"
	case r.Method == http.MethodPut && q.Has("partNumber"):
		kind = "UploadPart"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		kind = "CompleteMultipartUpload"
	case r.Method == http.MethodPut && r.Header.Get("x-amz-copy-source") != "":
		kind = "CopyObject"
	}
	s.reqMu.Lock()
	s.requests[kind]++
	s.reqMu.Unlock()
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>s3test</RequestId></Error>`, code, msg)
}

// cutWriter passes a reply through until half of its Content-Length is
// written, then cuts the connection.
type cutWriter struct {
	http.ResponseWriter
	limit, written int64
	wroteHeader    bool
	dead           bool
}

func (c *cutWriter) WriteHeader(code int) {
	if c.dead || c.wroteHeader {
		return
	}
	c.wroteHeader = true
	if n, err := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64); err == nil {
		c.limit = n / 2
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if c.dead {
		return 0, errors.New("s3test: connection cut")
	}
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK) // as net/http does: the limit comes from the headers
	}
	if c.written+int64(len(b)) > c.limit {
		n, _ := c.ResponseWriter.Write(b[:c.limit-c.written])
		c.written += int64(n)
		c.cut()
		return n, errors.New("s3test: connection cut")
	}
	n, err := c.ResponseWriter.Write(b)
	c.written += int64(n)
	return n, err
}

// cut flushes what was written and cuts the connection.
func (c *cutWriter) cut() {
	if c.dead {
		return
	}
	c.dead = true
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	if hj, ok := c.ResponseWriter.(http.Hijacker); ok {
		if conn, buf, err := hj.Hijack(); err == nil {
			_ = buf.Flush()
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
		}
	}
}
