package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// sample is one wrk run against one target.
type sample struct {
	Target       string  `json:"target"`
	Method       string  `json:"method"`
	Conns        int     `json:"conns"`
	Round        int     `json:"round"`
	Requests     int64   `json:"requests"`
	RPS          float64 `json:"rps"`
	P50ms        float64 `json:"p50Ms"`
	P99ms        float64 `json:"p99Ms"`
	CPUus        float64 `json:"cpuMicrosPerRequest"` // of the target process (summed over its replicas)
	StatusErrors int64   `json:"statusErrors"`
	SocketErrors int64   `json:"socketErrors"`
}

// rssSample is a target's resident memory after a round (0: after warm-up),
// summed over its replicas.
type rssSample struct {
	Target string `json:"target"`
	Round  int    `json:"round"`
	KiB    int64  `json:"kib"`
}

// machine describes where and how the numbers were taken.
type machine struct {
	CPUs      int       `json:"cpus"`
	CPUModel  string    `json:"cpuModel"`
	Kernel    string    `json:"kernel"`
	Go        string    `json:"go"`
	Wrk       string    `json:"wrk"`
	Nginx     string    `json:"nginx,omitempty"`
	Postgres  string    `json:"postgres,omitempty"`
	Pinning   string    `json:"pinning"`
	Duration  string    `json:"duration"`
	Rounds    int       `json:"rounds"`
	Threads   int       `json:"threads"`
	Conns     []int     `json:"conns"`
	Date      time.Time `json:"date"`
	ClockTick int64     `json:"clockTicksPerSecond"`
	// LoadBefore and LoadAfter are /proc/loadavg's first three fields.
	LoadBefore string `json:"loadBefore,omitempty"`
	LoadAfter  string `json:"loadAfter,omitempty"`
}

type targetInfo struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Replicas int    `json:"replicas"` // processes, each loaded by its own wrk
}

// methods are measured in this order.
var methods = []string{http.MethodGet, http.MethodPost}

// runBench starts the targets, runs the interleaved schedule and returns
// the report; progress gets one line per run.
func runBench(ctx context.Context, o options, progress io.Writer) (*report, error) {
	if _, err := exec.LookPath("wrk"); err != nil {
		return nil, fmt.Errorf("wrk not found on PATH: install it (apt-get install -y wrk)")
	}
	pin, pinNote := choosePinning(o.pin, runtime.NumCPU())
	if n := maxReplicas(o.targets); n > 1 && pin.target != "" {
		pinNote += fmt.Sprintf("; the %d replicas of a multi-replica target all run on CPU %s too (each GOMAXPROCS=1), like the single-process targets, so every figure is for the same single CPU (per-CPU fair), and their %d wrk share CPU %s",
			n, pin.target, n, pin.load)
	}
	rep := &report{Machine: describeMachine(o, pinNote)}
	r, err := setUp(ctx, o, pin, progress)
	defer r.close()
	if err != nil {
		return nil, err
	}
	rep.Skipped = r.skipped
	rep.Machine.Postgres = r.pgInfo
	for _, t := range r.targets {
		rep.Targets = append(rep.Targets, targetInfo{t.name, t.label, len(t.eps)})
	}
	b := bench{rig: r, o: o, tick: rep.Machine.ClockTick, scripts: map[string]string{}}
	if b.scriptDir, err = os.MkdirTemp(r.dir, "wrk"); err != nil {
		return nil, err
	}
	if o.warmup >= time.Second {
		for _, t := range r.targets {
			fmt.Fprintf(progress, "warm-up %s\n", t.label)
			if _, err := b.measure(ctx, t, http.MethodGet, slices.Max(o.conns), o.warmup); err != nil {
				return nil, err
			}
		}
	}
	if err := b.recordRSS(rep, 0); err != nil {
		return nil, err
	}
	n := len(r.targets)
	for round := 1; round <= o.rounds; round++ {
		for _, method := range methods {
			for _, conns := range o.conns {
				// Round-robin, starting one later each round.
				for i := range n {
					t := r.targets[(i+round-1)%n]
					s, err := b.measure(ctx, t, method, conns, o.duration)
					if err != nil {
						return nil, err
					}
					s.Round = round
					rep.Samples = append(rep.Samples, s)
					fmt.Fprintf(progress, "round %d/%d %-4s %3d conns %-22s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %5.1f µs CPU/req\n",
						round, o.rounds, method, conns, t.label, s.RPS, s.P50ms, s.P99ms, s.CPUus)
				}
			}
		}
		for _, rate := range o.pacedRates {
			for _, method := range methods {
				for i := range n {
					t := r.targets[(i+round-1)%n]
					s, err := b.measurePaced(ctx, t, method, rate, o.pacedConns, o.duration)
					if err != nil {
						return nil, err
					}
					s.Round = round
					rep.Paced = append(rep.Paced, s)
					fmt.Fprintf(progress, "round %d/%d %-4s paced %5d/s %-22s p50 %6.3f ms  p99 %6.3f ms  p99.9 %6.3f ms  %d errors\n",
						round, o.rounds, method, rate, t.label, s.P50ms, s.P99ms, s.P999ms, s.Errors)
				}
			}
		}
		if err := b.recordRSS(rep, round); err != nil {
			return nil, err
		}
	}
	rep.Machine.LoadAfter = loadAverage()
	rep.summarize()
	return rep, nil
}

