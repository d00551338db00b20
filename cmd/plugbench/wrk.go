package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run measured.
type wrkResult struct {
	Requests     int64
	Seconds      float64
	P50us, P99us float64
	StatusErrors int64 // responses with a status of 400 or more (wrk's "Non-2xx or 3xx")
	SocketErrors int64 // connect, read, write and timeout errors
}

// wrkScript sets the request and reports the summary in one line that
// parseWrk reads, instead of wrk's human-oriented text. Long brackets quote
// the values, which contain no "]==]".
const wrkScript = `wrk.method = "{{method}}"
wrk.headers["Authorization"] = [==[{{auth}}]==]
{{body}}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("PLUGBENCH %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.1f %.1f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`

// writeWrkScript writes the Lua script of a target and method (0600: it
// holds the token).
func writeWrkScript(dir string, t *target, method string) (string, error) {
	body := ""
	if method == http.MethodPost {
		body = "wrk.body = [==[" + postBody + "]==]\nwrk.headers[\"Content-Type\"] = \"application/json\""
	}
	s := strings.NewReplacer("{{method}}", method, "{{auth}}", t.auth, "{{body}}", body).Replace(wrkScript)
	path := filepath.Join(dir, t.name+"-"+method+".lua")
	return path, os.WriteFile(path, []byte(s), 0o600)
}

// runWrk loads url for d (whole seconds) with conns connections.
func runWrk(ctx context.Context, cpus string, threads, conns int, d time.Duration, script, url string) (wrkResult, error) {
	threads = min(threads, conns)
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := pinned(ctx, cpus, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "5s", "-s", script, url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	res, err := parseWrk(stdout.String())
	if err != nil {
		return res, fmt.Errorf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	return res, nil
}

// parseWrk reads the PLUGBENCH line written by wrkScript's done().
func parseWrk(out string) (wrkResult, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "PLUGBENCH ")
		if !ok {
			continue
		}
		var v [9]float64
		f := strings.Fields(rest)
		if len(f) != len(v) {
			break
		}
		for i := range v {
			var err error
			if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
				return wrkResult{}, fmt.Errorf("wrk summary %q: %v", rest, err)
			}
		}
		return wrkResult{
			Requests:     int64(v[0]),
			Seconds:      v[1] / 1e6,
			SocketErrors: int64(v[2] + v[3] + v[4] + v[5]),
			StatusErrors: int64(v[6]),
			P50us:        v[7],
			P99us:        v[8],
		}, nil
	}
	return wrkResult{}, fmt.Errorf("wrk printed no summary line")
}

// mergeWrk combines wrk runs made at the same time against the replicas of
// one target: requests and errors add up; req/s is the sum of the runs'
// req/s (Seconds is set so that Requests ÷ Seconds gives it); p50 is the
// runs' p50s averaged with their requests as weights (a percentile of the
// union cannot be recovered from the runs' percentiles), and p99 the worst
// run's. One run comes back unchanged.
func mergeWrk(rs []wrkResult) wrkResult {
	if len(rs) == 1 {
		return rs[0]
	}
	var m wrkResult
	var rps, p50 float64
	for _, r := range rs {
		m.Requests += r.Requests
		m.StatusErrors += r.StatusErrors
		m.SocketErrors += r.SocketErrors
		m.P99us = max(m.P99us, r.P99us)
		p50 += float64(r.Requests) * r.P50us
		if r.Seconds > 0 {
			rps += float64(r.Requests) / r.Seconds
		}
	}
	if m.Requests > 0 {
		m.P50us = p50 / float64(m.Requests)
	}
	if rps > 0 {
		m.Seconds = float64(m.Requests) / rps
	}
	return m
}

// wrkVersion returns e.g. "wrk 4.1.0 [epoll]" (wrk -v exits 1).
func wrkVersion() string {
	out, _ := exec.Command("wrk", "-v").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	line, _, _ = strings.Cut(line, " Copyright")
	return strings.TrimSpace(line)
}
