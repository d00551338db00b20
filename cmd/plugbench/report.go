package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// report is everything a run measured; summarize derives Cells and
// Comparison from Samples.
type report struct {
	Machine    machine      `json:"machine"`
	Targets    []targetInfo `json:"targets"`
	Skipped    []string     `json:"skipped,omitempty"`
	Samples    []sample     `json:"samples"`
	RSS        []rssSample  `json:"rss"`
	Cells      []cell       `json:"cells"`
	Comparison []comparison `json:"plugboardVsBareProxy,omitempty"`
	// PGComparison puts each PostgreSQL target next to Plugboard on SQLite.
	PGComparison []comparison `json:"postgresVsSQLite,omitempty"`
}

// cell is one (target, method, connections) over all rounds: medians, the
// range of req/s, and totals.
type cell struct {
	Target   string  `json:"target"`
	Method   string  `json:"method"`
	Conns    int     `json:"conns"`
	RPS      float64 `json:"rps"`
	RPSMin   float64 `json:"rpsMin"`
	RPSMax   float64 `json:"rpsMax"`
	P50ms    float64 `json:"p50Ms"`
	P99ms    float64 `json:"p99Ms"`
	CPUus    float64 `json:"cpuMicrosPerRequest"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"` // status ≥ 400 and socket errors
}

// comparison is Plugboard against the bare proxy (or, with Target, that
// target against Plugboard on SQLite) at one configuration, each figure the
// median of the per-round values (the two ran moments apart in each round).
type comparison struct {
	Target     string  `json:"target,omitempty"`
	Method     string  `json:"method"`
	Conns      int     `json:"conns"`
	Throughput float64 `json:"throughputRatio"` // Plugboard req/s ÷ bare proxy req/s (Target req/s ÷ Plugboard's)
	P99AddedMs float64 `json:"p99AddedMs"`
	CPUAddedUs float64 `json:"cpuMicrosAddedPerRequest"`
}

func (rep *report) samplesOf(target, method string, conns int) []sample {
	var out []sample
	for _, s := range rep.Samples {
		if s.Target == target && s.Method == method && s.Conns == conns {
			out = append(out, s)
		}
	}
	return out
}

func (rep *report) summarize() {
	rep.Cells, rep.Comparison, rep.PGComparison = nil, nil, nil
	for _, method := range methods {
		for _, conns := range rep.Machine.Conns {
			for _, t := range rep.Targets {
				ss := rep.samplesOf(t.Name, method, conns)
				if len(ss) == 0 {
					continue
				}
				c := cell{Target: t.Name, Method: method, Conns: conns,
					RPS:    median(ss, func(s sample) float64 { return s.RPS }),
					RPSMin: math.Inf(1),
					P50ms:  median(ss, func(s sample) float64 { return s.P50ms }),
					P99ms:  median(ss, func(s sample) float64 { return s.P99ms }),
					CPUus:  median(ss, func(s sample) float64 { return s.CPUus }),
				}
				for _, s := range ss {
					c.RPSMin, c.RPSMax = min(c.RPSMin, s.RPS), max(c.RPSMax, s.RPS)
					c.Requests += s.Requests
					c.Errors += s.StatusErrors + s.SocketErrors
				}
				rep.Cells = append(rep.Cells, c)
			}
			if c, ok := rep.compare("plugboard", "bareproxy", method, conns); ok {
				rep.Comparison = append(rep.Comparison, c)
			}
		}
	}
	for _, name := range pgTargetNames {
		for _, method := range methods {
			for _, conns := range rep.Machine.Conns {
				if c, ok := rep.compare(name, "plugboard", method, conns); ok {
					c.Target = name
					rep.PGComparison = append(rep.PGComparison, c)
				}
			}
		}
	}
}

// compare pairs the samples of a target and of the one it is weighed
// against (base) round by round.
func (rep *report) compare(target, base, method string, conns int) (comparison, bool) {
	pb, bare := rep.samplesOf(target, method, conns), rep.samplesOf(base, method, conns)
	var ratio, p99, cpu []float64
	for _, p := range pb {
		for _, b := range bare {
			if p.Round == b.Round && b.RPS > 0 {
				ratio = append(ratio, p.RPS/b.RPS)
				p99 = append(p99, p.P99ms-b.P99ms)
				cpu = append(cpu, p.CPUus-b.CPUus)
			}
		}
	}
	if len(ratio) == 0 {
		return comparison{}, false
	}
	id := func(v float64) float64 { return v }
	return comparison{Method: method, Conns: conns, Throughput: median(ratio, id),
		P99AddedMs: median(p99, id), CPUAddedUs: median(cpu, id)}, true
}