// bench runs measurements against a rig.
type bench struct {
	rig       *rig
	o         options
	tick      int64
	scriptDir string
	scripts   map[string]string // target+method → Lua script path
}

// measure runs wrk once per endpoint of the target, concurrently, and
// reads the target's CPU time around it.
func (b *bench) measure(ctx context.Context, t *target, method string, conns int, d time.Duration) (sample, error) {
	key := t.name + " " + method
	script, ok := b.scripts[key]
	if !ok {
		var err error
		if script, err = writeWrkScript(b.scriptDir, t, method); err != nil {
			return sample{}, err
		}
		b.scripts[key] = script
	}
	before, err := t.cpuTicks()
	if err != nil {
		return sample{}, err
	}
	n := len(t.eps)
	split := splitConns(conns, n)
	threads := max(1, b.o.threads/n)
	results, errs := make([]wrkResult, n), make([]error, n)
	var wg sync.WaitGroup
	for i, ep := range t.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runWrk(ctx, b.rig.pin.load, threads, split[i], d, script, ep.url)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return sample{}, fmt.Errorf("%s %s %d conns: %w", t.name, method, conns, err)
	}
	res := mergeWrk(results)
	after, err := t.cpuTicks()
	if err != nil {
		return sample{}, err
	}
	for _, ep := range t.eps {
		if err := ep.proc.truncateLog(); err != nil {
			return sample{}, err
		}
	}
	s := sample{Target: t.name, Method: method, Conns: conns, Requests: res.Requests,
		P50ms: res.P50us / 1000, P99ms: res.P99us / 1000, StatusErrors: res.StatusErrors, SocketErrors: res.SocketErrors}
	if res.Seconds > 0 {
		s.RPS = float64(res.Requests) / res.Seconds
	}
	if res.Requests > 0 {
		s.CPUus = float64(after-before) * 1e6 / float64(b.tick) / float64(res.Requests)
	}
	return s, nil
}

