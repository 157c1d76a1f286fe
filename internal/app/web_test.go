package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/testsupport"
	"github.com/grpipe/grpipe/internal/web"
)

// Defect 8, from the UI's side: the quarantine page of a run whose rejects
// file is large reads only the rows it shows (streamed, paged) besides
// counting them by reason and file in a pass that builds no row: a page of
// 50 rows allocates a small fraction of the file, and "next" goes on where
// the page stopped.
func TestQuarantinePageStreams(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	ctx := context.Background()
	runID := "manual__2026-11-27T10:00:00.000000Z"
	if _, err := h.App.Store.EnqueueRun(ctx, grpipe.Run{RunID: runID, RunType: grpipe.RunManual}); err != nil {
		t.Fatal(err)
	}
	// A rejects file of 150,000 rows with 200-byte raw texts: about 40 MB.
	path := filepath.Join(t.TempDir(), "r.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	qw, err := quarantine.NewWriter(bw)
	if err != nil {
		t.Fatal(err)
	}
	raw := strings.Repeat("x", 200)
	for i := 0; i < 150_000; i++ {
		if err := qw.Write(quarantine.Row{SourceFile: "reviews.csv", Line: int64(i + 2), Reason: "expected 15 fields as in the header, found 3", Raw: raw}); err != nil {
			t.Fatal(err)
		}
	}
	if err := qw.Flush(); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	f.Close()
	st, _ := os.Stat(path)
	if _, err := h.App.Zones.PutFile(ctx, objstore.Key(grpipe.Quarantine, runID, "reviews.csv.rejects.csv"), path); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(&app.WebBackend{Config: h.App.Config, Store: h.App.Store, Zones: h.App.Zones}, web.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	// page fetches u and returns the body, the bytes allocated meanwhile,
	// and the growth of the in-use heap at its peak (sampled).
	page := func(u string) (string, uint64, uint64) {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		stop, peak := make(chan struct{}), make(chan uint64)
		go func() {
			var top uint64
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				top = max(top, m.HeapInuse)
				select {
				case <-stop:
					peak <- top
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		}()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		close(stop)
		top := <-peak
		runtime.ReadMemStats(&m1)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %.300s", u, resp.StatusCode, body)
		}
		return string(body), m1.TotalAlloc - m0.TotalAlloc, top - min(top, m0.HeapInuse)
	}
	base := ts.URL + "/dags/" + grpipe.DAGID + "/runs/" + runID + "/quarantine"
	body, alloc, grew := page(base)
	if n := strings.Count(body, "<tr><td>reviews</td>"); n != 50 {
		t.Fatalf("first page shows %d rows, want 50", n)
	}
	if !strings.Contains(body, `data-value="150000" data-label="expected N fields as in the header, found N"`) {
		t.Fatal("the first page does not count the 150,000 rows by reason")
	}
	if alloc > uint64(st.Size())/4 || grew > uint64(st.Size())/4 {
		t.Fatalf("the first page allocated %d bytes (heap grew %d) for a %d-byte rejects file: it reads more than it shows", alloc, grew, st.Size())
	}
	if !strings.Contains(body, "<td>2</td>") || !strings.Contains(body, "<td>51</td>") || !strings.Contains(body, `href="?page=2" rel="next"`) {
		t.Fatal("the first page is not rows 1 to 50 with a link to the next")
	}
	// A deep page parses the rows before it (allocating as it goes) but
	// holds only the page.
	body, _, grew = page(base + "?page=3000")
	if n := strings.Count(body, "<tr><td>reviews</td>"); n != 50 || !strings.Contains(body, fmt.Sprintf("<td>%d</td>", 150_001)) || strings.Contains(body, `rel="next"`) {
		t.Fatalf("the last page shows %d rows", n)
	}
	if grew > uint64(st.Size())/4 {
		t.Fatalf("the heap grew by %d bytes for the last page of a %d-byte rejects file", grew, st.Size())
	}
}
