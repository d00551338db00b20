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

// startPlugboard builds (unless given) and starts `plugboard serve` in dev
// mode, mints the user token with `plugboard token`, and connects the bench
// integration through the SDK credentials endpoint.
func (r *rig) startPlugboard(ctx context.Context, bin string) (*target, error) {
	if bin == "" {
		bin = filepath.Join(r.dir, "plugboard")
		fmt.Fprintln(r.progress, "building ./cmd/plugboard …")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/plugboardhq/plugboard/cmd/plugboard")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build (run plugbench inside the plugboard module, or pass --plugboard): %v\n%s", err, out)
		}
	}
	data, manifests := filepath.Join(r.dir, "data"), filepath.Join(r.dir, "manifests")
	if err := os.MkdirAll(manifests, 0o700); err != nil {
		return nil, err
	}
	m := fmt.Sprintf(benchManifest, r.backend, apiPath)
	if err := os.WriteFile(filepath.Join(manifests, "bench.yaml"), []byte(m), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	base := "http://" + hostPort(port)
	p, err := start("plugboard", pinned(ctx, r.pin.target, bin, "serve", "--mode", "dev", "--listen", hostPort(port),
		"--data", data, "--manifests", manifests, "--log-level", "warn", "--shutdown-grace", "2s"))
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	if err := p.waitHTTP(ctx, base+"/readyz", http.StatusOK); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, bin, "token", "--user", benchUser, "--project", benchProject,
		"--data", data, "--ttl", "12h").Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return nil, fmt.Errorf("plugboard token: %v: %s", err, bytes.TrimSpace(ee.Stderr))
	} else if err != nil {
		return nil, fmt.Errorf("plugboard token: %w", err)
	}
	r.token = strings.TrimSpace(string(out))
	if err := r.connect(ctx, base); err != nil {
		return nil, err
	}
	return &target{
		name:  "plugboard",
		label: "Plugboard",
		url:   fmt.Sprintf("%s/projects/%s/sdk/proxy/custom/%s%s", base, benchProject, benchIntegration, apiPath),
		auth:  "Bearer " + r.token,
		proc:  p,
	}, nil
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
