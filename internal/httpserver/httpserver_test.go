package httpserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpipe/grpipe/internal/httpserver"
)

// short limits, so that the tests see them act in about a second.
var short = httpserver.Options{
	ReadHeaderTimeout: 500 * time.Millisecond,
	ReadTimeout:       time.Second,
	WriteTimeout:      time.Second,
	IdleTimeout:       time.Second,
}

func start(t *testing.T, h http.Handler, o httpserver.Options) *httpserver.Server {
	t.Helper()
	s, err := httpserver.Start("127.0.0.1:0", h, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

// closedWithin reads from c until the server closes it, and fails if that
// takes longer than limit (the server would keep a slow client forever).
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for more than %s", limit)
	}
}

// Defect 7: a request body sent one byte at a time is cut off.
func TestSlowBodyIsCutOff(t *testing.T) {
	var handlerErr atomic.Value
	s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if err != nil {
			handlerErr.Store(err)
		}
	}), short)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	closedWithin(t, c, 10*time.Second)
	if handlerErr.Load() == nil {
		t.Fatal("the handler read the whole slow body without an error")
	}
}

// Defect 7: headers sent slowly (slowloris) are cut off.
func TestSlowHeadersAreCutOff(t *testing.T) {
	s := start(t, http.NotFoundHandler(), short)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	go func() {
		for i := 0; i < 100; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := fmt.Fprintf(c, "X-A%d: b\r\n", i); err != nil {
				return
			}
		}
	}()
	closedWithin(t, c, 10*time.Second)
}

// Defect 7: a kept-alive connection that stays idle is closed. The read
// timeout is long here: net/http falls back to it when IdleTimeout is
// unset, and the connection must close by IdleTimeout itself.
func TestIdleConnectionIsClosed(t *testing.T) {
	o := short
	o.ReadTimeout = time.Minute
	s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), o)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	resp.Body.Close()
	closedWithin(t, c, 10*time.Second)
}

// Defect 7: a client that does not read a large reply does not hold the
// handler: the write fails after WriteTimeout.
func TestSlowReaderIsCutOff(t *testing.T) {
	done := make(chan error, 1)
	s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 1<<20))
		for i := 0; i < 1024; i++ {
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}), short)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the handler wrote 1 GiB to a client that reads nothing")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the handler is still writing to a client that reads nothing")
	}
}

// Defect 7: connections beyond MaxConns wait until one ends.
func TestMaxConns(t *testing.T) {
	o := short
	o.MaxConns = 2
	o.ReadHeaderTimeout = 30 * time.Second // the idle connections below must not be closed by it
	o.ReadTimeout = 30 * time.Second
	s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), o)
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them
	client := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Get("http://" + s.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were open and MaxConns is 2")
	}
	idle[0].Close()
	client.Timeout = 5 * time.Second
	resp, err := client.Get("http://" + s.Addr().String() + "/")
	if err != nil {
		t.Fatalf("after one connection closed: %v", err)
	}
	resp.Body.Close()
}

func TestNewSetsEveryLimit(t *testing.T) {
	srv := httpserver.New(http.NotFoundHandler(), httpserver.Options{})
	if srv.ReadHeaderTimeout != httpserver.DefaultReadHeaderTimeout || srv.ReadTimeout != httpserver.DefaultReadTimeout ||
		srv.WriteTimeout != httpserver.DefaultWriteTimeout || srv.IdleTimeout != httpserver.DefaultIdleTimeout ||
		srv.MaxHeaderBytes != httpserver.DefaultMaxHeaderBytes {
		t.Fatalf("limits %v %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
}

// Every HTTP server of grpipe goes through this package: no other package
// builds an http.Server or listens for HTTP itself.
func TestNoServerWithoutLimits(t *testing.T) {
	root := "../.."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.Contains(p, "internal/httpserver/") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, bad := range []string{"http.Server{", "ListenAndServe(", "http.Serve("} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s: serve through internal/httpserver (time limits, connection cap)", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
