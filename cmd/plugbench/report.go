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
	// TunedComparison is Plugboard against the tuned bare proxy: the
	// throughput target (at least 1.0×).
	TunedComparison []comparison `json:"plugboardVsTunedProxy,omitempty"`
	// NginxComparison is Plugboard against nginx: the CPU target (at most
	// 2× nginx's CPU per request).
	NginxComparison []comparison `json:"plugboardVsNginx,omitempty"`
	// BaselineComparison is Plugboard against the --baseline build.
	BaselineComparison []comparison `json:"plugboardVsBaseline,omitempty"`
	// PGComparison puts each PostgreSQL target next to Plugboard on SQLite.
	PGComparison []comparison `json:"postgresVsSQLite,omitempty"`
	// Paced are the paced runs; PacedCells their medians over rounds, and
	// PacedAdded each proxy's latency over the upstream served directly.
	Paced      []pacedSample `json:"paced,omitempty"`
	PacedCells []pacedSample `json:"pacedCells,omitempty"`
	PacedAdded []pacedAdded  `json:"pacedAddedOverDirect,omitempty"`
}

// pacedAdded is what a target adds to the latency of the upstream served
// directly at one paced configuration: medians of the per-round
// differences.
type pacedAdded struct {
	Target      string  `json:"target"`
	Method      string  `json:"method"`
	Rate        int     `json:"rate"`
	P50AddedMs  float64 `json:"p50AddedMs"`
	P99AddedMs  float64 `json:"p99AddedMs"`
	P999AddedMs float64 `json:"p999AddedMs"`
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
	CPURatio   float64 `json:"cpuRatio"` // Plugboard CPU per request ÷ the other's
	// TargetCPUus and BaseCPUus are the two CPU figures the ratio is of
	// (medians over rounds).
	TargetCPUus float64 `json:"targetCpuMicrosPerRequest"`
	BaseCPUus   float64 `json:"baseCpuMicrosPerRequest"`
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
	rep.TunedComparison, rep.NginxComparison, rep.BaselineComparison = nil, nil, nil
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
			if c, ok := rep.compare("plugboard", "tunedproxy", method, conns); ok {
				rep.TunedComparison = append(rep.TunedComparison, c)
			}
			if c, ok := rep.compare("plugboard", "nginx", method, conns); ok {
				rep.NginxComparison = append(rep.NginxComparison, c)
			}
			if c, ok := rep.compare("plugboard", "baseline", method, conns); ok {
				rep.BaselineComparison = append(rep.BaselineComparison, c)
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
	rep.summarizePaced()
}

// summarizePaced derives PacedCells and PacedAdded from Paced.
func (rep *report) summarizePaced() {
	rep.PacedCells, rep.PacedAdded = nil, nil
	var rates []int
	for _, s := range rep.Paced {
		if !slices.Contains(rates, s.Rate) {
			rates = append(rates, s.Rate)
		}
	}
	of := func(target, method string, rate int) []pacedSample {
		var out []pacedSample
		for _, s := range rep.Paced {
			if s.Target == target && s.Method == method && s.Rate == rate {
				out = append(out, s)
			}
		}
		return out
	}
	for _, rate := range rates {
		for _, method := range methods {
			direct := of("upstream", method, rate)
			for _, t := range rep.Targets {
				ss := of(t.Name, method, rate)
				if len(ss) == 0 {
					continue
				}
				c := pacedSample{Target: t.Name, Method: method, Rate: rate, Conns: ss[0].Conns,
					P50ms:  median(ss, func(s pacedSample) float64 { return s.P50ms }),
					P90ms:  median(ss, func(s pacedSample) float64 { return s.P90ms }),
					P99ms:  median(ss, func(s pacedSample) float64 { return s.P99ms }),
					P999ms: median(ss, func(s pacedSample) float64 { return s.P999ms }),
					MaxMs:  median(ss, func(s pacedSample) float64 { return s.MaxMs }),
					CPUus:  median(ss, func(s pacedSample) float64 { return s.CPUus }),
				}
				for _, s := range ss {
					c.Requests += s.Requests
					c.Errors += s.Errors
				}
				rep.PacedCells = append(rep.PacedCells, c)
				if t.Name == "upstream" {
					continue
				}
				var p50, p99, p999 []float64
				for _, s := range ss {
					for _, d := range direct {
						if d.Round == s.Round {
							p50 = append(p50, s.P50ms-d.P50ms)
							p99 = append(p99, s.P99ms-d.P99ms)
							p999 = append(p999, s.P999ms-d.P999ms)
						}
					}
				}
				if len(p99) > 0 {
					id := func(v float64) float64 { return v }
					rep.PacedAdded = append(rep.PacedAdded, pacedAdded{Target: t.Name, Method: method, Rate: rate,
						P50AddedMs: median(p50, id), P99AddedMs: median(p99, id), P999AddedMs: median(p999, id)})
				}
			}
		}
	}
}

// compare pairs the samples of a target and of the one it is weighed
// against (base) round by round.
func (rep *report) compare(target, base, method string, conns int) (comparison, bool) {
	pb, bare := rep.samplesOf(target, method, conns), rep.samplesOf(base, method, conns)
	var ratio, p99, cpu, cpuRatio []float64
	for _, p := range pb {
		for _, b := range bare {
			if p.Round == b.Round && b.RPS > 0 {
				ratio = append(ratio, p.RPS/b.RPS)
				p99 = append(p99, p.P99ms-b.P99ms)
				cpu = append(cpu, p.CPUus-b.CPUus)
				if b.CPUus > 0 {
					cpuRatio = append(cpuRatio, p.CPUus/b.CPUus)
				}
			}
		}
	}
	if len(ratio) == 0 {
		return comparison{}, false
	}
	id := func(v float64) float64 { return v }
	cpuOf := func(s sample) float64 { return s.CPUus }
	return comparison{Method: method, Conns: conns, Throughput: median(ratio, id),
		P99AddedMs: median(p99, id), CPUAddedUs: median(cpu, id), CPURatio: median(cpuRatio, id),
		TargetCPUus: median(pb, cpuOf), BaseCPUus: median(bare, cpuOf)}, true
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
	rep.writeComparison(w, "tunedproxy", rep.TunedComparison)
	rep.writeComparison(w, "bareproxy", rep.Comparison)
	rep.writeComparison(w, "baseline", rep.BaselineComparison)
	if len(rep.NginxComparison) > 0 {
		fmt.Fprintf(w, "\n#### CPU per request: Plugboard vs nginx\n\n")
		fmt.Fprintln(w, "| method | conns | Plugboard µs/req | nginx µs/req | ratio |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		for _, c := range rep.NginxComparison {
			fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.2f× |\n", c.Method, c.Conns, c.TargetCPUus, c.BaseCPUus, c.CPURatio)
		}
	}
	rep.writePaced(w)
	if len(rep.TunedComparison)+len(rep.Comparison)+len(rep.NginxComparison)+len(rep.PacedAdded) > 0 {
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

// writeComparison prints Plugboard against a target, each figure the
// median of the per-round values.
func (rep *report) writeComparison(w io.Writer, base string, cs []comparison) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n#### Plugboard vs %s\n\n", rep.label(base))
	fmt.Fprintln(w, "| method | conns | throughput | p99 added ms | CPU µs/req added | CPU ratio |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, c := range cs {
		fmt.Fprintf(w, "| %s | %d | %.2f× | %+.2f | %+.1f | %.2f× |\n", c.Method, c.Conns, c.Throughput, c.P99AddedMs, c.CPUAddedUs, c.CPURatio)
	}
}

// writePaced prints the paced runs and what each proxy adds to the
// latency of the upstream served directly.
func (rep *report) writePaced(w io.Writer) {
	if len(rep.PacedCells) == 0 {
		return
	}
	fmt.Fprintf(w, "\n#### Paced latency (fixed rate, below saturation; measured from each request's scheduled send time, up to %d connections)\n\n", rep.PacedCells[0].Conns)
	fmt.Fprintln(w, "| target | method | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | CPU µs/req | errors |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range rep.PacedCells {
		fmt.Fprintf(w, "| %s | %s | %d | %.3f | %.3f | %.3f | %.3f | %.2f | %.1f | %d |\n",
			rep.label(c.Target), c.Method, c.Rate, c.P50ms, c.P90ms, c.P99ms, c.P999ms, c.MaxMs, c.CPUus, c.Errors)
	}
	if len(rep.PacedAdded) == 0 {
		return
	}
	fmt.Fprintf(w, "\nAdded over %s (median of the per-round differences):\n\n", rep.label("upstream"))
	fmt.Fprintln(w, "| target | method | req/s | p50 added ms | p99 added ms | p99.9 added ms |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	for _, a := range rep.PacedAdded {
		fmt.Fprintf(w, "| %s | %s | %d | %+.3f | %+.3f | %+.3f |\n", rep.label(a.Target), a.Method, a.Rate, a.P50AddedMs, a.P99AddedMs, a.P999AddedMs)
	}
}

// writeGoals checks the product's targets: at least 1.0× the tuned bare
// proxy's throughput at every configuration, at most 2× nginx's CPU per
// request, at most 1 ms of p99 added over the upstream served directly
// under paced load, flat memory.
func (rep *report) writeGoals(w io.Writer) {
	fmt.Fprintln(w, "\nGoals:")
	if len(rep.TunedComparison) > 0 {
		var parts []string
		worst := rep.TunedComparison[0]
		for _, c := range rep.TunedComparison {
			parts = append(parts, fmt.Sprintf("%s/%d %.2f×", c.Method, c.Conns, c.Throughput))
			if c.Throughput < worst.Throughput {
				worst = c
			}
		}
		fmt.Fprintf(w, "- throughput ≥ 1.0× the tuned bare proxy at every configuration: %s; worst %.2f× (%s, %d connections)%s\n",
			strings.Join(parts, ", "), worst.Throughput, worst.Method, worst.Conns, verdict(worst.Throughput >= 1.0))
	}
	if len(rep.NginxComparison) > 0 {
		worst := rep.NginxComparison[0]
		for _, c := range rep.NginxComparison {
			if c.CPURatio > worst.CPURatio {
				worst = c
			}
		}
		fmt.Fprintf(w, "- CPU per request ≤ 2× nginx's: worst %.2f× (%s, %d connections: %.1f against %.1f µs)%s\n",
			worst.CPURatio, worst.Method, worst.Conns, worst.TargetCPUus, worst.BaseCPUus, verdict(worst.CPURatio <= 2))
	}
	var worstPaced *pacedAdded
	for i, a := range rep.PacedAdded {
		if a.Target == "plugboard" && (worstPaced == nil || a.P99AddedMs > worstPaced.P99AddedMs) {
			worstPaced = &rep.PacedAdded[i]
		}
	}
	if worstPaced != nil {
		fmt.Fprintf(w, "- paced p99 added over the upstream served directly ≤ 1 ms: worst %+.3f ms (%s at %d req/s)%s\n",
			worstPaced.P99AddedMs, worstPaced.Method, worstPaced.Rate, verdict(worstPaced.P99AddedMs <= 1))
	}
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
