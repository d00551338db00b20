//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// These tests run `plugboard serve` as a user or an orchestrator would: a
// real process on a free loopback port, driven by files, signals and HTTP.
// They share one binary, built by testfix.Plugboard.

// serveEnv is the test process's environment without anything that would
// configure the gateway behind the test's back, plus extra NAME=value pairs.
func serveEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PLUGBOARD_") || name == "GITHUB_CLIENT_ID" || name == "GITHUB_CLIENT_SECRET" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// productionEnv is serveEnv plus what production mode needs besides an
// admin token: a project public key and an encryption key, generated with
// `plugboard keys generate` as an operator would.
func productionEnv(t *testing.T, dir string, extra ...string) []string {
	t.Helper()
	keysDir := filepath.Join(t.TempDir(), "keys")
	r := runServeCmd(t, dir, serveEnv(), "keys", "generate", "--out", keysDir)
	if r.code != 0 {
		t.Fatalf("keys generate: %s", r)
	}
	m := regexp.MustCompile(`(?m)^[A-Za-z0-9_-]+:[A-Za-z0-9+/=_-]{40,}$`).FindString(r.stdout)
	if m == "" {
		t.Fatalf("keys generate printed no encryption key: %s", r)
	}
	return serveEnv(append([]string{"PLUGBOARD_PROJECT_KEYS=" + filepath.Join(keysDir, "signing-key.pub.pem"), "PLUGBOARD_ENCRYPTION_KEYS=" + m}, extra...)...)
}

// gatewayProcess is a running `plugboard serve`.
type gatewayProcess struct {
	t              *testing.T
	proc           *testfix.Process
	base           string // http://127.0.0.1:<port>
	stdout, stderr *testfix.Output
	responses      *testfix.Output // every response body, for leak checks
	client         *http.Client
}

// startGateway runs `plugboard serve args…` in dir with env (see serveEnv)
// and waits until it listens. Without a --listen argument it listens on
// 127.0.0.1 on a free port. The process is killed when the test ends.
func startGateway(t *testing.T, dir string, env []string, args ...string) *gatewayProcess {
	t.Helper()
	hasListen := false
	for _, a := range args {
		if a == "--listen" || strings.HasPrefix(a, "--listen=") {
			hasListen = true
		}
	}
	if !hasListen {
		args = append([]string{"--listen", "127.0.0.1:0"}, args...)
	}
	cmd := exec.Command(testfix.Plugboard(t), append([]string{"serve"}, args...)...)
	cmd.Dir, cmd.Env = dir, env
	p := testfix.Start(t, cmd)
	_, port, err := net.SplitHostPort(p.Listening())
	if err != nil {
		t.Fatalf("listening address: %v", err)
	}
	return &gatewayProcess{t: t, proc: p, base: "http://127.0.0.1:" + port, stdout: p.Stdout, stderr: p.Stderr,
		responses: &testfix.Output{}, client: &http.Client{Timeout: 5 * time.Second}}
}

