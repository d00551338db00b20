package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for plugbench when the harness
// re-executes itself as a server.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && roles[os.Args[1]] {
		os.Exit(runRole(os.Args[1], os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestHarnessSmoke runs the whole harness briefly: every target must serve
// requests without an error, and the table must have a row for each. With
// PLUGBOARD_TEST_POSTGRES (a DSN; .ci/postgres.sh start), the PostgreSQL
// targets are measured too.
func TestHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugboard and loads six servers (ten with PostgreSQL) for about 15s; skipped with -short")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not on PATH; install it (apt-get install -y wrk) to run the load harness test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute) // a bound for a hung server, not a speed check: a loaded machine is slow
	defer cancel()
	o := options{duration: time.Second, rounds: 1, conns: []int{16}, threads: 2, targets: targetNames, pin: true,
		pacedRates: []int{200}, pacedConns: 4}
	dsn := os.Getenv("PLUGBOARD_TEST_POSTGRES")
	if dsn != "" {
		o.postgres, o.targets = dsn, slices.Concat(targetNames, pgTargetNames)
	} else {
		t.Log("PLUGBOARD_TEST_POSTGRES not set: the PostgreSQL targets are not measured")
	}
	rep, err := runBench(ctx, o, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(o.targets)
	if _, ok := nginxPath(); !ok {
		want = slices.DeleteFunc(want, func(name string) bool { return name == "nginx" })
	}
	var md bytes.Buffer
	rep.writeMarkdown(&md)
	table := md.String()
	for _, name := range want {
		for _, method := range methods {
			ss := rep.samplesOf(name, method, 16)
			if len(ss) != 1 {
				t.Errorf("%s %s: %d samples, want 1", name, method, len(ss))
				continue
			}
			if s := ss[0]; s.Requests == 0 || s.StatusErrors != 0 || s.SocketErrors != 0 {
				t.Errorf("%s %s: %d requests, %d error statuses, %d socket errors; want requests and no errors",
					name, method, s.Requests, s.StatusErrors, s.SocketErrors)
			}
			if row := "| " + rep.label(name) + " | " + method + " | 16 | "; !strings.Contains(table, row) {
				t.Errorf("table has no row %q:\n%s", row, table)
			}
		}
	}
	if len(rep.Comparison) != 2 || !strings.Contains(table, "Plugboard vs bare ReverseProxy") {
		t.Errorf("want a Plugboard vs bare proxy comparison for GET and POST, got %+v", rep.Comparison)
	}
	if len(rep.TunedComparison) != 2 || !strings.Contains(table, "Plugboard vs tuned ReverseProxy") ||
		!strings.Contains(table, "- throughput ≥ 1.0× the tuned bare proxy at every configuration: GET/16 ") {
		t.Errorf("want a Plugboard vs tuned proxy comparison and its goal for GET and POST, got %+v", rep.TunedComparison)
	}
	// Every target, GET and POST, paced: all requests answered, and what
	// each proxy adds to the upstream served directly.
	for _, name := range want {
		for _, method := range methods {
			n := 0
			for _, s := range rep.Paced {
				if s.Target == name && s.Method == method {
					n++
					if s.Requests != 200 || s.Errors != 0 || s.P99ms <= 0 {
						t.Errorf("%s %s paced at 200/s for 1s: %d requests, %d errors, p99 %.3f ms; want 200, none, > 0",
							name, method, s.Requests, s.Errors, s.P99ms)
					}
				}
			}
			if n != 1 {
				t.Errorf("%s %s: %d paced samples, want 1", name, method, n)
			}
		}
	}
	if len(rep.PacedAdded) != 2*(len(want)-1) || !strings.Contains(table, "#### Paced latency") ||
		!strings.Contains(table, "- paced p99 added over the upstream served directly ≤ 1 ms: worst ") {
		t.Errorf("want paced latency added over direct for every proxy, GET and POST, got %+v", rep.PacedAdded)
	}
	if _, ok := nginxPath(); ok && (len(rep.NginxComparison) != 2 || !strings.Contains(table, "- CPU per request ≤ 2× nginx's: worst ")) {
		t.Errorf("want Plugboard's CPU against nginx's for GET and POST, got %+v", rep.NginxComparison)
	}
	if len(want) < len(o.targets) && !strings.Contains(table, "nginx: not installed") {
		t.Errorf("the table should say nginx was skipped:\n%s", table)
	}
	if dsn != "" {
		if len(rep.PGComparison) != 4 || !strings.Contains(table, "Plugboard on PostgreSQL vs Plugboard") {
			t.Errorf("want PostgreSQL vs SQLite comparisons for both targets, GET and POST, got %+v", rep.PGComparison)
		}
		for _, note := range []string{"- Stores: ", "- Plugboard ×3, PostgreSQL: 3 processes", "16 → 6+5+5"} {
			if !strings.Contains(table, note) {
				t.Errorf("the header should say %q:\n%s", note, table)
			}
		}
	}
	t.Logf("\n%s", table)
}

func TestParseWrk(t *testing.T) {
	out := "Running 1s test @ http://127.0.0.1:1/\n  2 threads and 16 connections\nPLUGBENCH 12000 1000512 1 2 0 3 4 512.0 2048.5\n"
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 12000, Seconds: 1.000512, SocketErrors: 6, StatusErrors: 4, P50us: 512, P99us: 2048.5}
	if got != want {
		t.Errorf("parseWrk = %+v, want %+v", got, want)
	}
	if _, err := parseWrk("Running 1s test\n"); err == nil {
		t.Error("parseWrk without a summary line should fail")
	}
}

func TestMergeWrk(t *testing.T) {
	one := wrkResult{Requests: 100, Seconds: 2, P50us: 300, P99us: 900, StatusErrors: 1}
	if got := mergeWrk([]wrkResult{one}); got != one {
		t.Errorf("mergeWrk of one run = %+v, want it unchanged", got)
	}
	got := mergeWrk([]wrkResult{
		{Requests: 1000, Seconds: 1, P50us: 100, P99us: 500, StatusErrors: 1},
		{Requests: 3000, Seconds: 1.5, P50us: 200, P99us: 2000, SocketErrors: 2},
		{Requests: 2000, Seconds: 2, P50us: 400, P99us: 800},
	})
	// req/s: 1000 + 2000 + 1000; p50: (1000×100 + 3000×200 + 2000×400) ÷ 6000.
	if rps := float64(got.Requests) / got.Seconds; got.Requests != 6000 || math.Abs(rps-4000) > 1e-9 {
		t.Errorf("merged %d requests at %.3f req/s, want 6000 at 4000", got.Requests, rps)
	}
	if math.Abs(got.P50us-250) > 1e-9 || got.P99us != 2000 || got.StatusErrors != 1 || got.SocketErrors != 2 {
		t.Errorf("merged %+v, want p50 250 (request-weighted), p99 2000 (the worst), 1 status and 2 socket errors", got)
	}
}

func TestSplitConns(t *testing.T) {
	for _, tc := range []struct {
		conns, n int
		want     []int
	}{{64, 3, []int{22, 21, 21}}, {16, 3, []int{6, 5, 5}}, {256, 3, []int{86, 85, 85}}, {3, 3, []int{1, 1, 1}}, {64, 1, []int{64}}} {
		if got := splitConns(tc.conns, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("splitConns(%d, %d) = %v, want %v", tc.conns, tc.n, got, tc.want)
		}
	}
}

func TestParseTargetsPostgres(t *testing.T) {
	if got, _ := parseTargets("all", false); !slices.Equal(got, targetNames) {
		t.Errorf("all without --postgres = %v, want %v", got, targetNames)
	}
	if got, _ := parseTargets("all", true); !slices.Equal(got, slices.Concat(targetNames, pgTargetNames)) {
		t.Errorf("all with --postgres = %v", got)
	}
	if _, err := parseTargets("plugboard-pg3", false); err == nil || !strings.Contains(err.Error(), "--postgres") {
		t.Errorf("plugboard-pg3 without --postgres: err %v, want one naming --postgres", err)
	}
	got, err := parseTargets("plugboard-pg3,bareproxy,plugboard-pg1,plugboard", true)
	if want := []string{"bareproxy", "plugboard", "plugboard-pg1", "plugboard-pg3"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("parseTargets = %v, %v; want %v in table order", got, err, want)
	}
	if _, err := parseOptions([]string{"--postgres", "postgres://x@h/db", "--conns", "2", "--targets", "plugboard-pg3"}, io.Discard); err == nil {
		t.Error("--conns 2 with three replicas should be refused")
	}
}

func TestParseStatTicks(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := []byte("4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 170 30 0 0 20 0 9 0 12345 1000000 500")
	got, err := parseStatTicks(stat)
	if err != nil || got != 200 {
		t.Errorf("parseStatTicks = %d, %v; want 200", got, err)
	}
}

func TestUpstreamRequiresCredential(t *testing.T) {
	h := upstreamHandler("k")
	for _, tc := range []struct {
		auth string
		want int
	}{{"Bearer k", 200}, {"Bearer user-token", 401}, {"", 401}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/v1/items/1", nil)
		req.Header.Set("Authorization", tc.auth)
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("Authorization %q: status %d, want %d", tc.auth, rec.Code, tc.want)
		}
	}
}

