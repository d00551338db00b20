// Command plugbench measures what the Plugboard proxy costs: it loads the
// authenticated proxy route and, side by side in the same run, the
// alternatives it is weighed against, and prints a markdown table.
//
// Usage (from anywhere inside the module; wrk must be on PATH):
//
//	go run ./cmd/plugbench [--duration 5s] [--rounds 3] [--conns 16,64,256]
//	                       [--threads 2] [--targets all] [--warmup 1s]
//	                       [--paced 2000] [--paced-conns 16]
//	                       [--json FILE] [--plugboard BIN] [--pin=true]
//	                       [--postgres postgres://USER:PASSWORD@HOST:PORT/DB]
//
// Targets, each a separate process on 127.0.0.1 so that its CPU time can be
// read from /proc:
//
//	upstream    a tiny Go HTTP server answering a small JSON body (POST echoes
//	            the body); it requires the credential the proxies inject
//	bareproxy   httputil.ReverseProxy setting the credential header, as
//	            most Go proxies are written (no buffer pool: 32 KiB
//	            allocated per response)
//	tunedproxy  the fastest plain Go proxy, the floor Plugboard is held to:
//	            httputil.ReverseProxy with a sync.Pool of 32 KiB copy
//	            buffers, a transport keeping an idle upstream connection for
//	            every client connection (1024), no compression, HTTP/1.1
//	            only, keep-alives; no authentication, no logging
//	jwtproxy    the same, plus RS256 verification of the user token on every
//	            request (golang-jwt/jwt/v5, no cache)
//	nginx       nginx as a keepalive reverse proxy setting the header
//	            (skipped with a note when nginx is not installed)
//	plugboard   `plugboard serve --mode dev`, built from ./cmd/plugboard, with
//	            one api_key manifest pointing at the upstream, a user token
//	            from `plugboard token` and a credential stored through
//	            POST /projects/dev/sdk/credentials; loaded at
//	            /projects/dev/sdk/proxy/custom/bench/{path} with the user token.
//	            It does all it does in production: the user token verified,
//	            the stored credential injected, JSON answers wrapped as
//	            {"output":…}, metrics counted, and the access log on (JSON
//	            lines at info level, written to a file that plugbench empties
//	            after every run)
//
// with --baseline BIN, another build of plugboard (started like plugboard,
// with a SQLite store of its own in the same data folder), to compare two
// builds in one run:
//
//	baseline    the build to compare with, e.g. one of the main branch
//
// and, when --postgres gives a PostgreSQL server, Plugboard sharing its
// state through it (`plugboard serve --mode dev` with the store in
// PLUGBOARD_STORE, the same data folder, hence the same generated
// encryption key and user-token key, as every replica must have):
//
//	plugboard-pg1  one replica on PostgreSQL
//	plugboard-pg3  three replicas on PostgreSQL, each loaded by its own wrk
//
// plugbench creates a fresh schema (plugbench_<random>) in the database the
// URL names, puts it in the replicas' search_path, and drops it at the end;
// a search_path in the URL is replaced. The PostgreSQL replicas of both
// targets share that schema: the credential is created once, through the
// first replica started, and every replica proxies with it. "all" includes
// these targets only with --postgres. PostgreSQL's own CPU is not counted
// (the proxy reads a credential from the store at most every 30 s; it is
// cached in between).
//
// A target of several replicas is measured with one wrk per replica, run
// concurrently: the connections are split evenly between them (64 is
// 22+21+21), each wrk gets --threads÷3 threads (at least one), and the
// results merge as follows: req/s is the sum of the three, p50 the mean of
// the three p50s weighted by their requests (percentiles of the union
// cannot be recovered from wrk's), p99 the worst of the three, CPU per
// request the three processes' CPU time over all requests, and memory the
// sum of their VmRSS. The table header says so. Beware of req/s on a busy
// machine: when other processes compete for the pinned CPU, the kernel
// shares it per process, so three replicas get more of it than one process
// does; CPU per request is not affected. When both Plugboard on
// SQLite and a PostgreSQL target are measured, a second comparison puts the
// PostgreSQL targets next to Plugboard on SQLite.
//
// Every target is measured at every connection count with GET and with POST
// (a small JSON body). Runs are interleaved: for each (method, connections)
// configuration the targets take turns (the order rotates every round), and
// the whole schedule repeats --rounds times, so machine noise hits all
// targets alike. A cell of the table is the median over the rounds.
//
// Per run it reads wrk's request count, p50 and p99 (a Lua done() hook), and
// the target's CPU time (utime+stime from /proc/<pid>/stat) before and after,
// giving CPU microseconds per request. After every round it reads each
// target's VmRSS. It then compares Plugboard with the tuned proxy (the
// target: at least 1.0× its throughput), the bare proxy (throughput ratio,
// p99 added and CPU added per request) and nginx (CPU per request: the
// target is at most 2× nginx's), each figure the median of the per-round
// values, and says which targets are met.
//
// Paced runs (--paced, after the throughput runs of every round, targets
// taking turns likewise): wrk sends as fast as answers come, so it measures
// saturation, where a proxy's added latency is mostly queueing. Below
// saturation, plugbench re-executes itself as a pacer (on the load CPUs)
// that sends at a fixed rate on a schedule set in advance, over at most
// --paced-conns connections, and measures each request from the moment the
// schedule says it should have been sent, so that a stall counts for every
// request queued behind it (as wrk2 does; wrk2 is not packaged). The first
// 0.5 s opens the connections and is not recorded. The report gives
// p50/p90/p99/p99.9/max per target and what each proxy adds to the
// upstream served directly (the target: p99 at most 1 ms more).
//
// Pinning (--pin, default on with 2 or more CPUs): the target under test runs
// on CPU 0; wrk and the backend upstream the proxies forward to share the
// other CPUs. Go targets therefore run with GOMAXPROCS=1 and nginx with one
// worker: every target gets the same single core, which makes their numbers
// comparable, not absolute. The three replicas of plugboard-pg3 all run on
// CPU 0 too (each with GOMAXPROCS=1), so that they get the same single core
// as one replica: the comparison is per CPU, fair, and says what running
// several replicas costs, not what more cores would bring. Their three wrk
// share the load CPUs.
//
// plugbench also re-executes itself for the Go targets:
//
//	plugbench upstream   --listen ADDR
//	plugbench bareproxy  --listen ADDR --upstream URL
//	plugbench tunedproxy --listen ADDR --upstream URL
//	plugbench jwtproxy   --listen ADDR --upstream URL --public-key PEM [--audience dev]
//
// with the credential in the environment variable PLUGBENCH_UPSTREAM_KEY,
// and for the paced runs
//
//	plugbench pace --url URL --method GET|POST --rate N --conns N --duration D
//
// with the Authorization header in PLUGBENCH_AUTH.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usageText = `Usage: plugbench [flags]