// signal sends sig to the gateway.
func (g *gatewayProcess) signal(sig os.Signal) {
	g.t.Helper()
	if err := g.proc.Cmd.Process.Signal(sig); err != nil {
		g.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits up to timeout for the process to exit and returns its exit code.
func (g *gatewayProcess) wait(timeout time.Duration) int {
	g.t.Helper()
	return g.proc.Wait(timeout)
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request; token, if not empty, is sent as the admin bearer token.
func (g *gatewayProcess) do(method, path, token string) response {
	g.t.Helper()
	req, err := http.NewRequest(method, g.base+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v\n--- stderr:\n%s", method, path, err, g.stderr)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	_, _ = g.responses.Write(append(b, '\n'))
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (g *gatewayProcess) get(path, token string) response {
	g.t.Helper()
	return g.do(http.MethodGet, path, token)
}

// getJSON GETs path, wants 200 and decodes the body into v.
func (g *gatewayProcess) getJSON(path, token string, v any) {
	g.t.Helper()
	r := g.get(path, token)
	if r.status != http.StatusOK {
		g.t.Fatalf("GET %s: status %d, body %s", path, r.status, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		g.t.Fatalf("GET %s: %v\n%s", path, err, r.body)
	}
}

// adminView is the part of GET /admin/v1/integrations the tests look at.
type adminView struct {
	Revision     string `json:"revision"`
	Integrations int    `json:"integrations"`
	LastReload   struct {
		Trigger string `json:"trigger"`
		Success bool   `json:"success"`
	} `json:"lastReload"`
	Files []struct {
		File     string         `json:"file"`
		ID       string         `json:"id"`
		Status   string         `json:"status"`
		Hash     string         `json:"hash"`
		Problems []problemEntry `json:"problems"`
	} `json:"files"`
}

type problemEntry struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Path     string `json:"path"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

func (g *gatewayProcess) admin(token string) adminView {
	g.t.Helper()
	var v adminView
	g.getJSON("/admin/v1/integrations", token, &v)
	return v
}

// fileStatus returns the status and error problems of the file named base.
func (v adminView) fileStatus(base string) (status string, errs []problemEntry) {
	for _, f := range v.Files {
		if filepath.Base(f.File) == base {
			for _, p := range f.Problems {
				if p.Severity == "error" {
					errs = append(errs, p)
				}
			}
			return f.Status, errs
		}
	}
	return "missing", nil
}

func (v adminView) hash(base string) string {
	for _, f := range v.Files {
		if filepath.Base(f.File) == base {
			return f.Hash
		}
	}
	return ""
}

// locate returns the 1-based line and column of value on the line of path
// that contains text.
func locate(t *testing.T, path, text, value string) (line, col int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if j := strings.Index(l, text); j >= 0 {
			return i + 1, j + strings.Index(text, value) + 1
		}
	}
	t.Fatalf("%s has no line containing %q", path, text)
	return 0, 0
}

type publicView struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Icon        string `json:"icon"`
}

func (g *gatewayProcess) description(id string) string {
	g.t.Helper()
	var v publicView
	g.getJSON("/v1/integrations/"+id, "", &v)
	return v.Description
}

// editFile rewrites a file the way most editors save: a temporary file
// renamed over the original.
func editFile(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := edit(string(b))
	if changed == string(b) {
		t.Fatalf("edit of %s changed nothing", path)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// replaceLine replaces the line of s starting with prefix (after indentation).
func replaceLine(s, prefix, with string) string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		if strings.HasPrefix(strings.TrimLeft(l, " "), prefix) {
			ls[i] = l[:len(l)-len(strings.TrimLeft(l, " "))] + with
		}
	}
	return strings.Join(ls, "\n")
}

// metricLine returns the sample line of the metric series (name with its
// labels, as exposed), or "" if it is absent.
func metricLine(metrics, series string) string {
	for _, l := range lines(metrics) {
		if strings.HasPrefix(l, series+" ") {
			return l
		}
	}
	return ""
}

// runServeCmd runs a serve command that is expected to exit by itself; it
// fails the test instead of hanging if the gateway starts serving.
func runServeCmd(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	bin := testfix.Plugboard(t) // built once, before the 10 s start: a slow build is not a hang
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("plugboard %v did not exit within 10s\n--- stderr:\n%s", args, stderr.String())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running plugboard %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

func randomSecret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// shippedFolder returns a temp working folder with integrations.d holding
// the shipped github and stripe manifests and icons.
func shippedFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "integrations.d"), "github", "stripe")
	return dir
}

const devBanner = "is running in dev mode"

func TestServeDevHotReload(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	g := startGateway(t, dir, serveEnv(), "--demo=false") // the folder's manifests only

	// Dev mode generates an admin token only the owner can read.
	tokenPath := filepath.Join(dir, ".plugboard", "admin-token")
	fi, err := os.Stat(tokenPath)
	if err != nil {
		t.Fatalf("dev mode should create %s: %v", tokenPath, err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token file mode = %v, want 0600", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Dir(tokenPath)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data folder should be 0700, got %v (%v)", fi.Mode().Perm(), err)
	}
	b, _ := os.ReadFile(tokenPath)
	token := strings.TrimSpace(string(b))
	if len(token) < 16 {
		t.Fatalf("admin token %q is shorter than 16 characters", token)
	}
	if strings.Contains(g.stderr.String(), token) {
		t.Errorf("the banner should point at the token file, not print the token:\n%s", g.stderr)
	}
	if r := g.get("/healthz", ""); r.status != 200 || r.body != "ok\n" {
		t.Errorf("/healthz: %d %q", r.status, r.body)
	}
	if r := g.get("/readyz", ""); r.status != 200 {
		t.Errorf("/readyz: %d %q", r.status, r.body)
	}

	// Links use the port the gateway really listens on.
	var list struct {
		Revision     string       `json:"revision"`
		Integrations []publicView `json:"integrations"`
	}
	g.getJSON("/v1/integrations", "", &list)
	if len(list.Integrations) != 2 || list.Revision == "" {
		t.Fatalf("want 2 integrations and a revision, got %+v", list)
	}
	if want := g.base + "/v1/integrations/github/icon.svg"; list.Integrations[0].Icon != want {
		t.Errorf("icon link = %q, want %q", list.Integrations[0].Icon, want)
	}
	icon := g.get("/v1/integrations/github/icon.svg", "")
	if icon.status != 200 || icon.header.Get("Content-Type") != "image/svg+xml" ||
		!strings.Contains(icon.header.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(icon.body, "<svg") {
		t.Errorf("icon: %d %v %.80q", icon.status, icon.header, icon.body)
	}

	// A valid edit is served within moments of saving.
	manifestPath := filepath.Join(dir, "integrations.d", "github.yaml")
	before := g.admin(token)
	const edited = "Edited while the gateway runs."
	editFile(t, manifestPath, func(s string) string { return replaceLine(s, "description:", "description: "+edited) })
	testfix.EventuallySaw(t, "edited description served", func() (bool, string) {
		d := g.description("github")
		return d == edited, d
	})
	after := g.admin(token)
	// (A later no-op reload may follow the one that updated github, so
	// compare hashes rather than the last report's changes.)
	if after.Revision == before.Revision || after.LastReload.Trigger != "file change" || !after.LastReload.Success ||
		after.hash("github.yaml") == before.hash("github.yaml") || after.hash("stripe.yaml") != before.hash("stripe.yaml") {
		t.Errorf("admin API after a valid edit: before %+v\nafter %+v", before, after)
	}
	if st, errs := after.fileStatus("github.yaml"); st != "ok" || len(errs) != 0 {
		t.Errorf("github.yaml: status %s, errors %+v", st, errs)
	}

	// An invalid edit leaves the last good version serving, marked stale,
	// with the problem located in the file.
	editFile(t, manifestPath, func(s string) string {
		s = replaceLine(s, "description:", "description: Never served.")
		return replaceLine(s, "testEndpoint:", "testEndpoint: user")
	})
	var problems []problemEntry
	testfix.EventuallySaw(t, "github.yaml stale", func() (bool, string) {
		v := g.admin(token)
		st, errs := v.fileStatus("github.yaml")
		problems = errs
		return st == "stale", st
	})
	line, col := locate(t, manifestPath, "testEndpoint: user", "user")
	if len(problems) != 1 || problems[0].Path != "api.testEndpoint" || problems[0].Line != line || problems[0].Column != col ||
		filepath.Base(problems[0].File) != "github.yaml" || problems[0].Message == "" {
		t.Errorf("want one error located at github.yaml:%d:%d api.testEndpoint, got %+v", line, col, problems)
	}
	if d := g.description("github"); d != edited {
		t.Errorf("a stale integration should serve its last good description %q, got %q", edited, d)
	}
	if v := g.admin(token); v.LastReload.Success || v.Integrations != 2 {
		t.Errorf("want an unsuccessful reload still serving 2 integrations, got %+v", v.LastReload)
	}
	if st, _ := g.admin(token).fileStatus("stripe.yaml"); st != "ok" {
		t.Errorf("stripe.yaml should stay ok, got %s", st)
	}
	testfix.EventuallySaw(t, "problem logged", func() (bool, string) {
		s := g.stderr.String()
		return strings.Contains(s, fmt.Sprintf("github.yaml:%d:%d: api.testEndpoint", line, col)), s
	})

	m := g.get("/metrics", "").body
	for series, want := range map[string]string{
		"plugboard_manifest_last_reload_successful":                "0",
		"plugboard_integrations_loaded":                            "2",
		`plugboard_manifest_file_valid{file="github.yaml"}`:        "0",
		`plugboard_manifest_file_valid{file="stripe.yaml"}`:        "1",
		`plugboard_manifest_file_errors{file="github.yaml"}`:       "1",
		`plugboard_manifest_reloads_total{result="success"}`:       "",
		`plugboard_manifest_reloads_total{result="error"}`:         "",
		"plugboard_manifest_last_reload_success_timestamp_seconds": "",
	} {
		l := metricLine(m, series)
		if l == "" || (want != "" && l != series+" "+want) {
			t.Errorf("/metrics: want %s %s, got %q", series, want, l)
		}
	}
	if metricLine(m, "go_goroutines") == "" || !strings.Contains(m, "\nprocess_") {
		t.Errorf("/metrics should have the Go and process collectors' metrics")
	}

	if n := strings.Count(g.stderr.String(), devBanner); n != 1 {
		t.Errorf("the dev banner should be printed once, got %d times:\n%s", n, g.stderr)
	}
	if g.stdout.String() != "" {
		t.Errorf("serve should print nothing to stdout, got %q", g.stdout)
	}

	// A restart keeps the generated admin token.
	g.signal(syscall.SIGTERM)
	if code := g.wait(5 * time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, g.stderr)
	}
	g = startGateway(t, dir, serveEnv())
	if r := g.get("/admin/v1/integrations", token); r.status != 200 {
		t.Errorf("after a restart the stored admin token should still work, got %d %s", r.status, r.body)
	}
}

func TestServeSIGHUPReloads(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	const token = "sighup-admin-token-0123456789"
	g := startGateway(t, dir, serveEnv(), "--poll-interval", "1h", "--admin-token", token)
	if v := g.admin(token); v.LastReload.Trigger != "startup" {
		t.Fatalf("want the startup load as the last reload, got %+v", v.LastReload)
	}
	g.signal(syscall.SIGHUP)
	testfix.EventuallySaw(t, "reload triggered by SIGHUP", func() (bool, string) {
		tr := g.admin(token).LastReload.Trigger
		return tr == "SIGHUP", tr
	})
	m := g.get("/metrics", "").body
	if l := metricLine(m, `plugboard_manifest_reloads_total{result="success"}`); l != `plugboard_manifest_reloads_total{result="success"} 2` {
		t.Errorf("want 2 successful reloads (startup, SIGHUP), got %q", l)
	}
	// SIGHUP reloads; it does not stop the gateway.
	if r := g.get("/readyz", ""); r.status != 200 {
		t.Errorf("/readyz after SIGHUP: %d", r.status)
	}
}

func TestServeAdminAuth(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	const token = "admin-auth-token-0123456789"
	g := startGateway(t, dir, serveEnv(), "--admin-token", token)

	for _, tc := range []struct {
		name, method, path, auth string
	}{
		{"reload without token", "POST", "/admin/v1/reload", ""},
		{"reload with a wrong token", "POST", "/admin/v1/reload", "Bearer not-the-admin-token-0000"},
		{"reload with basic auth", "POST", "/admin/v1/reload", "Basic " + token},
		{"reload with the token as a prefix", "POST", "/admin/v1/reload", "Bearer " + token[:len(token)-1]},
		{"list without token", "GET", "/admin/v1/integrations", ""},
	} {
		req, _ := http.NewRequest(tc.method, g.base+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Code, Message string }
		if resp.StatusCode != 401 || json.Unmarshal(body, &e) != nil || e.Code != "unauthorized" || e.Message == "" {
			t.Errorf("%s: want 401 with JSON {code: unauthorized, message}, got %d %s", tc.name, resp.StatusCode, body)
		}
		if resp.Header.Get("WWW-Authenticate") == "" || resp.Header.Get("X-Plugboard-Error") != "unauthorized" {
			t.Errorf("%s: want WWW-Authenticate and X-Plugboard-Error headers, got %v", tc.name, resp.Header)
		}
	}

	r := g.do("POST", "/admin/v1/reload", token)
	var rep struct {
		Trigger  string            `json:"trigger"`
		Success  bool              `json:"success"`
		Revision string            `json:"revision"`
		Problems []json.RawMessage `json:"problems"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &rep) != nil {
		t.Fatalf("reload with the token: %d %s", r.status, r.body)
	}
	if rep.Trigger != "admin API" || !rep.Success || rep.Revision == "" || rep.Problems == nil {
		t.Errorf("reload report: %s", r.body)
	}
	if g.admin(token).LastReload.Trigger != "admin API" {
		t.Errorf("the admin reload should be the last reload")
	}

	// Unknown routes answer with the same error shape.
	nf := g.get("/v1/nope", "")
	if nf.status != 404 || !strings.Contains(nf.body, `"code":"not_found"`) {
		t.Errorf("unknown route: %d %s", nf.status, nf.body)
	}
	if r := g.get("/v1/integrations/nope", ""); r.status != 404 || !strings.Contains(r.body, `"code":"integration_not_found"`) {
		t.Errorf("unknown integration: %d %s", r.status, r.body)
	}
}

func TestServeProductionAdminToken(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	testfix.Plugboard(t) // built before the clock starts
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"non-loopback listen", nil, []string{"--listen", "0.0.0.0:0"}},
		{"explicit production", nil, []string{"--mode", "production", "--listen", "127.0.0.1:0"}},
		{"token too short", []string{"PLUGBOARD_ADMIN_TOKEN=short"}, []string{"--listen", "0.0.0.0:0"}},
		{"mode from env", []string{"PLUGBOARD_MODE=production"}, []string{"--listen", "127.0.0.1:0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := runServeCmd(t, dir, serveEnv(tc.env...), append([]string{"serve"}, tc.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, "PLUGBOARD_ADMIN_TOKEN") {
				t.Errorf("want a non-zero exit naming PLUGBOARD_ADMIN_TOKEN, got %s", r)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("refusing to start took %v", d)
			}
			if strings.Contains(r.stderr, devBanner) {
				t.Errorf("no dev banner in production: %s", r)
			}
		})
	}

	t.Run("token from env", func(t *testing.T) {
		t.Parallel()
		const token = "production-env-token-0123456789"
		g := startGateway(t, dir, productionEnv(t, dir, "PLUGBOARD_ADMIN_TOKEN="+token), "--listen", "0.0.0.0:0")
		if s := g.stderr.String(); !strings.Contains(s, "mode=production") || strings.Contains(s, devBanner) {
			t.Errorf("want production mode without a banner, got:\n%s", s)
		}
		if r := g.get("/readyz", ""); r.status != 200 {
			t.Errorf("/readyz: %d", r.status)
		}
		if r := g.get("/admin/v1/integrations", token); r.status != 200 {
			t.Errorf("admin API with the env token: %d %s", r.status, r.body)
		}
		if _, err := os.Stat(filepath.Join(dir, ".plugboard", "admin-token")); err == nil {
			t.Errorf("production mode should not generate an admin token")
		}
	})

	t.Run("flag wins over env", func(t *testing.T) {
		t.Parallel()
		const envToken, flagToken = "env-token-0123456789abcdef", "flag-token-0123456789abcdef"
		g := startGateway(t, dir, productionEnv(t, dir, "PLUGBOARD_LOG_FORMAT=text", "PLUGBOARD_ADMIN_TOKEN="+envToken),
			"--mode", "production", "--log-format", "json", "--admin-token", flagToken)
		for _, l := range lines(g.stderr.String()) {
			if !json.Valid([]byte(l)) {
				t.Errorf("--log-format json should win over PLUGBOARD_LOG_FORMAT=text; got line %q", l)
			}
		}
		if r := g.get("/admin/v1/integrations", envToken); r.status != 401 {
			t.Errorf("the env token should be overridden by --admin-token, got %d", r.status)
		}
		if r := g.get("/admin/v1/integrations", flagToken); r.status != 200 {
			t.Errorf("the flag token should work, got %d", r.status)
		}
	})

	t.Run("env applies", func(t *testing.T) {
		t.Parallel()
		// The manifest folder and the log format come from the environment.
		wd := t.TempDir()
		copyShipped(t, filepath.Join(wd, "elsewhere"), "stripe")
		g := startGateway(t, wd, serveEnv("PLUGBOARD_LOG_FORMAT=json", "PLUGBOARD_MANIFESTS=elsewhere"))
		var sawListening bool
		for _, l := range lines(g.stderr.String()) {
			if strings.HasPrefix(l, "{") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Errorf("bad JSON log line %q", l)
				}
				sawListening = sawListening || (rec["msg"] == "listening" && rec["manifests"] == "elsewhere")
			}
		}
		if !sawListening {
			t.Errorf("want a JSON listening record with manifests=elsewhere, got:\n%s", g.stderr)
		}
		if d := g.description("stripe"); d == "" {
			t.Errorf("stripe should be served from PLUGBOARD_MANIFESTS")
		}
	})
}

