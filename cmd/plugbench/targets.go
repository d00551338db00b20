package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// target is one server under load, or several replicas of one.
type target struct {
	name  string // as in --targets
	label string // in the table
	auth  string // the Authorization header wrk sends
	// eps has one endpoint per process: several for a target of replicas,
	// each loaded by its own wrk at the same time.
	eps []endpoint
}

// endpoint is one process of a target and the URL wrk loads on it.
type endpoint struct {
	url  string
	proc *process
}

func newTarget(name, label, url, auth string, proc *process) *target {
	return &target{name: name, label: label, auth: auth, eps: []endpoint{{url, proc}}}
}

// The project and user of the benchmark's user token.
const (
	benchProject = "dev"
	benchUser    = "bench-user"
)

// rig is everything a run starts: the targets, the backend upstream the
// proxies forward to, and the secrets they share (never printed).
type rig struct {
	dir      string
	pin      pinning
	self     string // this executable, re-run for the Go targets
	key      string // the upstream credential the proxies inject
	token    string // the user token sent to the proxies
	pubKey   string // PEM file verifying user tokens
	privKey  *rsa.PrivateKey
	backend  string // URL of the backend upstream
	targets  []*target
	procs    []*process
	skipped  []string // notes on targets not measured
	progress io.Writer

	// Plugboard: the binary and manifest folder every replica shares.
	plugboardBin, manifests string
	// PostgreSQL: the replicas' store URL (a fresh schema in search_path),
	// what the report says of the server, whether the credential has been
	// created there, and the cleanup dropping the schema.
	pgDSN, pgInfo string
	pgConnected   bool
	pgDrop        func()
}

// setUp starts the backend upstream and the selected targets, and checks
// that each answers GET and POST correctly. On error, close what it returns.
func setUp(ctx context.Context, o options, pin pinning, progress io.Writer) (*rig, error) {
	r := &rig{pin: pin, progress: progress}
	var err error
	if r.dir, err = os.MkdirTemp("", "plugbench-"); err != nil {
		return r, err
	}
	if r.self, err = os.Executable(); err != nil {
		return r, err
	}
	r.key = "pbk_" + randomHex(16)
	if err := r.writeSigningKeys(); err != nil {
		return r, err
	}
	port, err := freePort()
	if err != nil {
		return r, err
	}
	r.backend = fmt.Sprintf("http://127.0.0.1:%d", port)
	if _, err := r.startGo(ctx, "backend upstream", pin.load, "upstream", hostPort(port)); err != nil {
		return r, err
	}

	byName := map[string]*target{}
	// With Plugboard, the user token comes from `plugboard token`.
	if slices.ContainsFunc(o.targets, isPlugboard) {
		if err := r.preparePlugboard(ctx, o.plugboard); err != nil {
			return r, fmt.Errorf("plugboard: %w", err)
		}
	} else if r.token, err = r.mintToken(); err != nil {
		return r, err
	}
	if slices.ContainsFunc(o.targets, func(name string) bool { return pgReplicas[name] > 0 }) {
		if err := r.createSchema(ctx, o.postgres); err != nil {
			return r, fmt.Errorf("--postgres: %w", err)
		}
	}
	// In table order, so that Plugboard on SQLite, when selected, starts
	// first and generates the dev keys in the data folder that the
	// PostgreSQL replicas then read.
	for _, name := range o.targets {
		var t *target
		switch name {
		case "upstream":
			t, err = r.startGoTarget(ctx, name, "upstream (direct)", "upstream")
			if t != nil {
				t.auth = "Bearer " + r.key
			}
		case "bareproxy":
			t, err = r.startGoTarget(ctx, name, "bare ReverseProxy", "bareproxy", "--upstream", r.backend)
		case "tunedproxy":
			t, err = r.startGoTarget(ctx, name, "tuned ReverseProxy", "tunedproxy", "--upstream", r.backend)
		case "jwtproxy":
			t, err = r.startGoTarget(ctx, name, "ReverseProxy + RS256", "jwtproxy", "--upstream", r.backend,
				"--public-key", r.pubKey, "--audience", benchProject)
		case "nginx":
			t, err = r.startNginx(ctx)
		case "plugboard":
			t, err = r.startPlugboard(ctx)
		case "baseline":
			t, err = r.startBaseline(ctx, o.baseline)
		case "plugboard-pg1":
			t, err = r.startPlugboardPG(ctx, name, "Plugboard, PostgreSQL", pgReplicas[name])
		case "plugboard-pg3":
			t, err = r.startPlugboardPG(ctx, name, "Plugboard ×3, PostgreSQL", pgReplicas[name])
		}
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		if t != nil {
			byName[name] = t
		}
	}
	for _, name := range o.targets {
		if t := byName[name]; t != nil {
			if err := preflight(ctx, t); err != nil {
				return r, err
			}
			r.targets = append(r.targets, t)
		}
	}
	return r, nil
}

