package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    int
		want time.Duration
	}{{50, 100 * time.Millisecond}, {90, 180 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%d = %s, want %s", tc.p, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one = %s", got)
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of none = %s", got)
	}
}

func TestRunCountsRequestsAndErrors(t *testing.T) {
	var served atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/bad" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte(`{"ok": true}`))
	}))
	defer ts.Close()
	r, err := Run(context.Background(), Options{BaseURL: ts.URL, Clients: 8, Duration: 500 * time.Millisecond, Paths: []string{"/ok", "/ok", "/ok", "/bad"}, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || int64(r.Requests) > served.Load() {
		t.Fatalf("%d requests counted, %d served", r.Requests, served.Load())
	}
	// Each client cycles the four paths from its own start: about a quarter fail.
	if r.Errors == 0 || r.Errors > r.Requests/2 || len(r.ErrorSamples) == 0 || !strings.Contains(r.ErrorSamples[0], "500") {
		t.Fatalf("errors %d of %d, samples %v", r.Errors, r.Requests, r.ErrorSamples)
	}
	if r.P50 < 2*time.Millisecond && r.P99 < 2*time.Millisecond || r.P50 > r.P99 || r.P99 > r.Max {
		t.Fatalf("latencies p50 %s p99 %s max %s", r.P50, r.P99, r.Max)
	}
	if r.Elapsed < 500*time.Millisecond {
		t.Fatalf("elapsed %s, shorter than the duration", r.Elapsed)
	}
}

func TestRunRefusesNoClients(t *testing.T) {
	if _, err := Run(context.Background(), Options{BaseURL: "http://127.0.0.1:1", Duration: time.Second}); err == nil {
		t.Fatal("a load without clients was accepted")
	}
}
