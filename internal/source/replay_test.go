package source

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/text"
)

func sampleFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := sample.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// latestRows reads an entity's sample file: the latest row of each id, as column → value.
func latestRows(t *testing.T, dir string, e grpipe.Entity) map[string]map[string]string {
	t.Helper()
	m := map[string]map[string]string{}
	if err := loadLatest(filepath.Join(dir, e.FilePrefix+".csv"), e, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func startReplay(t *testing.T, dir string, opts *ReplayOptions) (*Replay, *httptest.Server) {
	t.Helper()
	r, err := NewReplay(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

// TestReplayRoundTrip serves the sample and captures every review through
// the client: each mapped row equals the sample's latest row (text cleaned),
// apart from record_create_timestamp, which is the capture time.
func TestReplayRoundTrip(t *testing.T) {
	dir := sampleFolder(t)
	rp, srv := startReplay(t, dir, &ReplayOptions{Key: testKey})
	cl, err := NewClient(srv.URL, testKey, &Options{Rate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]map[string]string{}
	for _, e := range grpipe.Entities() {
		want[e.Name] = latestRows(t, dir, e)
	}
	if rp.Len() != len(want["reviews"]) || rp.Len() < 50 {
		t.Fatalf("replay holds %d reviews, the sample %d", rp.Len(), len(want["reviews"]))
	}
	ctx := context.Background()
	for id := range want["reviews"] {
		n, _ := strconv.ParseInt(id, 10, 64)
		r, err := cl.Review(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := r.Map(capturedAt)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]string{"reviews": id, "users": rec.Review[1], "books": rec.Review[2], "authors": rec.Review[3]}
		for _, e := range grpipe.Entities() {
			src := want[e.Name][keys[e.Name]]
			if src == nil {
				t.Fatalf("review %s: %s %s is not in the sample", id, e.Name, keys[e.Name])
			}
			row := rec.Rows(e)
			for i, col := range e.Columns {
				if col.Name == grpipe.TimestampColumn {
					if row[i] != "2020-02-20 13:38:16.690535" {
						t.Errorf("review %s: %s.%s = %q", id, e.Name, col.Name, row[i])
					}
					continue
				}
				w := text.Clean(src[col.Name], col.HTML)
				if e.Name == "books" && col.Name == "authors" {
					w = src["authors"]
					if w != rec.Review[3] {
						// The sample's book.authors is the primary author the review names.
						t.Errorf("review %s: book.authors %q, review.author_id %q", id, w, rec.Review[3])
					}
				}
				if row[i] != w {
					t.Errorf("review %s: %s.%s = %q, want %q", id, e.Name, col.Name, row[i], w)
				}
			}
		}
	}
}

func TestReplayRecentRotates(t *testing.T) {
	dir := sampleFolder(t)
	rp, srv := startReplay(t, dir, &ReplayOptions{Recent: 4, Step: 3})
	cl, err := NewClient(srv.URL, "any-key", &Options{Rate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := rp.Len()
	seen := map[string]bool{}
	var firstIDs []string
	laps := (n + 2) / 3
	for call := 0; call <= laps+1; call++ {
		rs, err := cl.RecentReviews(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 4 {
			t.Fatalf("call %d: %d reviews, want 4", call, len(rs))
		}
		// Newest first.
		for i := 1; i < len(rs); i++ {
			a, b := goodreadsTime(rs[i-1].DateAdded), goodreadsTime(rs[i].DateAdded)
			if call == 0 && a.Before(b) {
				t.Errorf("call %d: review %s listed before the newer %s", call, rs[i-1].ID, rs[i].ID)
			}
		}
		if call == 0 {
			for _, r := range rs {
				firstIDs = append(firstIDs, r.ID)
			}
		}
		if call == 1 && rs[3].ID != firstIDs[0] {
			// Three new ones arrived; the newest of the first call is now fourth.
			t.Errorf("call 1: oldest listed %s, want %s", rs[3].ID, firstIDs[0])
		}
		for _, r := range rs {
			seen[r.ID] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct reviews listed over a lap, want all %d", len(seen), n)
	}
	// On the second lap a review comes back as a newer version, and show.xml agrees.
	rs, err := cl.RecentReviews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.ParseInt(rs[0].ID, 10, 64)
	shown, err := cl.Review(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if shown.DateUpdated != rs[0].DateUpdated {
		t.Errorf("show.xml version %q, recent %q", shown.DateUpdated, rs[0].DateUpdated)
	}
	orig := latestRows(t, dir, grpipe.Reviews)[rs[0].ID]["review_updated_date"]
	if !goodreadsTime(shown.DateUpdated).After(goodreadsTime(orig)) {
		t.Errorf("second lap: date_updated %q is not after the original %q", shown.DateUpdated, orig)
	}
}

func TestReplayRefusals(t *testing.T) {
	dir := sampleFolder(t)
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, srv := startReplay(t, dir, &ReplayOptions{Key: testKey, RateLimit: 2, Now: clock})
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	cases := []struct {
		path   string
		status int
	}{
		{"/review/recent_reviews.xml?key=" + testKey, 200},
		{"/review/show.xml?id=1&key=" + testKey, 404},
		// The bucket (2 calls) is empty now: refused until time passes.
		{"/review/recent_reviews.xml?key=" + testKey, 429},
	}
	for _, c := range cases {
		if resp := get(c.path); resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.status)
		} else if c.status == 429 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("429 with Retry-After %q, want 1", resp.Header.Get("Retry-After"))
		}
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/review/recent_reviews.xml?key=wrong", 401},
		{"/review/recent_reviews.xml", 401},
		{"/review/other.xml?key=" + testKey, 404},
	} {
		if resp := get(c.path); resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.status)
		}
	}
}

func TestReplayThroughClientRateLimit(t *testing.T) {
	// A replay limited to 20 calls/s, whose clock moves 10ms per call (as if
	// called 100 times a second): past its burst of 20 it answers 429, and
	// the client succeeds by retrying (Retry-After capped at 10ms here).
	dir := sampleFolder(t)
	var ticks atomic.Int64
	start := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * 10 * time.Millisecond) }
	_, srv := startReplay(t, dir, &ReplayOptions{Key: testKey, RateLimit: 20, Now: now})
	cl, err := NewClient(srv.URL, testKey, &Options{Rate: 1e6, MaxRetries: 20, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ids := 0
	for range 30 {
		rs, err := cl.RecentReviews(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ids += len(rs)
	}
	// The token bucket, step by step: 20 tokens plus 0.2 per call; the 30th
	// token is taken at the 52nd call, so 22 calls were answered 429.
	if cl.Calls() != 52 {
		t.Errorf("%d calls for 30 answers, want 52: the server's limit did not answer 429 as it should", cl.Calls())
	}
	if ids != 30*20 {
		t.Errorf("%d reviews listed, want %d", ids, 30*20)
	}
}

func TestReplayBadFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := NewReplay(dir, nil)
	if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "reviews.csv") {
		t.Errorf("empty folder: %v", err)
	}
	dir = sampleFolder(t)
	if err := os.WriteFile(filepath.Join(dir, "user.csv"), []byte("name,location\nx,y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewReplay(dir, nil)
	if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "user.csv: the header has no user_id column") {
		t.Errorf("user.csv without user_id: %v", err)
	}
	f, _ := os.Create(filepath.Join(dir, "user.csv"))
	w := csv.NewWriter(f)
	w.Write(grpipe.Users.ColumnNames())
	w.Flush()
	f.WriteString("1,\"unterminated\n")
	f.Close()
	_, err = NewReplay(dir, nil)
	if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "user.csv line") {
		t.Errorf("broken quote: %v", err)
	}
}

func TestReplayBatchFiles(t *testing.T) {
	// `grpipe fake` writes several batches as reviews-1.csv, reviews-2.csv ...
	dir := sampleFolder(t)
	whole, err := NewReplay(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "reviews.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	header, half := lines[0], len(lines)/2
	os.Remove(filepath.Join(dir, "reviews.csv"))
	os.WriteFile(filepath.Join(dir, "reviews-1.csv"), []byte(header+strings.Join(lines[1:half], "")), 0o644)
	os.WriteFile(filepath.Join(dir, "reviews-2.csv"), []byte(header+strings.Join(lines[half:], "")), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.csv"), []byte("not,an,entity\n"), 0o644)
	split, err := NewReplay(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if split.Len() != whole.Len() {
		t.Errorf("%d reviews from two batch files, %d from one file", split.Len(), whole.Len())
	}
}
