// Package loadtest drives grpipe's JSON API with many concurrent clients and
// measures what they see: requests, errors and the latency distribution.
// The load test of the web server during a run (TestAPIUnderLoadDuringRun)
// uses it; so can an operator against a live server.
package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Options describe a load.
type Options struct {
	// BaseURL is the server, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Clients is the number of concurrent clients.
	Clients int
	// Duration is how long the clients run.
	Duration time.Duration
	// Think is each client's pause between two requests (0: back to back).
	Think time.Duration
	// Paths are the GET paths the clients cycle through, each client
	// starting at a different one. Empty: APIPaths.
	Paths []string
	// Token is sent as a bearer token when set.
	Token string
	// Timeout bounds one request (default 30 s); a request that takes
	// longer counts as an error.
	Timeout time.Duration
}

// APIPaths are the read endpoints of the API a dashboard polls, with runID
// naming a run for the per-run ones ("" leaves those out).
func APIPaths(runID string) []string {
	d := "/api/v1/dags/" + grpipe.DAGID
	paths := []string{"/health", "/api/v1/dags", d, d + "/dagRuns?limit=25"}
	if runID != "" {
		paths = append(paths, d+"/dagRuns/"+runID, d+"/dagRuns/"+runID+"/taskInstances")
	}
	return paths
}

// Result is what the clients saw.
type Result struct {
	Requests int
	Errors   int
	// ErrorSamples holds up to 10 distinct error descriptions.
	ErrorSamples []string
	Elapsed      time.Duration
	// Latency percentiles of all requests (errors included).
	P50, P90, P99, Max time.Duration
}

// Rate is the requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// String summarises the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("%d requests in %.1f s (%.0f/s), %d errors, latency p50 %s p90 %s p99 %s max %s",
		r.Requests, r.Elapsed.Seconds(), r.Rate(), r.Errors, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// LatestRunID returns the id of the newest run the API lists ("" when none).
func LatestRunID(ctx context.Context, c *http.Client, baseURL, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/dags/"+grpipe.DAGID+"/dagRuns?limit=1", nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("list runs: %s", resp.Status)
	}
	var body struct {
		Runs []struct {
			ID string `json:"dag_run_id"`
		} `json:"dag_runs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("list runs: %w", err)
	}
	if len(body.Runs) == 0 {
		return "", nil
	}
	return body.Runs[0].ID, nil
}

// Run runs the load until o.Duration has passed or ctx ends.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Clients < 1 || o.Duration <= 0 || o.BaseURL == "" {
		return Result{}, fmt.Errorf("%w: load: need a base URL, at least one client and a positive duration", grpipe.ErrBadInput)
	}
	if len(o.Paths) == 0 {
		o.Paths = APIPaths("")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	tr := &http.Transport{MaxIdleConnsPerHost: o.Clients, MaxConnsPerHost: o.Clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.Timeout}

	// The clock starts before the deadline is set, so Elapsed is never
	// shorter than Duration, however long the set-up between them takes.
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(o.Duration))
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		samples   []string
	)
	var wg sync.WaitGroup
	for c := range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var myErrs []string
			for i := c; ctx.Err() == nil; i++ {
				p := o.Paths[i%len(o.Paths)]
				t0 := time.Now()
				err := get(ctx, client, o.BaseURL+p, o.Token)
				if ctx.Err() != nil && err != nil {
					break // the load ended during this request: not the server's error
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					myErrs = append(myErrs, fmt.Sprintf("GET %s: %v", p, err))
				}
				if o.Think > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(o.Think):
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, mine...)
			errs += len(myErrs)
			for _, e := range myErrs {
				if len(samples) < 10 && !slices.Contains(samples, e) {
					samples = append(samples, e)
				}
			}
		}()
	}
	wg.Wait()
	r := Result{Requests: len(latencies), Errors: errs, ErrorSamples: samples, Elapsed: time.Since(start)}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	r.P50, r.P90, r.P99 = percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99)
	if n := len(latencies); n > 0 {
		r.Max = latencies[n-1]
	}
	return r, nil
}

// percentile returns the p-th percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// get fetches u and reads the whole reply; any status but 200 is an error.
func get(ctx context.Context, c *http.Client, u, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read the reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %.200s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
