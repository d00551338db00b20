package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/manifest"
)

// TestQuickStartBannerSteps starts `plugboard serve` as the README's quick
// start does (no flags but a free port, in a folder holding the shipped
// manifests and no data folder yet), reads the dev banner, and runs its
// numbered steps exactly as printed, with sh and curl: mint a user token,
// connect demo-apikey, call it through the proxy. Each must succeed.
func TestQuickStartBannerSteps(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not found (.ci/run installs it) — skipping the banner's curl steps")
	}
	dir := t.TempDir()
	var names []string
	entries, err := os.ReadDir(filepath.Join("..", "..", "integrations.d"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if manifest.IsWorkflowFile(e.Name()) {
			// Workflows are copied as they are (they have no icon).
			data, err := os.ReadFile(filepath.Join("..", "..", "integrations.d", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "integrations.d", e.Name()), string(data))
			continue
		}
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, name)
		}
	}
	copyShipped(t, filepath.Join(dir, "integrations.d"), names...)
	g := startGateway(t, dir, serveEnv())

	banner := g.stderr.String()
	if !strings.Contains(banner, g.base+"/   (") {
		t.Errorf("the banner does not name the playground %s/:\n%s", g.base, banner)
	}
	stepRE := regexp.MustCompile(`(?m)^  (\d)\. [A-Za-z ]+?  +(\S.*)$`)
	steps := stepRE.FindAllStringSubmatch(banner, -1)
	if len(steps) != 4 {
		t.Fatalf("want 4 numbered steps in the banner, got %d:\n%s", len(steps), banner)
	}
	// One shell runs them all, as a person pasting them into a terminal
	// would (the token stays in $TOKEN); a marker separates their outputs.
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, s := range steps {
		script.WriteString("echo '@@ step " + s[1] + "'\n" + s[2] + "\necho\n")
	}
	cmd := exec.Command("sh", "-c", script.String())
	cmd.Dir, cmd.Env = dir, serveEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr // curl's progress meter, and any error
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the banner's steps failed: %v\n--- script:\n%s--- output:\n%s\n--- stderr:\n%s", err, script.String(), out, stderr.String())
	}
	outputs := map[string]string{}
	for _, part := range strings.Split(string(out), "@@ step ")[1:] {
		n, body, _ := strings.Cut(part, "\n")
		outputs[n] = strings.TrimSpace(body)
	}
	if outputs["1"] != "" {
		t.Errorf("step 1 printed %q (want nothing but the token in $TOKEN)", outputs["1"])
	}
	var cred struct{ ID, Status, Code string }
	if err := json.Unmarshal([]byte(outputs["2"]), &cred); err != nil || cred.ID == "" || cred.Status != "VALID" {
		t.Errorf("step 2 (connect) answered: %s", outputs["2"])
	}
	var me struct{ Output struct{ User, Auth string } }
	if err := json.Unmarshal([]byte(outputs["3"]), &me); err != nil || me.Output.User != "alice" || me.Output.Auth != "api_key" {
		t.Errorf("step 3 (proxy) answered: %s", outputs["3"])
	}
	// The demo workflow runs on the connection of step 2: a request to the
	// demo API, then an answer built from it with the setting's default.
	var greet struct{ Greeting, User string }
	if err := json.Unmarshal([]byte(outputs["4"]), &greet); err != nil || greet.Greeting != "Hello, Alice!" || greet.User != "alice" {
		t.Errorf("step 4 (workflow) answered: %s", outputs["4"])
	}
	if t.Failed() {
		t.Logf("banner:\n%s", banner)
	}
}

// The demo serves fixed demo credentials and mints user tokens for
// anyone: production refuses --demo, and never serves it by default.
func TestServeDemoRefusedInProduction(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	for _, c := range []struct {
		name string
		env  []string
		args []string
	}{
		{"flag", nil, []string{"--demo"}},
		{"environment", []string{"PLUGBOARD_DEMO=true"}, nil},
	} {
		env := productionEnv(t, dir, append([]string{"PLUGBOARD_ADMIN_TOKEN=production-admin-token-0123456789"}, c.env...)...)
		r := runServeCmd(t, dir, env, append([]string{"serve", "--mode", "production", "--listen", "127.0.0.1:0"}, c.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--demo") || !strings.Contains(r.stderr, "dev mode only") {
			t.Errorf("%s: production with the demo exited %d: %s", c.name, r.code, r.stderr)
		}
	}
	g := startGateway(t, dir, productionEnv(t, dir, "PLUGBOARD_ADMIN_TOKEN=production-admin-token-0123456789"), "--mode", "production")
	for _, path := range []string{"/", "/demo/api/me", "/demo/oauth/authorize", "/v1/integrations/demo-apikey"} {
		if r := g.get(path, ""); r.status != 404 {
			t.Errorf("production serves %s: %d %s", path, r.status, r.body)
		}
	}
	// Dev mode can turn it off.
	d := startGateway(t, shippedFolder(t), serveEnv(), "--demo=false")
	if r := d.get("/", ""); r.status != 404 {
		t.Errorf("dev mode with --demo=false serves the playground: %d", r.status)
	}
	if strings.Contains(d.stderr.String(), "Playground") {
		t.Errorf("the banner offers the playground with --demo=false:\n%s", d.stderr)
	}
}

// The banner's commands call the program the way it was started.
func TestSelfCommand(t *testing.T) {
	onPath := func(p string) func(string) (string, error) {
		return func(string) (string, error) {
			if p == "" {
				return "", exec.ErrNotFound
			}
			return p, nil
		}
	}
	for _, c := range []struct{ exe, path, want string }{
		{"/tmp/go-build123/b001/exe/plugboard", "", "go run ./cmd/plugboard"},
		{"/root/go/bin/plugboard", "/root/go/bin/plugboard", "plugboard"},
		{"/opt/plugboard/plugboard", "/root/go/bin/plugboard", "/opt/plugboard/plugboard"},
		{"/opt/plugboard/plugboard", "", "/opt/plugboard/plugboard"},
	} {
		if got := selfCommandFor(c.exe, onPath(c.path)); got != c.want {
			t.Errorf("%s (PATH has %q): %q, want %q", c.exe, c.path, got, c.want)
		}
	}
}