// testLog writes the harness's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestPacerSendsEveryScheduledRequest: the pacer sends rate × duration
// requests (after its warm-up), each once, with the Authorization header and,
// for POST, the body, and counts refusals as errors.
func TestPacerSendsEveryScheduledRequest(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+r.Header.Get("Authorization")+" "+string(body)]++
		mu.Unlock()
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer up.Close()
	res, err := pace(context.Background(), up.URL+"/ok", http.MethodPost, "Bearer t", 400, 4, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || res.Errors != 0 || res.P50us <= 0 || res.P50us > res.P99us || res.P99us > res.MaxUs {
		t.Errorf("paced POST: %+v; want 200 requests, no errors, 0 < p50 ≤ p99 ≤ max", res)
	}
	// 200 measured and 200 in the 0.5 s warm-up.
	if n := seen["POST Bearer t "+postBody]; n != 400 || len(seen) != 1 {
		t.Errorf("the upstream saw %v; want 400 POSTs with the token and the body", seen)
	}
	res, err = pace(context.Background(), up.URL+"/refuse", http.MethodGet, "Bearer t", 400, 4, 250*time.Millisecond)
	if err == nil || res.Errors != 100 {
		t.Errorf("paced GET answered 403: %+v, %v; want 100 errors and an error naming the status", res, err)
	}
}

