package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
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
// requests without an error, and the table must have a row for each.
func TestHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugboard and loads six servers for about 15s; skipped with -short")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not on PATH; install it (apt-get install -y wrk) to run the load harness test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := options{duration: time.Second, rounds: 1, conns: []int{16}, threads: 2, targets: targetNames, pin: true}
	rep, err := runBench(ctx, o, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	want := targetNames
	if _, ok := nginxPath(); !ok {
		want = []string{"upstream", "bareproxy", "jwtproxy", "plugboard"}
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
	if len(want) < len(targetNames) && !strings.Contains(table, "nginx: not installed") {
		t.Errorf("the table should say nginx was skipped:\n%s", table)
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
