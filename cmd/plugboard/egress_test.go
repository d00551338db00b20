package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// TestServeEgressAllow: an API on 127.0.0.1 is refused by default in
// production; --egress-allow, PLUGBOARD_EGRESS_ALLOW or the config file's
// egressAllow open it, as an operator would for an API in their network.
// Dev mode opens loopback to hosts a manifest writes literally.
func TestServeEgressAllow(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer api.Close()
	manifest := func(base string) string {
		return "id: acme\nname: Acme\ndescription: d\nauth:\n  type: api_key\n  inputs: [{key: api_key, label: Key, secret: true}]\napi:\n  baseUrl: " + base + "\n  authorization: {type: header, name: X-Api-Key, value: \"{{inputs.api_key}}\"}\n  testEndpoint: /me\n"
	}
	keyRE := regexp.MustCompile(`(?m)^[A-Za-z0-9_-]+:[A-Za-z0-9+/=_-]{40,}$`)
	// connect starts a gateway in a folder of its own and connects acme.
	connect := func(base string, config string, extraEnv []string, args ...string) (int, string, *gatewayProcess) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "integrations.d", "acme.yaml"), manifest(base))
		if config != "" {
			writeFile(t, filepath.Join(dir, "plugboard.yaml"), config)
		}
		keys := filepath.Join(dir, "keys")
		r := runServeCmd(t, dir, serveEnv(), "keys", "generate", "--out", keys)
		env := serveEnv(append([]string{"PLUGBOARD_PROJECT_KEYS=" + filepath.Join(keys, "signing-key.pub.pem"), "PLUGBOARD_ENCRYPTION_KEYS=" + keyRE.FindString(r.stdout),
			"PLUGBOARD_ADMIN_TOKEN=admin-token-0123456789abcdef"}, extraEnv...)...)
		g := startGateway(t, dir, env, args...)
		tok := strings.TrimSpace(runServeCmd(t, dir, serveEnv(), "token", "--user", "u1", "--key", filepath.Join(keys, "signing-key.pem")).stdout)
		req, _ := http.NewRequest("POST", g.base+"/projects/dev/sdk/credentials", bytes.NewReader([]byte(`{"integrationId":"acme","payload":{"api_key":"k"}}`)))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		return resp.StatusCode, body.String(), g
	}

	status, body, g := connect(api.URL, "", nil, "--mode", "production")
	if status != 502 || !strings.Contains(body, `"egress_refused"`) || strings.Contains(body, "127.0.0.1") {
		t.Errorf("production, default policy: %d %s", status, body)
	}
	if hits.Load() != 0 {
		t.Fatalf("the API on 127.0.0.1 got %d requests", hits.Load())
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(api.URL, "http://"), ":")
	logged := func(logs string) bool {
		return strings.Contains(logs, "level=WARN") && strings.Contains(logs, "egress refused") && strings.Contains(logs, "integration=acme") && strings.Contains(logs, "address=127.0.0.1:"+port)
	}
	// The log reaches the test through a pipe: give the copy a moment.
	testfix.EventuallySaw(t, "a warn log of the refusal", func() (bool, string) {
		logs := g.stderr.String()
		return logged(logs), logs
	})

	for name, c := range map[string]struct {
		config string
		env    []string
		args   []string
	}{
		"flag":        {"", nil, []string{"--mode", "production", "--egress-allow", "10.0.0.0/8, 127.0.0.0/8"}},
		"environment": {"", []string{"PLUGBOARD_EGRESS_ALLOW=127.0.0.1"}, []string{"--mode", "production"}},
		"config file": {"egressAllow: [\"127.0.0.0/8\"]\n", nil, []string{"--mode", "production"}},
	} {
		if status, body, _ := connect(api.URL, c.config, c.env, c.args...); status != 201 {
			t.Errorf("allowed by %s: %d %s", name, status, body)
		}
	}
	// Dev mode: literal loopback hosts work, 127.0.0.1 and localhost alike.
	for _, base := range []string{api.URL, strings.Replace(api.URL, "127.0.0.1", "localhost", 1)} {
		if status, body, _ := connect(base, "", nil, "--mode", "dev"); status != 201 {
			t.Errorf("dev mode, literal %s: %d %s", base, status, body)
		}
	}
	if hits.Load() != 5 {
		t.Errorf("the API got %d requests, want 5", hits.Load())
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "integrations.d", "acme.yaml"), manifest(api.URL))
	if r := runServeCmd(t, dir, serveEnv(), "serve", "--egress-allow", "10.0.0.0/33"); r.code != 2 || !strings.Contains(r.stderr, "--egress-allow") || !strings.Contains(r.stderr, "10.0.0.0/33") {
		t.Errorf("bad --egress-allow: %s", r)
	}
	writeFile(t, filepath.Join(dir, "plugboard.yaml"), "egressAllow: [\"localhost\"]\n")
	if r := runServeCmd(t, dir, serveEnv(), "serve"); r.code != 2 || !strings.Contains(r.stderr, "egressAllow") {
		t.Errorf("bad egressAllow in the config file: %s", r)
	}
}