func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := shippedFolder(t)
			// Access lines wait for their batch up to an hour here: the
			// shutdown must write them, before its own records.
			g := startGateway(t, dir, serveEnv(), "--shutdown-grace", "3s", "--access-log-flush", "1h")
			if r := g.get("/readyz", ""); r.status != 200 {
				t.Fatalf("/readyz: %d", r.status)
			}
			if r := g.get("/no-such-route", ""); r.status != 404 {
				t.Fatalf("/no-such-route: %d", r.status)
			}
			start := time.Now()
			g.signal(sig)
			if code := g.wait(4 * time.Second); code != 0 {
				t.Errorf("want exit 0 after %v, got %d\n%s", sig, code, g.stderr)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("with nothing in flight, shutdown should not wait out the grace; took %v", d)
			}
			s := g.stderr.String()
			if i, j := strings.Index(s, "shutting down"), strings.Index(s, "stopped"); i < 0 || j < i {
				t.Errorf("want \"shutting down\" then \"stopped\" in the log, got:\n%s", s)
			}
			if i, j := strings.Index(s, "route=unmatched status=404"), strings.Index(s, "shutting down"); i < 0 || j < i {
				t.Errorf("want the access line of /no-such-route before \"shutting down\", got:\n%s", s)
			}
			if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(g.base, "http://"), time.Second); err == nil {
				_ = conn.Close()
				t.Errorf("the port is still open after exit")
			}
		})
	}
}

