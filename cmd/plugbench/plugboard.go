package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// benchIntegration is the id of the manifest plugbench writes.
const benchIntegration = "bench"

// benchManifest is an api_key integration whose API is the backend
// upstream; the credential goes into the Authorization header.
const benchManifest = `id: bench
name: Bench
description: The plugbench upstream.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: %s
  authorization:
    type: header
    name: Authorization
    value: "Bearer {{inputs.api_key}}"
  testEndpoint: %s
`

// isPlugboard reports whether a target runs `plugboard serve`.
func isPlugboard(name string) bool {
	return name == "plugboard" || name == "baseline" || pgReplicas[name] > 0
}

// preparePlugboard builds plugboard (unless given), writes the bench
// manifest and mints the user token with `plugboard token`: what every
// Plugboard process shares.
func (r *rig) preparePlugboard(ctx context.Context, bin string) error {
	if bin == "" {
		bin = filepath.Join(r.dir, "plugboard")
		fmt.Fprintln(r.progress, "building ./cmd/plugboard …")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/plugboardhq/plugboard/cmd/plugboard")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build (run plugbench inside the plugboard module, or pass --plugboard): %v\n%s", err, out)
		}
	}
	r.plugboardBin, r.manifests = bin, filepath.Join(r.dir, "manifests")
	if err := os.MkdirAll(r.manifests, 0o700); err != nil {
		return err
	}
	m := fmt.Sprintf(benchManifest, r.backend, apiPath)
	if err := os.WriteFile(filepath.Join(r.manifests, "bench.yaml"), []byte(m), 0o600); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, bin, "token", "--user", benchUser, "--project", benchProject,
		"--data", r.dataDir(), "--ttl", "12h").Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return fmt.Errorf("plugboard token: %v: %s", err, bytes.TrimSpace(ee.Stderr))
	} else if err != nil {
		return fmt.Errorf("plugboard token: %w", err)
	}
	r.token = strings.TrimSpace(string(out))
	return nil
}

// dataDir is the data folder of every Plugboard process: the user-token key
// pair written by writeSigningKeys, and the admin token and encryption key
// the first `plugboard serve --mode dev` generates, which the later ones
// read (PostgreSQL replicas must share the encryption key).
func (r *rig) dataDir() string { return filepath.Join(r.dir, "data") }

// startPlugboard starts `plugboard serve` in dev mode on its SQLite store
// and connects the bench integration through the SDK credentials endpoint.
func (r *rig) startPlugboard(ctx context.Context) (*target, error) {
	ep, base, err := r.startServe(ctx, r.plugboardBin, "plugboard")
	if err != nil {
		return nil, err
	}
	if err := r.connect(ctx, base); err != nil {
		return nil, err
	}
	return newTarget("plugboard", "Plugboard", ep.url, "Bearer "+r.token, ep.proc), nil
}

// startBaseline starts another build of plugboard (--baseline) like
// startPlugboard, on a SQLite store of its own in the same data folder
// (hence the same keys), and connects the bench integration there too.
func (r *rig) startBaseline(ctx context.Context, bin string) (*target, error) {
	ep, base, err := r.startServe(ctx, bin, "baseline", "PLUGBOARD_STORE="+filepath.Join(r.dataDir(), "baseline.db"))
	if err != nil {
		return nil, err
	}
	if err := r.connect(ctx, base); err != nil {
		return nil, err
	}
	return newTarget("baseline", "Plugboard (baseline build)", ep.url, "Bearer "+r.token, ep.proc), nil
}

// startPlugboardPG starts n replicas of `plugboard serve` in dev mode on the
// PostgreSQL schema, one after the other (the first migrates the schema),
// and creates the credential through the first replica of the first such
// target: every replica of every PostgreSQL target proxies with it.
func (r *rig) startPlugboardPG(ctx context.Context, name, label string, n int) (*target, error) {
	t := &target{name: name, label: label, auth: "Bearer " + r.token}
	for i := range n {
		procName := name
		if n > 1 {
			procName = fmt.Sprintf("%s replica %d", name, i+1)
		}
		ep, base, err := r.startServe(ctx, r.plugboardBin, procName, "PLUGBOARD_STORE="+r.pgDSN)
		if err != nil {
			return nil, err
		}
		if !r.pgConnected {
			if err := r.connect(ctx, base); err != nil {
				return nil, fmt.Errorf("%s: %w", procName, err)
			}
			r.pgConnected = true
		}
		t.eps = append(t.eps, ep)
	}
	return t, nil
}

// startServe starts one `plugboard serve --mode dev` of bin on the target CPU
// (env adds to its environment) and waits until it is ready; base is its
// root URL.
func (r *rig) startServe(ctx context.Context, bin, name string, env ...string) (ep endpoint, base string, err error) {
	port, err := freePort()
	if err != nil {
		return ep, "", err
	}
	base = "http://" + hostPort(port)
	// As in production: the access log on (JSON lines at info level, to
	// a file), metrics counted.
	logPath := filepath.Join(r.dir, fmt.Sprintf("plugboard-%d.log", port))
	p, err := startLogged(name, pinned(ctx, r.pin.target, bin, "serve", "--mode", "dev", "--listen", hostPort(port),
		"--data", r.dataDir(), "--manifests", r.manifests, "--log-format", "json", "--log-level", "info", "--access-log=true",
		"--shutdown-grace", "2s"), logPath, env...)
	if err != nil {
		return ep, "", err
	}
	r.procs = append(r.procs, p)
	if err := p.waitHTTP(ctx, base+"/readyz", http.StatusOK); err != nil {
		return ep, "", err
	}
	url := fmt.Sprintf("%s/projects/%s/sdk/proxy/custom/%s%s", base, benchProject, benchIntegration, apiPath)
	return endpoint{url: url, proc: p}, base, nil
}

// connect stores the user's credential for the bench integration.
func (r *rig) connect(ctx context.Context, base string) error {
	body, err := json.Marshal(map[string]any{
		"integrationId": "custom." + benchIntegration,
		"payload":       map[string]string{"api_key": r.key},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/projects/"+benchProject+"/sdk/credentials", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("creating the credential: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("creating the credential: %d %s", resp.StatusCode, msg)
	}
	return nil
}
