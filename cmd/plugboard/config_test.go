package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeConfigFile: settings come from plugboard.yaml unless the
// environment or a flag says otherwise; a bad file is a usage error with a
// located problem.
func TestServeConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "integrations.d"), "stripe")
	writeFile(t, filepath.Join(dir, "plugboard.yaml"), "# yaml-language-server: $schema=schemas/config.schema.json\nlog:\n  format: json\n  level: debug\nmanifests: integrations.d\n")
	// From the file: JSON logs.
	g := startGateway(t, dir, serveEnv())
	if !strings.Contains(g.stderr.String(), `"msg":"listening"`) {
		t.Errorf("the config file's log format was not used:\n%s", g.stderr)
	}
	// The environment wins over the file.
	g2 := startGateway(t, dir, serveEnv("PLUGBOARD_LOG_FORMAT=text"))
	if !strings.Contains(g2.stderr.String(), "msg=listening") {
		t.Errorf("PLUGBOARD_LOG_FORMAT did not win over the file:\n%s", g2.stderr)
	}
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "plugboard.yaml"), "listen: 127.0.0.1:0\nlogg:\n  format: json\n")
	r := runServeCmd(t, bad, serveEnv(), "serve")
	if r.code != 2 || !strings.Contains(r.stderr, "plugboard.yaml:2:1: logg: unknown field \"logg\" (did you mean \"log\"?)") {
		t.Errorf("bad config file: %s", r)
	}
	if r := runServeCmd(t, bad, serveEnv(), "serve", "--config", "missing.yaml"); r.code != 2 || !strings.Contains(r.stderr, "missing.yaml") {
		t.Errorf("missing explicit config file: %s", r)
	}
}

// TestKeysRotate: a credential stored under one encryption key is
// re-encrypted by `plugboard keys rotate` and then works with the new key
// alone.
func TestKeysRotate(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "k-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "integrations.d", "acme.yaml"), "id: acme\nname: Acme\ndescription: d\nauth:\n  type: api_key\n  inputs: [{key: api_key, label: Key, secret: true}]\napi:\n  baseUrl: "+api.URL+"\n  authorization: {type: header, name: X-Api-Key, value: \"{{inputs.api_key}}\"}\n  testEndpoint: /me\n")
	keyRE := regexp.MustCompile(`(?m)^[A-Za-z0-9_-]+:[A-Za-z0-9+/=_-]{40,}$`)
	gen := func() string {
		r := runServeCmd(t, dir, serveEnv(), "keys", "generate", "--out", t.TempDir())
		return keyRE.FindString(r.stdout)
	}
	oldKey, newKey := gen(), gen()
	g := startGateway(t, dir, serveEnv("PLUGBOARD_ENCRYPTION_KEYS="+oldKey), "--mode", "dev")
	tok := strings.TrimSpace(runServeCmd(t, dir, serveEnv(), "token", "--user", "u1").stdout)
	post := func(g *gatewayProcess) int {
		req, _ := http.NewRequest("POST", g.base+"/projects/dev/sdk/credentials", bytes.NewReader([]byte(`{"integrationId":"acme","payload":{"api_key":"k-123"}}`)))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(g); code != 201 {
		t.Fatalf("connect: %d", code)
	}
	g.signal(os.Interrupt)
	g.wait(10e9)
	r := runServeCmd(t, dir, serveEnv("PLUGBOARD_ENCRYPTION_KEYS="+newKey+","+oldKey), "keys", "rotate")
	if r.code != 0 || !strings.Contains(r.stdout, "re-encrypted 1 credential(s)") {
		t.Fatalf("rotate: %s", r)
	}
	g2 := startGateway(t, dir, serveEnv("PLUGBOARD_ENCRYPTION_KEYS="+newKey), "--mode", "dev")
	if resp := g2.do("GET", "/projects/dev/sdk/proxy/custom/acme/me", tok); resp.status != 200 || resp.body != `{"output":{"ok":true}}` {
		t.Fatalf("after rotation, with the new key only: %d %s", resp.status, resp.body)
	}
}

// TestServeDrainDelay: after SIGTERM the gateway keeps serving for the
// drain delay with /readyz at 503, then exits 0.
func TestServeDrainDelay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "integrations.d"), "stripe")
	g := startGateway(t, dir, serveEnv(), "--drain-delay", "1s")
	g.signal(os.Interrupt)
	deadline := time.Now().Add(900 * time.Millisecond)
	sawDraining := false
	for time.Now().Before(deadline) && !sawDraining {
		if r := g.do("GET", "/readyz", ""); r.status == http.StatusServiceUnavailable {
			sawDraining = g.do("GET", "/healthz", "").status == http.StatusOK
		}
	}
	if !sawDraining {
		t.Error("no draining window: /readyz never 503 while still serving")
	}
	if code := g.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestServeSecretsFromFiles: NAME_FILE variables read values from files,