Load-test the Plugboard proxy against an upstream served directly, a bare
httputil.ReverseProxy, a tuned one (pooled buffers, tuned transport: the
floor Plugboard is held to), the same bare proxy with per-request RS256
verification, and nginx; print a markdown table of requests/s, p50, p99,
CPU per request and memory, Plugboard's ratios to the tuned proxy and to
nginx, and paced latency (a fixed rate below saturation, measured from each
request's scheduled send time). Needs wrk on PATH (apt-get install -y wrk);
nginx is optional.

Run it from inside the plugboard module (it builds ./cmd/plugboard) or pass
--plugboard. See the package documentation (go doc ./cmd/plugbench) for the
method.

With --postgres, also measure Plugboard sharing its state through
PostgreSQL: plugboard-pg1 (one replica) and plugboard-pg3 (three replicas,
all pinned to the target CPU like the single-process targets, each loaded by
its own wrk with a third of the connections; req/s summed, p50
request-weighted, p99 the worst replica's, CPU summed over the replicas).
plugbench creates a fresh schema for them and drops it afterwards; the
credential is created once, through one replica, and used by all.

Flags:
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "chart" {
		os.Exit(runChart(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && roles[os.Args[1]] {
		os.Exit(runRole(os.Args[1], os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errReported) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "plugbench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := runBench(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "plugbench:", err)
		return 1
	}
	rep.writeMarkdown(stdout)
	if opts.jsonPath != "" {
		if err := rep.writeJSONFile(opts.jsonPath); err != nil {
			fmt.Fprintln(stderr, "plugbench:", err)
			return 1
		}
	}
	return 0
}

// errReported is a command-line error the flag package has already printed.
var errReported = errors.New("usage error reported")

// options are the harness's settings.
type options struct {
	duration  time.Duration // of one wrk run
	warmup    time.Duration // per target, before round 1, not recorded
	rounds    int
	conns     []int
	threads   int // wrk threads
	targets   []string
	jsonPath  string
	plugboard string // prebuilt binary; empty builds ./cmd/plugboard
	pin       bool
	postgres  string // PostgreSQL URL for the plugboard-pg targets; empty: none
	// pacedRates are the fixed rates (requests/s) of the paced runs, each
	// over at most pacedConns connections; none: no paced runs.
	pacedRates []int
	pacedConns int
	// baseline is another plugboard binary measured as the target
	// "baseline", to compare two builds in one run; empty: none.
	baseline string
}

// targetNames are the targets in table order that need nothing but this
// machine.
var targetNames = []string{"upstream", "bareproxy", "tunedproxy", "jwtproxy", "nginx", "plugboard"}

// pgTargetNames are Plugboard on PostgreSQL (--postgres), after targetNames
// in table order.
var pgTargetNames = []string{"plugboard-pg1", "plugboard-pg3"}

// pgReplicas is how many replicas each PostgreSQL target runs.
var pgReplicas = map[string]int{"plugboard-pg1": 1, "plugboard-pg3": 3}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("plugbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	var o options
	var conns, targets, paced string
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of one wrk run (wrk takes whole seconds)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unrecorded load per target before the first round (0 skips)")
	fs.IntVar(&o.rounds, "rounds", 3, "how many times the whole interleaved schedule runs; cells are medians over rounds")
	fs.StringVar(&conns, "conns", "16,64,256", "comma-separated wrk connection counts")
	fs.IntVar(&o.threads, "threads", 2, "wrk threads")
	fs.StringVar(&paced, "paced", "2000", "comma-separated fixed rates (requests/s, well below saturation) of the paced latency runs, each as long as --duration; 0 for none")
	fs.IntVar(&o.pacedConns, "paced-conns", 16, "most connections of a paced run (a request waits for a free one, and that wait counts)")
	fs.StringVar(&targets, "targets", "all", "comma-separated targets, or all: "+strings.Join(targetNames, ",")+
		" (and with --postgres "+strings.Join(pgTargetNames, ",")+")")
	fs.StringVar(&o.jsonPath, "json", "", "also write every sample and the summary as JSON to this file")
	fs.StringVar(&o.baseline, "baseline", "", "another plugboard binary (e.g. a build of the main branch) measured beside --plugboard as the target \"baseline\", taking turns with the others, to compare two builds in one run")
	fs.StringVar(&o.plugboard, "plugboard", "", "plugboard binary to run (default: go build ./cmd/plugboard into a temporary folder)")
	fs.BoolVar(&o.pin, "pin", true, "pin the target to CPU 0 and wrk and the backend upstream to the other CPUs (needs taskset and 2+ CPUs)")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL URL (postgres://user:password@host:port/db): enables the targets "+
		strings.Join(pgTargetNames, " and ")+", Plugboard with 1 and 3 replicas sharing a fresh schema created there (and dropped afterwards)")
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(os.Stdout) // asked-for help is output, not an error
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errReported
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.duration < time.Second {
		return o, fmt.Errorf("--duration %s: wrk needs at least 1s", o.duration)
	}
	if o.rounds < 1 || o.threads < 1 {
		return o, errors.New("--rounds and --threads must be at least 1")
	}
	var err error
	if o.conns, err = parseInts(conns); err != nil || len(o.conns) == 0 {
		return o, fmt.Errorf("--conns %q: want positive integers separated by commas", conns)
	}
	if paced = strings.TrimSpace(paced); paced != "" && paced != "0" {
		if o.pacedRates, err = parseInts(paced); err != nil {
			return o, fmt.Errorf("--paced %q: want requests per second, positive integers separated by commas, or 0 for none", paced)
		}
	}
	if o.pacedConns < 1 {
		return o, errors.New("--paced-conns must be at least 1")
	}
	if o.postgres != "" && !strings.HasPrefix(o.postgres, "postgres://") && !strings.HasPrefix(o.postgres, "postgresql://") {
		return o, errors.New("--postgres: want a postgres:// URL")
	}
	if o.targets, err = parseTargets(targets, o.postgres != ""); err != nil {
		return o, err
	}
	if o.baseline != "" {
		// After plugboard, which creates the data folder's keys.
		i := slices.Index(o.targets, "plugboard") + 1
		if i == 0 {
			i = len(o.targets)
		}
		o.targets = slices.Insert(o.targets, i, "baseline")
	}
	for _, name := range o.targets {
		if n := pgReplicas[name]; n > 1 && slices.Min(o.conns) < n {
			return o, fmt.Errorf("--conns: %s splits the connections between %d replicas; want at least %d", name, n, n)
		}
	}
	return o, nil
}

// parseTargets returns the selected targets in table order; the PostgreSQL
// targets need postgres.
func parseTargets(s string, postgres bool) ([]string, error) {
	known := slices.Concat(targetNames, pgTargetNames)
	if strings.TrimSpace(s) == "all" {
		if postgres {
			return known, nil
		}
		return targetNames, nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("--targets: unknown target %q (want all or some of %s)", name, strings.Join(known, ","))
		}
		if pgReplicas[name] > 0 && !postgres {
			return nil, fmt.Errorf("--targets: %s needs --postgres postgres://…", name)
		}
		want[name] = true
	}
	var out []string
	for _, t := range known {
		if want[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// parseInts reads comma-separated positive integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
