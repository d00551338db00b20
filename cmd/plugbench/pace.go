package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Paced load: below saturation, what a proxy adds to latency is hidden by
// wrk, which sends as fast as answers come (a closed loop: a slow answer
// delays the requests behind it, which are then never measured late). The
// pacer sends at a fixed rate instead, on a schedule set in advance, and
// measures each request from the moment the schedule says it should have
// been sent: a stall shows in every request queued behind it, as
// wrk2 does it (coordinated omission corrected).

// pacedAuthEnv carries the Authorization header to the pacer, so that the
// token is not on a command line.
const pacedAuthEnv = "PLUGBENCH_AUTH"

// pacedResult is what one pacer run measured.
type pacedResult struct {
	Requests int64
	Errors   int64 // transport errors and statuses other than 2xx
	Seconds  float64
	P50us    float64
	P90us    float64
	P99us    float64
	P999us   float64
	MaxUs    float64
}

// pacedWarmup is sent at the rate before the measured requests, to open the
// connections; not recorded.
const pacedWarmup = 500 * time.Millisecond

// runPacer is `plugbench pace`: it loads --url at --rate requests/s for
// --duration over at most --conns connections and prints one
// PLUGBENCH_PACED line (parsePaced reads it).
func runPacer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugbench pace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "URL to load")
	method := fs.String("method", http.MethodGet, "GET, or POST (with plugbench's JSON body)")
	rate := fs.Int("rate", 1000, "requests per second")
	conns := fs.Int("conns", 16, "most connections open at once (a request waits for a free one)")
	d := fs.Duration("duration", 5*time.Second, "length of the measured run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *url == "" || *rate < 1 || *conns < 1 || *d <= 0 {
		fmt.Fprintln(stderr, "plugbench pace: want --url, a positive --rate, --conns and --duration")
		return 2
	}
	res, err := pace(context.Background(), *url, *method, os.Getenv(pacedAuthEnv), *rate, *conns, *d)
	if err != nil {
		fmt.Fprintln(stderr, "plugbench pace:", err)
		return 1
	}
	fmt.Fprintf(stdout, "PLUGBENCH_PACED %d %d %.6f %.1f %.1f %.1f %.1f %.1f\n",
		res.Requests, res.Errors, res.Seconds, res.P50us, res.P90us, res.P99us, res.P999us, res.MaxUs)
	return 0
}

// pace sends requests at rate for pacedWarmup then d, each measured from
// its scheduled time.
func pace(ctx context.Context, url, method, auth string, rate, conns int, d time.Duration) (pacedResult, error) {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	interval := time.Second / time.Duration(rate)
	skip := int(pacedWarmup / interval)
	n := skip + int(d/interval)
	type job struct {
		at     time.Time
		record bool
	}
	jobs := make(chan job, n)
	lat := make([][]time.Duration, conns)
	errs := make([]int64, conns)
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := send(ctx, client, url, method, auth)
				took := time.Since(j.at)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
				}
				if !j.record {
					continue
				}
				if err != nil {
					errs[w]++
					continue
				}
				lat[w] = append(lat[w], took)
			}
		}()
	}
	start := time.Now().Add(10 * time.Millisecond)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- job{at: at, record: i >= skip}
	}
	close(jobs)
	wg.Wait()
	all := slices.Concat(lat...)
	var res pacedResult
	for _, e := range errs {
		res.Errors += e
	}
	res.Requests = int64(len(all)) + res.Errors
	res.Seconds = time.Since(start.Add(pacedWarmup)).Seconds()
	if len(all) == 0 {
		return res, fmt.Errorf("no request succeeded: %v", firstErr)
	}
	slices.Sort(all)
	pct := func(q float64) float64 {
		i := min(len(all)-1, int(q*float64(len(all))))
		return float64(all[i]) / float64(time.Microsecond)
	}
	res.P50us, res.P90us, res.P99us, res.P999us = pct(0.50), pct(0.90), pct(0.99), pct(0.999)
	res.MaxUs = float64(all[len(all)-1]) / float64(time.Microsecond)
	return res, nil
}

// send makes one request and reads the whole answer; not 2xx is an error.
func send(ctx context.Context, client *http.Client, url, method, auth string) error {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(postBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	return err
}

// runPaced runs one pacer (re-executing plugbench, on the load CPUs).
func runPaced(ctx context.Context, self, cpus, url, method, auth string, rate, conns int, d time.Duration) (pacedResult, error) {
	cmd := pinned(ctx, cpus, self, "pace", "--url", url, "--method", method, "--rate", strconv.Itoa(rate),
		"--conns", strconv.Itoa(conns), "--duration", d.String())
	cmd.Env = append(os.Environ(), pacedAuthEnv+"="+auth)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return pacedResult{}, fmt.Errorf("pacer: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parsePaced(stdout.String())
}

// parsePaced reads the PLUGBENCH_PACED line runPacer prints.
func parsePaced(out string) (pacedResult, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "PLUGBENCH_PACED ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		var v [8]float64
		if len(f) != len(v) {
			break
		}
		for i := range v {
			var err error
			if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
				return pacedResult{}, fmt.Errorf("pacer summary %q: %v", rest, err)
			}
		}
		return pacedResult{Requests: int64(v[0]), Errors: int64(v[1]), Seconds: v[2],
			P50us: v[3], P90us: v[4], P99us: v[5], P999us: v[6], MaxUs: v[7]}, nil
	}
	return pacedResult{}, errors.New("the pacer printed no summary line")
}

// mergePaced combines pacers run at the same time against the replicas of
// one target: counts add up, p50 is request-weighted, the other
// percentiles are the worst run's.
func mergePaced(rs []pacedResult) pacedResult {
	if len(rs) == 1 {
		return rs[0]
	}
	var m pacedResult
	var p50 float64
	for _, r := range rs {
		m.Requests += r.Requests
		m.Errors += r.Errors
		m.Seconds = max(m.Seconds, r.Seconds)
		p50 += float64(r.Requests) * r.P50us
		m.P90us, m.P99us = max(m.P90us, r.P90us), max(m.P99us, r.P99us)
		m.P999us, m.MaxUs = max(m.P999us, r.P999us), max(m.MaxUs, r.MaxUs)
	}
	if m.Requests > 0 {
		m.P50us = p50 / float64(m.Requests)
	}
	return m
}