// as container secrets are mounted.
func TestServeSecretsFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "integrations.d"), "stripe")
	env := productionEnv(t, dir)
	secrets := t.TempDir()
	for i, kv := range env {
		if name, v, _ := strings.Cut(kv, "="); name == "PLUGBOARD_ENCRYPTION_KEYS" {
			writeFile(t, filepath.Join(secrets, "keys"), v+"\n")
			env[i] = "PLUGBOARD_ENCRYPTION_KEYS_FILE=" + filepath.Join(secrets, "keys")
		}
	}
	writeFile(t, filepath.Join(secrets, "admin"), "file-admin-token-0123456789\n")
	env = append(env, "PLUGBOARD_ADMIN_TOKEN_FILE="+filepath.Join(secrets, "admin"))
	g := startGateway(t, dir, env, "--mode", "production")
	if r := g.do("GET", "/admin/v1/integrations", "file-admin-token-0123456789"); r.status != 200 {
		t.Fatalf("admin token from a file: %d %s", r.status, r.body)
	}
	if r := runServeCmd(t, dir, serveEnv("PLUGBOARD_ADMIN_TOKEN_FILE=/nonexistent/admin"), "serve", "--mode", "production"); r.code != 2 || !strings.Contains(r.stderr, "PLUGBOARD_ADMIN_TOKEN_FILE") {
		t.Errorf("missing secret file: %s", r)
	}
}

// TestServeAdminListener: with --admin-listen, /metrics and the admin API
// answer only there; the public listener refuses them.
func TestServeAdminListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "integrations.d"), "stripe")
	g := startGateway(t, dir, serveEnv("PLUGBOARD_ADMIN_TOKEN=admin-listener-token-0123"), "--admin-listen", "127.0.0.1:0", "--log-format", "json")
	m := regexp.MustCompile(`"msg":"admin listener[^"]*","addr":"([^"]+)"`).FindStringSubmatch(g.stderr.String())
	if m == nil {
		t.Fatalf("no admin listener logged:\n%s", g.stderr)
	}
	admin := "http://" + m[1]
	if r := g.do("GET", "/metrics", ""); r.status != 404 {
		t.Errorf("public /metrics: %d", r.status)
	}
	if r := g.do("GET", "/admin/v1/integrations", "admin-listener-token-0123"); r.status != 404 {
		t.Errorf("public admin API: %d", r.status)
	}
	if r := g.do("GET", "/v1/integrations", ""); r.status != 200 {
		t.Errorf("public metadata: %d", r.status)
	}
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", admin+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/metrics", "") != 200 || get("/admin/v1/integrations", "admin-listener-token-0123") != 200 || get("/readyz", "") != 200 {
		t.Error("the admin listener does not serve /metrics, the admin API and /readyz")
	}
	if get("/v1/integrations", "") != 404 {
		t.Error("the admin listener serves public routes")
	}
	if get("/debug/pprof/heap", "") != 404 {
		t.Error("profiles are served without --pprof")
	}
}

// TestServePprof: with --pprof, Go's profiles are served on the admin
// listener only, without the command line; without --admin-listen the
// flag is refused.
func TestServePprof(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "integrations.d"), "stripe")
	g := startGateway(t, dir, serveEnv("PLUGBOARD_ADMIN_TOKEN=admin-listener-token-0123"), "--admin-listen", "127.0.0.1:0", "--pprof", "--log-format", "json")
	m := regexp.MustCompile(`"msg":"admin listener[^"]*","addr":"([^"]+)"`).FindStringSubmatch(g.stderr.String())
	if m == nil {
		t.Fatalf("no admin listener logged:\n%s", g.stderr)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get("http://" + m[1] + "/debug/pprof/goroutine?debug=1"); status != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("goroutine profile on the admin listener: %d %.200s", status, body)
	}
	if status, _ := get("http://" + m[1] + "/debug/pprof/cmdline"); status == 200 {
		t.Error("the command line is served")
	}
	if r := g.do("GET", "/debug/pprof/heap", ""); r.status != 404 {
		t.Errorf("public listener serves profiles: %d", r.status)
	}
	if r := runServeCmd(t, t.TempDir(), serveEnv(), "serve", "--pprof"); r.code != 2 || !strings.Contains(r.stderr, "--pprof needs --admin-listen") {
		t.Errorf("--pprof alone: exit %d, %s", r.code, r.stderr)
	}
}