// close stops every process, drops the PostgreSQL schema and removes the
// temporary folder.
func (r *rig) close() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].stop()
	}
	if r.pgDrop != nil {
		r.pgDrop()
	}
	if r.dir != "" {
		if err := os.RemoveAll(r.dir); err != nil {
			fmt.Fprintf(r.progress, "plugbench: %v\n", err)
		}
	}
}

// startGo re-executes plugbench as a role and waits until it answers.
func (r *rig) startGo(ctx context.Context, name, cpus, role, listen string, args ...string) (*process, error) {
	args = append([]string{role, "--listen", listen}, args...)
	p, err := start(name, pinned(ctx, cpus, r.self, args...), upstreamKeyEnv+"="+r.key)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	return p, p.waitHTTP(ctx, "http://"+listen+"/", 0)
}

// startGoTarget starts a Go role as a target on the target CPU.
func (r *rig) startGoTarget(ctx context.Context, name, label, role string, args ...string) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := r.startGo(ctx, name, r.pin.target, role, hostPort(port), args...)
	if err != nil {
		return nil, err
	}
	return newTarget(name, label, fmt.Sprintf("http://%s%s", hostPort(port), apiPath), "Bearer "+r.token, p), nil
}

// writeSigningKeys creates the RSA key pair of user tokens, where
// `plugboard serve --mode dev` and `plugboard token` look for it.
func (r *rig) writeSigningKeys() error {
	data := filepath.Join(r.dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return err
	}
	r.privKey, r.pubKey = priv, filepath.Join(data, "signing-key.pub.pem")
	if err := os.WriteFile(filepath.Join(data, "signing-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(r.pubKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
}

// mintToken signs a user token like `plugboard token` does, for runs
// without Plugboard.
func (r *rig) mintToken() (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Subject:   benchUser,
		Audience:  jwt.ClaimStrings{benchProject},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(12 * time.Hour)),
	}).SignedString(r.privKey)
}

// preflight sends one GET and one POST to every endpoint of a target and
// checks status and body, so that a target that answers fast but wrong is
// caught before it is measured.
func preflight(ctx context.Context, t *target) error {
	for _, ep := range t.eps {
		if err := preflightURL(ctx, t, ep.url); err != nil {
			return err
		}
	}
	return nil
}

func preflightURL(ctx context.Context, t *target, url string) error {
	client := &http.Client{Timeout: 10 * time.Second}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var body io.Reader
		want := string(getBody)
		if method == http.MethodPost {
			body, want = strings.NewReader(postBody), postBody
		}
		req, err := http.NewRequestWithContext(ctx, method, url, body)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", t.auth)
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %s %s: %w", t.name, method, url, err)
		}
		got, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 || !strings.Contains(string(got), want) {
			return fmt.Errorf("%s: %s %s answered %d %q; want 2xx with %s", t.name, method, url, resp.StatusCode, got, want)
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

func hostPort(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
