package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The defaults keep the test short enough for every `go test ./...`; the
// figures in BENCHMARKS.md come from -loadtest.records 1000000
// -loadtest.clients 100 -loadtest.duration 60s -loadtest.rounds 3.
var (
	records  = flag.Int("loadtest.records", 3000, "records of the batch each run processes")
	clients  = flag.Int("loadtest.clients", 20, "concurrent API clients during the loaded run")
	duration = flag.Duration("loadtest.duration", 4*time.Second, "how long the clients run")
	think    = flag.Duration("loadtest.think", 0, "each client's pause between requests")
	rounds   = flag.Int("loadtest.rounds", 1, "unloaded and loaded runs, alternating")
	outFile  = flag.String("loadtest.out", "", "write the figures as JSON to this file")
)

// grpipeBin builds the grpipe binary once per test binary.
func grpipeBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "grpipe")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/grpipe/grpipe/cmd/grpipe")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build grpipe: %v\n%s", err, out)
	}
	return bin
}

func runGrpipe(t *testing.T, bin, home string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--home", home}, args...)...)
	cmd.Env = append(os.Environ(), "GRPIPE_LOG_LEVEL=warn")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), fmt.Errorf("grpipe %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
	}
	return string(out), err
}

// cpuTime is the processor time (user and system) an ended process used.
func cpuTime(ps *os.ProcessState) time.Duration {
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// timing is one timed run: its wall time and the processor time of its
// process, and with load, the processor time of the server over its life.
type timing struct {
	wall, cpu, serverCPU time.Duration
}

// timedRun lands the batch in a fresh home and times `grpipe run`; load, if
// set, is started once the run's process is. The home is removed after.
func timedRun(t *testing.T, bin, data string, load func(home string) <-chan Result) (timing, *Result) {
	t.Helper()
	home, err := os.MkdirTemp("", "grpipe-load-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	files, _ := filepath.Glob(filepath.Join(data, "*.csv"))
	if _, err := runGrpipe(t, bin, home, append([]string{"land"}, files...)...); err != nil {
		t.Fatal(err)
	}
	var results <-chan Result
	if load != nil {
		results = load(home)
	}
	cmd := exec.Command(bin, "--home", home, "run", "--json")
	cmd.Env = append(os.Environ(), "GRPIPE_LOG_LEVEL=warn")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	outb, err := cmd.Output()
	took := timing{wall: time.Since(t0), cpu: cpuTime(cmd.ProcessState)}
	if err != nil {
		t.Fatalf("grpipe run: %v: %s", err, stderr.String())
	}
	out := string(outb)
	var sum struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.State != "success" {
		t.Fatalf("run: state %q (%v): %.500s", sum.State, err, out)
	}
	if results == nil {
		return took, nil
	}
	r := <-results
	took.serverCPU = stopServe(home)
	return took, &r
}

// servers are the `grpipe serve` processes by home.
var servers = map[string]func() time.Duration{}

// stopServe stops the server of home and returns the processor time it used.
func stopServe(home string) time.Duration {
	stop, ok := servers[home]
	if !ok {
		return 0
	}
	delete(servers, home)
	return stop()
}

// serve starts `grpipe serve` on a free loopback port of home and returns its URL.
func serve(t *testing.T, bin, home string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--home", home, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GRPIPE_LOG_LEVEL=warn")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() time.Duration { cancel(); cmd.Wait(); return cpuTime(cmd.ProcessState) }
	servers[home] = stop
	t.Cleanup(func() { stopServe(home) })
	addr := regexp.MustCompile(`web UI on (http://[0-9.:]+)/`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := addr.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
					t.Logf("serve: %s", sc.Text())
				}
			}()
			return m[1]
		}
	}
	t.Fatalf("grpipe serve did not say where it listens")
	return ""
}