// TestServeSecretsStayOut drives a production gateway through valid and
// invalid edits and every route, with debug JSON logs, and checks that no
// secret shows up in anything it prints or answers.
func TestServeSecretsStayOut(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"env", "file"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			dir := shippedFolder(t)
			manifests := filepath.Join(dir, "integrations.d")
			clientSecret := randomSecret(t, "ghsecret-")
			literal := randomSecret(t, "literal-")
			token := randomSecret(t, "admin-")
			env := productionEnv(t, dir, "PLUGBOARD_ADMIN_TOKEN="+token, "GITHUB_CLIENT_ID=Iv1.plugboardtestclient")
			if source == "env" {
				env = append(env, "GITHUB_CLIENT_SECRET="+clientSecret)
			} else {
				// A Kubernetes Secret mounted beside the manifests.
				writeFile(t, filepath.Join(manifests, "github-client-secret"), clientSecret+"\n")
				editFile(t, filepath.Join(manifests, "github.yaml"), func(s string) string {
					return replaceLine(s, "clientSecret:", "clientSecret: ${file:github-client-secret}")
				})
			}
			g := startGateway(t, dir, env, "--mode", "production", "--log-format", "json", "--log-level", "debug")

			hitAll := func() {
				t.Helper()
				for _, p := range []string{"/healthz", "/readyz", "/metrics", "/v1/integrations", "/v1/integrations/github",
					"/v1/integrations/custom.github", "/v1/integrations/github/icon.svg", "/v1/integrations/stripe/icon.svg", "/nope?token=x"} {
					g.get(p, "")
				}
				g.get("/admin/v1/integrations", token)
				g.get("/admin/v1/integrations", "wrong-"+token[:8])
				g.do("POST", "/admin/v1/reload", token)
			}
			// wantGithub waits until github.yaml has status, description is
			// served, and, if errPath is set, the file has an error there.
			wantGithub := func(status, description, errPath string) {
				t.Helper()
				testfix.EventuallySaw(t, "github.yaml "+status+" serving "+description, func() (bool, string) {
					st, errs := g.admin(token).fileStatus("github.yaml")
					d := g.description("github")
					located := errPath == "" && len(errs) == 0 || len(errs) == 1 && errs[0].Path == errPath && errs[0].Line > 0
					return st == status && d == description && located, st + " " + d + " " + jsonString(errs)
				})
				hitAll()
			}

			const original = "Repositories, issues, pull requests and users on GitHub."
			wantGithub("ok", original, "")
			path := filepath.Join(manifests, "github.yaml")
			editFile(t, path, func(s string) string { return replaceLine(s, "description:", "description: Valid edit.") })
			wantGithub("ok", "Valid edit.", "")
			good, _ := os.ReadFile(path)

			for _, bad := range []struct {
				name, line, with, errPath string
			}{
				{"bad test endpoint", "testEndpoint:", "testEndpoint: user", "api.testEndpoint"},
				{"literal secret", "clientSecret:", "clientSecret: " + literal, "auth.oauth2.clientSecret"},
				{"partial reference", "clientSecret:", "clientSecret: x${GITHUB_CLIENT_SECRET}", "auth.oauth2.clientSecret"},
				{"literal header", "Accept:", "Authorization: token " + literal, "api.headers.Authorization"},
				{"unset variable", "clientSecret:", "clientSecret: ${GITHUB_TEST_UNSET_SECRET}", "auth.oauth2.clientSecret"},
			} {
				editFile(t, path, func(s string) string {
					return replaceLine(replaceLine(s, "description:", "description: Never served."), bad.line, bad.with)
				})
				wantGithub("stale", "Valid edit.", bad.errPath)
				writeFile(t, path, string(good))
				wantGithub("ok", "Valid edit.", "")
			}
			g.signal(syscall.SIGHUP)
			g.signal(syscall.SIGTERM)
			if code := g.wait(5 * time.Second); code != 0 {
				t.Errorf("SIGTERM: exit %d", code)
			}

			out := map[string]string{"stdout": g.stdout.String(), "stderr": g.stderr.String(), "responses": g.responses.String()}
			if !strings.Contains(out["stderr"], `"level":"DEBUG"`) || !strings.Contains(out["responses"], "plugboard_http_requests_total") {
				t.Fatalf("the test should have seen debug logs and metrics:\n%s", out["stderr"])
			}
			for where, text := range out {
				for what, secret := range map[string]string{"client secret": clientSecret, "literal secret": literal, "admin token": token} {
					// The random part alone, in case a prefix is cut or masked.
					core := secret[strings.LastIndex(secret, "-")+1:]
					if strings.Contains(text, core) {
						t.Errorf("the %s appears in %s:\n%s", what, where, text)
					}
				}
			}
		})
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestServeUsage(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })

	tests := []struct {
		name       string
		env        []string
		args       []string
		code       int
		wantStderr string
	}{
		{"unknown flag", nil, []string{"--bogus"}, 2, "plugboard serve: unknown flag --bogus\nRun `plugboard serve --help` for its flags.\n"},
		{"misspelt flag", nil, []string{"--listn", "127.0.0.1:0"}, 2, "unknown flag --listn (did you mean --listen?)"},
		{"misspelt long flag", nil, []string{"--max-connections-per-usr", "3"}, 2, "(did you mean --max-connections-per-user?)"},
		{"missing flag value", nil, []string{"--shutdown-grace"}, 2, "flag needs an argument: --shutdown-grace"},
		{"bad duration", nil, []string{"--poll-interval", "soon"}, 2, `invalid value "soon" for flag --poll-interval`},
		{"unexpected argument", nil, []string{"integrations.d"}, 2, `unexpected argument "integrations.d"`},
		{"bad mode", nil, []string{"--mode", "staging"}, 2, `--mode "staging"`},
		{"bad log format", nil, []string{"--log-format", "xml"}, 2, `--log-format "xml"`},
		{"bad log level", nil, []string{"--log-level", "loud"}, 2, `--log-level "loud"`},
		{"bad listen address", nil, []string{"--listen", "nonsense"}, 2, `--listen "nonsense"`},
		{"bad env value", []string{"PLUGBOARD_POLL_INTERVAL=soon"}, nil, 2, "PLUGBOARD_POLL_INTERVAL"},
		{"bad rate", nil, []string{"--rate-connect", "10 per minute"}, 2, "want COUNT/PERIOD"},
		{"bad rate in env", []string{"PLUGBOARD_RATE_CONNECT_IP=5/fortnight"}, nil, 2, "PLUGBOARD_RATE_CONNECT_IP"},
		{"bad trusted proxies", nil, []string{"--trusted-proxies", "10.0.0.0/8,proxy.local"}, 2, `--trusted-proxies: "proxy.local"`},
		{"negative cap", nil, []string{"--max-connections-per-user", "-1"}, 2, "--max-connections-per-user -1"},
		{"missing manifest folder", nil, []string{"--listen", "127.0.0.1:0", "--manifests", "nope.d"}, 1, "PLUGBOARD_MANIFESTS"},
		{"port in use", nil, []string{"--listen", busy.Addr().String()}, 1, "address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runServeCmd(t, dir, serveEnv(tt.env...), append([]string{"serve"}, tt.args...)...)
			wantCode(t, r, tt.code)
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr should contain %q, got %s", tt.wantStderr, r)
			}
			if r.stdout != "" {
				t.Errorf("stdout should be empty, got %s", r)
			}
		})
	}

	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"help", "serve"}, {"serve", "--listen", "0.0.0.0:1", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := runServeCmd(t, dir, serveEnv(), args...)
			wantCode(t, r, 0)
			for _, w := range []string{"Usage: plugboard serve", "\n  --listen string\n", "--manifests", "--admin-token", "--shutdown-grace", "PLUGBOARD_", "/admin/v1/reload"} {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help should mention %q, got %s", w, r)
				}
			}
			if r.stderr != "" {
				t.Errorf("help should print nothing to stderr, got %s", r)
			}
		})
	}
}

