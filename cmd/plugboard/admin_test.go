package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// connectDemoKey connects user to demo-apikey through the SDK's API, as an
// app would, and returns the user token.
func connectDemoKey(t *testing.T, g *gatewayProcess, dir, user string) string {
	t.Helper()
	r := runServeCmd(t, dir, serveEnv(), "token", "--user", user)
	if r.code != 0 {
		t.Fatalf("token: %s", r)
	}
	tok := strings.TrimSpace(r.stdout)
	body := `{"integrationId":"custom.demo-apikey","payload":{"api_key":"demo-key-` + user + `"}}`
	req, _ := http.NewRequest("POST", g.base+"/projects/dev/sdk/credentials", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("connecting %s: %d", user, resp.StatusCode)
	}
	return tok
}

// TestAdminCLIAgainstARunningGateway runs `plugboard admin` against a dev
// gateway, in table and --json forms, with the token from the dev data
// folder, and checks what it says when something is wrong.
func TestAdminCLIAgainstARunningGateway(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "integrations.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, dir, serveEnv())
	adaToken := connectDemoKey(t, g, dir, "ada")
	connectDemoKey(t, g, dir, "bob")
	req, _ := http.NewRequest("GET", g.base+"/projects/dev/sdk/proxy/custom/demo-apikey/me", nil)
	req.Header.Set("Authorization", "Bearer "+adaToken)
	if resp, err := g.client.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("proxied call: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	env := serveEnv("PLUGBOARD_URL=" + g.base)
	cli := func(args ...string) result {
		t.Helper()
		r := runServeCmd(t, dir, env, append([]string{"admin"}, args...)...)
		for _, secret := range []string{"demo-key-ada", "demo-key-bob", adaToken} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("plugboard admin %v printed the secret %q", args, secret)
			}
		}
		return r
	}
	tokenFile := []string{"--admin-token-file", filepath.Join(".plugboard", "admin-token")}

	// No token: the error says where a dev gateway keeps it.
	if r := cli("connections", "list"); r.code != 1 || !strings.Contains(r.stderr, ".plugboard/admin-token") {
		t.Errorf("without a token: %s", r)
	}

	r := cli(append([]string{"connections", "list"}, tokenFile...)...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "STATUS") {
		t.Fatalf("list (table): %s", r)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, " dev ") || !strings.Contains(l, " demo-apikey ") || !strings.Contains(l, " valid ") {
			t.Errorf("table row %q lacks project, integration or status", l)
		}
	}

	r = cli(append([]string{"connections", "list", "--json", "--user", "ada"}, tokenFile...)...)
	var page admin.Page
	if err := json.Unmarshal([]byte(r.stdout), &page); r.code != 0 || err != nil || len(page.Connections) != 1 || page.Connections[0].User != "ada" {
		t.Fatalf("list --json --user ada: %v %s", err, r)
	}
	ada := page.Connections[0]

	r = cli(append([]string{"connections", "list", "--limit", "1"}, tokenFile...)...)
	if r.code != 0 || strings.Count(strings.TrimSpace(r.stdout), "\n") != 1 || !strings.Contains(r.stderr, "--cursor") {
		t.Errorf("list --limit 1: %s", r)
	}
	r = cli(append([]string{"connections", "list", "--limit", "1", "--all", "--json"}, tokenFile...)...)
	page = admin.Page{}
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Connections) != 2 || page.NextCursor != "" {
		t.Errorf("list --limit 1 --all: %v %s", err, r)
	}

	// show: the proxied call's use is recorded soon after.
	var d admin.Detail
	testfix.Eventually(t, "last use shown", func() bool {
		r = cli(append([]string{"connections", "show", ada.ID, "--json"}, tokenFile...)...)
		d = admin.Detail{}
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &d) == nil && d.LastUsedAt != nil
	})
	if d.Integration.Name != "Demo API (API key)" || len(d.Inputs) != 0 || len(d.InputKeys) != 1 || d.InputKeys[0] != "api_key" {
		t.Errorf("show --json: %+v", d)
	}
	r = cli(append([]string{"connections", "show", ada.ID}, tokenFile...)...)
	for _, want := range []string{"id:", ada.ID, "status:", "valid", "Demo API (API key)", "api_key (secret or undeclared: not shown)", "last used:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show (table) lacks %q: %s", want, r)
		}
	}

	r = cli(append([]string{"integrations"}, tokenFile...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "demo-apikey") || !strings.Contains(r.stdout, " ok ") {
		t.Errorf("integrations: %s", r)
	}
	r = cli(append([]string{"integrations", "--json"}, tokenFile...)...)
	var cat admin.Catalog
	if err := json.Unmarshal([]byte(r.stdout), &cat); err != nil || cat.Integrations < 1 {
		t.Errorf("integrations --json: %v %s", err, r)
	}

	if r := cli(append([]string{"connections", "delete", ada.ID}, tokenFile...)...); r.code != 0 || !strings.Contains(r.stdout, "disconnected "+ada.ID) {
		t.Errorf("delete: %s", r)
	}
	if r := cli(append([]string{"connections", "show", ada.ID}, tokenFile...)...); r.code != 1 || !strings.Contains(r.stderr, "no connection has that id") {
		t.Errorf("show after delete: %s", r)
	}

	// What goes wrong is said clearly, with the right exit code.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"connections", "list", "--admin-token", "wrong-token"}, 1, "refused the admin token"},
		{append([]string{"connections", "list", "--status", "broken"}, tokenFile...), 2, "parameter status"},
		{append([]string{"connections", "show"}, tokenFile...), 2, "give one connection id"},
		{[]string{"connections", "lst"}, 2, `did you mean "connections list"`},
		{[]string{"conections"}, 2, `did you mean "connections"`},
		{[]string{"connections", "list", "--limt", "3"}, 2, "did you mean --limit"},
		{[]string{"integrations", "--url", "http://127.0.0.1:1", "--admin-token", "x"}, 1, "cannot reach the gateway"},
	} {
		if r := cli(tc.args...); r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("admin %v: want exit %d and %q; got %s", tc.args, tc.code, tc.want, r)
		}
	}
}

// TestAdminCLIDisabledAPI: a gateway without an admin token answers 403
// admin_disabled, which the CLI explains.
func TestAdminCLIDisabledAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Plugboard-Error", "admin_disabled")
		w.WriteHeader(403)
		_, _ = w.Write([]byte(`{"code":"admin_disabled","message":"the admin API is disabled"}`))
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := run([]string{"admin", "integrations", "--url", srv.URL, "--admin-token", "x"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "admin API is disabled (403 admin_disabled): start it with --admin-token") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