// pacedSample is one paced run against one target: latency measured from
// each request's scheduled time (pace.go).
type pacedSample struct {
	Target   string  `json:"target"`
	Method   string  `json:"method"`
	Rate     int     `json:"rate"`
	Conns    int     `json:"conns"`
	Round    int     `json:"round"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	P50ms    float64 `json:"p50Ms"`
	P90ms    float64 `json:"p90Ms"`
	P99ms    float64 `json:"p99Ms"`
	P999ms   float64 `json:"p999Ms"`
	MaxMs    float64 `json:"maxMs"`
	CPUus    float64 `json:"cpuMicrosPerRequest"`
}

// measurePaced runs one pacer per endpoint of the target, concurrently,
// sharing the rate and the connections between them.
func (b *bench) measurePaced(ctx context.Context, t *target, method string, rate, conns int, d time.Duration) (pacedSample, error) {
	before, err := t.cpuTicks()
	if err != nil {
		return pacedSample{}, err
	}
	n := len(t.eps)
	split := splitConns(conns, n)
	rates := splitConns(rate, n) // 200/s over 3 replicas: 67+67+66, not 3×66
	results, errs := make([]pacedResult, n), make([]error, n)
	var wg sync.WaitGroup
	for i, ep := range t.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runPaced(ctx, b.rig.self, b.rig.pin.load, ep.url, method, t.auth, max(1, rates[i]), max(1, split[i]), d)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return pacedSample{}, fmt.Errorf("%s %s paced at %d/s: %w", t.name, method, rate, err)
	}
	res := mergePaced(results)
	after, err := t.cpuTicks()
	if err != nil {
		return pacedSample{}, err
	}
	for _, ep := range t.eps {
		if err := ep.proc.truncateLog(); err != nil {
			return pacedSample{}, err
		}
	}
	s := pacedSample{Target: t.name, Method: method, Rate: rate, Conns: conns, Requests: res.Requests, Errors: res.Errors,
		P50ms: res.P50us / 1000, P90ms: res.P90us / 1000, P99ms: res.P99us / 1000, P999ms: res.P999us / 1000, MaxMs: res.MaxUs / 1000}
	if res.Requests > 0 {
		// The warm-up's requests are in the CPU time too, and counted here.
		sent := res.Requests + int64(float64(rate)*pacedWarmup.Seconds())
		s.CPUus = float64(after-before) * 1e6 / float64(b.tick) / float64(sent)
	}
	return s, nil
}

// cpuTicks returns the CPU time of all the target's processes.
func (t *target) cpuTicks() (int64, error) {
	var sum int64
	for _, ep := range t.eps {
		n, err := cpuTicks(ep.proc.pid())
		if err != nil {
			return 0, fmt.Errorf("%s: %w (did it exit? %s)", ep.proc.name, err, ep.proc.output())
		}
		sum += n
	}
	return sum, nil
}

// splitConns divides conns between n wrk as evenly as possible (the first
// ones get one more).
func splitConns(conns, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = conns / n
		if i < conns%n {
			out[i]++
		}
	}
	return out
}

// maxReplicas is the most processes any of the targets runs.
func maxReplicas(targets []string) int {
	n := 1
	for _, name := range targets {
		n = max(n, pgReplicas[name])
	}
	return n
}

func (b *bench) recordRSS(rep *report, round int) error {
	for _, t := range b.rig.targets {
		var sum int64
		for _, ep := range t.eps {
			kib, err := rssKiB(ep.proc.pid())
			if err != nil {
				return fmt.Errorf("%s: %w", ep.proc.name, err)
			}
			sum += kib
		}
		rep.RSS = append(rep.RSS, rssSample{Target: t.name, Round: round, KiB: sum})
	}
	return nil
}

func describeMachine(o options, pinNote string) machine {
	m := machine{
		CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Wrk: wrkVersion(), Pinning: pinNote, Duration: o.duration.String(), Rounds: o.rounds, Threads: o.threads,
		Conns: o.conns, Date: time.Now().UTC().Truncate(time.Second), ClockTick: clockTicks(),
		LoadBefore: loadAverage(),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if bin, ok := nginxPath(); ok && slices.Contains(o.targets, "nginx") {
		out, _ := exec.Command(bin, "-v").CombinedOutput() // "nginx version: nginx/1.22.1"
		m.Nginx = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version:"))
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}