// A fresh dev start at the default log level prints none of River's info
// records (its migrations, the client starting and stopping); they are
// there at --log-level debug, as debug records.
func TestServeDevRiverQuietAtInfo(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"", "debug"} {
		t.Run("level="+level, func(t *testing.T) {
			t.Parallel()
			args := []string{"--mode", "dev", "--shutdown-grace", "3s"}
			if level != "" {
				args = append(args, "--log-level", level)
			}
			g := startGateway(t, shippedFolder(t), serveEnv(), args...)
			if r := g.get("/readyz", ""); r.status != 200 {
				t.Fatalf("/readyz: %d", r.status)
			}
			g.signal(syscall.SIGTERM)
			if code := g.wait(5 * time.Second); code != 0 {
				t.Fatalf("exit %d\n%s", code, g.stderr)
			}
			var river []string
			for _, l := range lines(g.stderr.String()) {
				if strings.Contains(l, "component=river") {
					river = append(river, l)
				}
			}
			switch level {
			case "":
				if len(river) > 0 {
					t.Errorf("River's records at the default level:\n%s", strings.Join(river, "\n"))
				}
			case "debug":
				joined := strings.Join(river, "\n")
				if !strings.Contains(joined, `level=DEBUG msg="rivermigrate.Migrator[*sql.Tx]: Applied migration"`) {
					t.Errorf("want River's migrations as debug records at --log-level debug, got:\n%s", joined)
				}
				if strings.Contains(joined, "level=INFO") {
					t.Errorf("River's info records are logged at debug, got:\n%s", joined)
				}
			}
		})
	}
}