// TestServeProjectDisplayAndTokenLifetime: the project's display name and
// logo (flags, or the config file's projects) appear on the Connect
// Portal; --max-user-token-lifetime refuses longer user tokens (24h by
// default, 0 for no limit).
func TestServeProjectDisplayAndTokenLifetime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "integrations.d", "acme.yaml"), "id: acme\nname: Acme\ndescription: d\nauth:\n  type: api_key\n  inputs: [{key: api_key, label: Key, secret: true}]\napi:\n  baseUrl: https://api.acme.test\n  authorization: {type: header, name: X-Api-Key, value: \"{{inputs.api_key}}\"}\n")
	writeFile(t, filepath.Join(dir, "logo.svg"), `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 2"><rect width="2" height="2"/></svg>`)
	portal := func(g *gatewayProcess, token string) string {
		req, _ := http.NewRequest("POST", g.base+"/projects/dev/sdk/connect-links", strings.NewReader(`{"integrationId":"custom.acme"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var link struct{ URL string }
		_ = json.NewDecoder(resp.Body).Decode(&link)
		resp.Body.Close()
		jar, _ := cookiejar.New(nil)
		resp, err = (&http.Client{Jar: jar}).Get(link.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	g := startGateway(t, dir, serveEnv(), "--mode", "dev", "--project-name", "Acme CRM", "--project-logo", "logo.svg")
	tok := strings.TrimSpace(runServeCmd(t, dir, serveEnv(), "token", "--user", "u1").stdout)
	if page := portal(g, tok); !strings.Contains(page, `id="app-name">Acme CRM<`) || !strings.Contains(page, `src="data:image/svg&#43;xml;base64,`) || !strings.Contains(page, `id="account">u1<`) {
		t.Errorf("portal page does not name the app and account:\n%s", page)
	}
	long := strings.TrimSpace(runServeCmd(t, dir, serveEnv(), "token", "--user", "u1", "--ttl", "48h").stdout)
	if r := g.get("/projects/dev/sdk/me", long); r.status != 401 || !strings.Contains(r.body, "token_lifetime_exceeded") || !strings.Contains(r.body, "exceeds the maximum of 24h0m0s") {
		t.Errorf("48h token with the default limit: %d %s", r.status, r.body)
	}
	g.signal(os.Interrupt)
	g.wait(10e9)
	g = startGateway(t, dir, serveEnv("PLUGBOARD_MAX_USER_TOKEN_LIFETIME=0"), "--mode", "dev")
	if r := g.get("/projects/dev/sdk/me", long); r.status != 200 {
		t.Errorf("48h token with no limit: %d %s", r.status, r.body)
	}
	g.signal(os.Interrupt)
	g.wait(10e9)

	// The config file's projects carry name and logo (relative to the file).
	writeFile(t, filepath.Join(dir, "plugboard.yaml"), "projects:\n  - id: dev\n    keys: [.plugboard/signing-key.pub.pem]\n    name: Shop From File\n    logo: logo.svg\n")
	g = startGateway(t, dir, serveEnv(), "--mode", "dev")
	if page := portal(g, tok); !strings.Contains(page, `id="app-name">Shop From File<`) || !strings.Contains(page, `src="data:image/svg&#43;xml;base64,`) {
		t.Errorf("portal page with the config file's project:\n%s", page)
	}
	// --project-name cannot silently lose to the file's projects.
	if r := runServeCmd(t, dir, serveEnv(), "serve", "--listen", "127.0.0.1:0", "--mode", "dev", "--project-name", "X"); r.code != 2 || !strings.Contains(r.stderr, "config file's projects take name and logo keys") {
		t.Errorf("--project-name with file projects: %s", r)
	}
	writeFile(t, filepath.Join(dir, "plugboard.yaml"), "projects:\n  - id: dev\n    keys: [.plugboard/signing-key.pub.pem]\n    logo: plugboard.yaml\n")
	if r := runServeCmd(t, dir, serveEnv(), "serve", "--listen", "127.0.0.1:0", "--mode", "dev"); r.code == 0 || !strings.Contains(r.stderr, "project dev: logo:") {
		t.Errorf("a logo that is not an image: %s", r)
	}
}