// TestAPIUnderLoadDuringRun runs the pipeline on a batch twice: alone, and
// with `grpipe serve` on the same home answering concurrent API clients
// through the whole run. No client may see an error; the run times and the
// latencies are reported (t.Log, and -loadtest.out).
func TestAPIUnderLoadDuringRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds grpipe and runs the pipeline twice: not with -short")
	}
	bin := grpipeBin(t)
	data := t.TempDir()
	if _, err := runGrpipe(t, bin, t.TempDir(), "fake", "--records", fmt.Sprint(*records), "--out", data); err != nil {
		t.Fatal(err)
	}
	load := func(home string) <-chan Result {
		base := serve(t, bin, home)
		ch := make(chan Result, 1)
		go func() {
			ctx := context.Background()
			// The run's id appears once it has started; until then the
			// clients poll the DAG-wide endpoints only.
			runID := ""
			deadline := time.Now().Add(10 * time.Second)
			for runID == "" && time.Now().Before(deadline) {
				runID, _ = LatestRunID(ctx, http.DefaultClient, base, "")
				if runID == "" {
					time.Sleep(20 * time.Millisecond)
				}
			}
			r, err := Run(ctx, Options{BaseURL: base, Clients: *clients, Duration: *duration, Think: *think, Paths: APIPaths(runID)})
			if err != nil {
				r.Errors, r.ErrorSamples = 1, []string{err.Error()}
			}
			ch <- r
		}()
		return ch
	}
	type figure struct {
		Round       int     `json:"round"`
		Unloaded    float64 `json:"unloaded_s"`
		Loaded      float64 `json:"loaded_s"`
		UnloadedCPU float64 `json:"unloaded_cpu_s"` // processor time of the run's process
		LoadedCPU   float64 `json:"loaded_cpu_s"`
		ServerCPU   float64 `json:"server_cpu_s"` // of grpipe serve, over its whole life
		Requests    int     `json:"requests"`
		Rate        float64 `json:"requests_per_s"`
		Errors      int     `json:"errors"`
		P50ms       float64 `json:"p50_ms"`
		P99ms       float64 `json:"p99_ms"`
		MaxMs       float64 `json:"max_ms"`
	}
	var figs []figure
	for i := 1; i <= *rounds; i++ {
		// Alternate which run goes first, so that what the machine does
		// meanwhile (page cache, other work) does not favour one.
		var unloaded, loaded timing
		var r *Result
		if i%2 == 1 {
			unloaded, _ = timedRun(t, bin, data, nil)
			loaded, r = timedRun(t, bin, data, load)
		} else {
			loaded, r = timedRun(t, bin, data, load)
			unloaded, _ = timedRun(t, bin, data, nil)
		}
		t.Logf("round %d: run alone %.2f s (CPU %.2f s), under load %.2f s (%+.1f %%; CPU %.2f s, %+.1f %%); server CPU %.2f s; %s", i,
			unloaded.wall.Seconds(), unloaded.cpu.Seconds(), loaded.wall.Seconds(), 100*(loaded.wall.Seconds()/unloaded.wall.Seconds()-1),
			loaded.cpu.Seconds(), 100*(loaded.cpu.Seconds()/unloaded.cpu.Seconds()-1), loaded.serverCPU.Seconds(), r)
		if r.Errors > 0 || r.Requests == 0 {
			t.Errorf("round %d: %d of %d requests failed: %v", i, r.Errors, r.Requests, r.ErrorSamples)
		}
		figs = append(figs, figure{Round: i, Unloaded: unloaded.wall.Seconds(), Loaded: loaded.wall.Seconds(),
			UnloadedCPU: unloaded.cpu.Seconds(), LoadedCPU: loaded.cpu.Seconds(), ServerCPU: loaded.serverCPU.Seconds(), Requests: r.Requests, Rate: r.Rate(),
			Errors: r.Errors, P50ms: float64(r.P50) / 1e6, P99ms: float64(r.P99) / 1e6, MaxMs: float64(r.Max) / 1e6})
	}
	sort.Slice(figs, func(i, j int) bool { return figs[i].Round < figs[j].Round })
	if *outFile != "" {
		b, _ := json.MarshalIndent(map[string]any{"records": *records, "clients": *clients, "duration_s": duration.Seconds(),
			"think_s": think.Seconds(), "rounds": figs}, "", "  ")
		if err := os.WriteFile(*outFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