func TestParsePaced(t *testing.T) {
	got, err := parsePaced("PLUGBENCH_PACED 1000 2 5.001 410.5 600.0 1200.0 3000.0 4100.5\n")
	want := pacedResult{Requests: 1000, Errors: 2, Seconds: 5.001, P50us: 410.5, P90us: 600, P99us: 1200, P999us: 3000, MaxUs: 4100.5}
	if err != nil || got != want {
		t.Errorf("parsePaced = %+v, %v; want %+v", got, err, want)
	}
	if _, err := parsePaced("nothing\n"); err == nil {
		t.Error("parsePaced without a summary line should fail")
	}
	merged := mergePaced([]pacedResult{{Requests: 100, P50us: 100, P99us: 900, MaxUs: 1000}, {Requests: 300, Errors: 1, P50us: 200, P99us: 500, MaxUs: 2000}})
	if merged.Requests != 400 || merged.Errors != 1 || merged.P50us != 175 || merged.P99us != 900 || merged.MaxUs != 2000 {
		t.Errorf("mergePaced = %+v; want 400 requests, 1 error, p50 175 (request-weighted), p99 900 and max 2000 (the worst)", merged)
	}
}

func TestBaselineTarget(t *testing.T) {
	o, err := parseOptions([]string{"--baseline", "/bin/old-plugboard", "--targets", "tunedproxy,plugboard,nginx"}, io.Discard)
	if want := []string{"tunedproxy", "nginx", "plugboard", "baseline"}; err != nil || !slices.Equal(o.targets, want) {
		t.Errorf("targets %v, %v; want %v (table order, baseline right after plugboard, which creates the keys)", o.targets, err, want)
	}
	if !isPlugboard("baseline") {
		t.Error("the baseline is a plugboard: it needs the user token")
	}
}