func median[T any](xs []T, f func(T) float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func (rep *report) label(name string) string {
	for _, t := range rep.Targets {
		if t.Name == name {
			return t.Label
		}
	}
	return name
}

// writeMarkdown prints the setup, the table, the comparison and memory.
func (rep *report) writeMarkdown(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "### Proxy overhead (plugbench, %s)\n\n", m.Date.Format("2006-01-02"))
	machine := fmt.Sprintf("%d CPUs", m.CPUs)
	if m.CPUModel != "" {
		machine += " (" + m.CPUModel + ")"
	}
	tools := []string{m.Kernel, m.Go, m.Wrk}
	if m.Nginx != "" {
		tools = append(tools, m.Nginx)
	}
	fmt.Fprintf(w, "- Machine: %s; %s\n", machine, strings.Join(slices.DeleteFunc(tools, func(s string) bool { return s == "" }), ", "))
	fmt.Fprintf(w, "- Pinning: %s\n", m.Pinning)
	fmt.Fprintf(w, "- Load: wrk, %d threads, %s per run, connections %s; GET answers a %d-byte JSON body, POST sends a %d-byte JSON body that is echoed\n",
		m.Threads, m.Duration, joinInts(m.Conns), len(getBody), len(postBody))
	fmt.Fprintf(w, "- Method: %d round(s); in each, targets take turns at every configuration (order rotating per round); a cell is the median over rounds, spread is (max − min) ÷ median of req/s; CPU is utime+stime of the target process per request\n", m.Rounds)
	rep.writeReplicaNotes(w)
	if m.LoadBefore != "" {
		fmt.Fprintf(w, "- Load average (1, 5, 15 min) before: %s, after: %s (other processes on the machine add noise to req/s and latency; CPU per request is the steadiest figure)\n", m.LoadBefore, m.LoadAfter)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "- Note: %s\n", s)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | method | conns | req/s | spread | p50 ms | p99 ms | CPU µs/req | errors |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range rep.Cells {
		spread := 0.0
		if c.RPS > 0 {
			spread = (c.RPSMax - c.RPSMin) / c.RPS * 100
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.0f%% | %.2f | %.2f | %.1f | %d |\n",
			rep.label(c.Target), c.Method, c.Conns, c.RPS, spread, c.P50ms, c.P99ms, c.CPUus, c.Errors)
	}
	if len(rep.Comparison) > 0 {
		fmt.Fprintf(w, "\n#### Plugboard vs %s\n\n", rep.label("bareproxy"))
		fmt.Fprintln(w, "| method | conns | throughput | p99 added ms | CPU µs/req added |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		for _, c := range rep.Comparison {
			fmt.Fprintf(w, "| %s | %d | %.2f× | %+.2f | %+.1f |\n", c.Method, c.Conns, c.Throughput, c.P99AddedMs, c.CPUAddedUs)
		}
		rep.writeGoals(w)
	}
	if len(rep.PGComparison) > 0 {
		fmt.Fprintf(w, "\n#### Plugboard on PostgreSQL vs %s (SQLite, one replica)\n\n", rep.label("plugboard"))
		fmt.Fprintln(w, "Each figure is the median over rounds of the target against Plugboard on SQLite in the same round; all on the same pinned CPU.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| target | method | conns | throughput | p99 added ms | CPU µs/req added |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
		for _, c := range rep.PGComparison {
			fmt.Fprintf(w, "| %s | %s | %d | %.2f× | %+.2f | %+.1f |\n", rep.label(c.Target), c.Method, c.Conns, c.Throughput, c.P99AddedMs, c.CPUAddedUs)
		}
	}
	rep.writeRSS(w)
}

// writeReplicaNotes says, in the header, what the PostgreSQL targets are
// and how the figures of a target of several replicas are merged.
func (rep *report) writeReplicaNotes(w io.Writer) {
	m := rep.Machine
	if m.Postgres != "" {
		fmt.Fprintf(w, "- Stores: %s is one replica on SQLite; the PostgreSQL targets run `plugboard serve --mode dev` on %s, with one credential created through one replica and used by all; PostgreSQL's own CPU is not counted (a replica reads the credential from the store at most every 30 s)\n",
			rep.label("plugboard"), m.Postgres)
	}
	for _, t := range rep.Targets {
		if t.Replicas < 2 {
			continue
		}
		var splits []string
		for _, c := range m.Conns {
			splits = append(splits, fmt.Sprintf("%d → %s", c, joinSep(splitConns(c, t.Replicas), "+")))
		}
		fmt.Fprintf(w, "- %s: %d processes, each loaded by its own wrk at the same time, the connections split between them (%s), %d wrk thread(s) each; req/s is the sum of the %d runs, p50 the mean of their p50s weighted by requests, p99 the worst of their p99s, CPU µs/req the %d processes' CPU time over all their requests, memory the sum of their VmRSS (when other processes compete for the pinned CPU, the kernel shares it per process, which favours the req/s of %d processes; CPU µs/req is not affected)\n",
			t.Label, t.Replicas, strings.Join(splits, ", "), max(1, m.Threads/t.Replicas), t.Replicas, t.Replicas, t.Replicas)
	}
}

// writeGoals checks the product's targets: at 64 connections at least 0.9×
// the bare proxy's throughput, at most 1 ms of added p99, flat memory.
func (rep *report) writeGoals(w io.Writer) {
	fmt.Fprintln(w, "\nGoals:")
	var at64 []string
	worstP99 := comparison{P99AddedMs: math.Inf(-1)}
	for _, c := range rep.Comparison {
		if c.Conns == 64 {
			at64 = append(at64, fmt.Sprintf("%s %.2f×", c.Method, c.Throughput)+verdict(c.Throughput >= 0.9))
		}
		if c.P99AddedMs > worstP99.P99AddedMs {
			worstP99 = c
		}
	}
	if len(at64) > 0 {
		fmt.Fprintf(w, "- throughput ≥ 0.9× the bare proxy at 64 connections: %s\n", strings.Join(at64, ", "))
	}
	fmt.Fprintf(w, "- added p99 ≤ 1 ms: worst %+.2f ms (%s, %d connections)%s\n",
		worstP99.P99AddedMs, worstP99.Method, worstP99.Conns, verdict(worstP99.P99AddedMs <= 1))
	var first, last int64
	for _, s := range rep.RSS {
		if s.Target == "plugboard" && s.Round >= 1 {
			if first == 0 {
				first = s.KiB
			}
			last = s.KiB
		}
	}
	if first > 0 {
		growth := float64(last-first) / float64(first) * 100
		// Shrinking is fine (the runtime returns memory); growth is what a leak looks like.
		fmt.Fprintf(w, "- flat memory (≤ 10%% growth): Plugboard RSS %.1f MiB after round 1, %.1f MiB after the last (%+.0f%%)%s\n",
			mib(first), mib(last), growth, verdict(growth <= 10))
	}
}

func verdict(ok bool) string {
	if ok {
		return " (met)"
	}
	return " (missed)"
}

// writeRSS prints each target's VmRSS after warm-up and after every round.
func (rep *report) writeRSS(w io.Writer) {
	if len(rep.RSS) == 0 {
		return
	}
	fmt.Fprint(w, "\n#### Resident memory (VmRSS, MiB)")
	if slices.ContainsFunc(rep.Targets, func(t targetInfo) bool { return t.Replicas > 1 }) {
		fmt.Fprint(w, "; a target of several replicas: their sum")
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "\n| target | before round 1 |")
	for r := 1; r <= rep.Machine.Rounds; r++ {
		fmt.Fprintf(w, " round %d |", r)
	}
	fmt.Fprint(w, "\n|---|---:|")
	fmt.Fprint(w, strings.Repeat("---:|", rep.Machine.Rounds))
	fmt.Fprintln(w)
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "| %s |", t.Label)
		for _, s := range rep.RSS {
			if s.Target == t.Name {
				fmt.Fprintf(w, " %.1f |", mib(s.KiB))
			}
		}
		fmt.Fprintln(w)
	}
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func joinInts(xs []int) string { return joinSep(xs, "/") }

func joinSep(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, sep)
}

// writeJSONFile writes the whole report, samples included.
func (rep *report) writeJSONFile(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
