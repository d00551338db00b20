package main

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestTryAPIKey runs `plugboard try` as an ops engineer would, against a
// stand-in API that accepts one key.
func TestTryAPIKey(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/me" || r.Header.Get("X-Api-Key") != "good-key" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid api key"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"account":"acme"}`))
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "integrations.d", "acme.yaml"), `id: acme
name: Acme
description: Acme API.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: `+api.URL+`/v1
  authorization: {type: header, name: X-Api-Key, value: "{{inputs.api_key}}"}
  testEndpoint: /me
`)
	ok := runServeCmd(t, dir, serveEnv(), "try", "acme", "--input", "api_key=good-key")
	if ok.code != 0 || !strings.Contains(ok.stdout, "Acme: credential works") || !strings.Contains(ok.stdout, "answered 200") || !strings.Contains(ok.stdout, `{"account":"acme"}`) {
		t.Errorf("good key: %s", ok)
	}
	bad := runServeCmd(t, dir, serveEnv(), "try", "custom.acme", "--input", "api_key=bad-key")
	if bad.code != 1 || !strings.Contains(bad.stdout, "not connected (400)") || !strings.Contains(bad.stdout, "invalid api key") || strings.Contains(bad.stdout+bad.stderr, "bad-key") ||
		!strings.Contains(bad.stdout, "  cause: test request: GET "+api.URL+"/v1/me answered 401\n") {
		t.Errorf("bad key: %s", bad)
	}
	if r := runServeCmd(t, dir, serveEnv(), "try"); r.code != 2 {
		t.Errorf("no integration named: %s", r)
	}
	if r := runServeCmd(t, dir, serveEnv(), "try", "nope", "--input", "a=b"); r.code != 1 || !strings.Contains(r.stderr, `integration "nope" is not loaded`) {
		t.Errorf("unknown integration: %s", r)
	}
}

// acmeManifest is an API-key manifest for try's tests: baseURL is the API,
// extra is appended under api:.
func acmeManifest(id, baseURL, extra string) string {
	return `id: ` + id + `
name: Acme
description: Acme API.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: ` + baseURL + `
  authorization: {type: header, name: X-Api-Key, value: "{{inputs.api_key}}"}
  testEndpoint: /me
` + extra
}

// TestTryPrintsTheRealCause runs try against APIs that fail in each way an
// operator meets: try prints the cause the gateway keeps from end users.
func TestTryPrintsTheRealCause(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + closed.Addr().String()
	_ = closed.Close() // nothing listens there now
	tlsAPI := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsAPI.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsAPI.StartTLS()
	t.Cleanup(tlsAPI.Close) // after the parallel subtests
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<html><body>token service exploded</body></html>"))
	}))
	t.Cleanup(tokens.Close)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "integrations.d", "nxdomain.yaml"), acmeManifest("nxdomain", "https://plugboard-try-test.invalid/v1", ""))
	writeFile(t, filepath.Join(dir, "integrations.d", "refused.yaml"), acmeManifest("refused", refusedURL+"/v1", ""))
	writeFile(t, filepath.Join(dir, "integrations.d", "selfsigned.yaml"), acmeManifest("selfsigned", tlsAPI.URL+"/v1", ""))
	writeFile(t, filepath.Join(dir, "integrations.d", "tokens.yaml"), `id: tokens
name: Tokens
description: Client credentials against a broken token endpoint.
auth:
  type: oauth2_client_credentials
  clientCredentials:
    tokenUrl: `+tokens.URL+`/oauth/token
api:
  baseUrl: `+tokens.URL+`/v1
  testEndpoint: /me
`)
	for _, tc := range []struct {
		id     string
		inputs []string
		want   []string
	}{
		{"nxdomain", []string{"api_key=k"}, []string{"Acme: not connected (502)", "  cause: connect: test request: ", "plugboard-try-test.invalid", "  that is: DNS: "}},
		{"refused", []string{"api_key=k"}, []string{"  cause: connect: test request: ", "connection refused", "  that is: connection refused: nothing listens at that address and port"}},
		{"selfsigned", []string{"api_key=k"}, []string{"  cause: connect: test request: ", "  that is: TLS: the server's certificate is not signed by an authority this machine trusts"}},
		{"tokens", []string{"client_id=id", "client_secret=secret"}, []string{"Tokens: not connected (400)", "  cause: client credentials exchange: token endpoint answered 500",
			"  that is: the token endpoint answered HTTP 500", "  body:\n  <html><body>token service exploded</body></html>"}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			args := []string{"try", tc.id}
			for _, in := range tc.inputs {
				args = append(args, "--input", in)
			}
			r := runServeCmd(t, dir, serveEnv(), args...)
			wantCode(t, r, 1)
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout should contain %q, got %s", w, r)
				}
			}
			for _, l := range lines(r.stderr) {
				if !strings.HasPrefix(l, "integrations.d/"+tc.id+".yaml:") {
					t.Errorf("stderr should hold the tried manifest's problems only (no other manifest's, no gateway log), got %s", r)
				}
			}
		})
	}
}

// TestTryDevModeRules tries one integration in a folder where others are
// broken or lack secrets: an unset secret of the tried manifest is a
// warning (dev mode), nothing about the other manifests is printed, and an
// integration that did not load gets its own file's problems.
func TestTryDevModeRules(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "good-key" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"account":"acme"}`))
	}))
	defer api.Close()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "integrations.d"), "github")
	writeFile(t, filepath.Join(dir, "integrations.d", "acme.yaml"), acmeManifest("acme", api.URL+"/v1", "  headers:\n    X-Partner: ${TRY_TEST_UNSET_PARTNER}\n"))
	writeFile(t, filepath.Join(dir, "integrations.d", "broken.yaml"), "id: broken\nname: [unterminated\n")
	writeFile(t, filepath.Join(dir, "integrations.d", "other.yaml"), "id: other\nname: Other\n")

	// The unset secret is a warning: acme loads, and only the request that
	// needs the secret fails, saying why.
	r := runServeCmd(t, dir, serveEnv(), "try", "acme", "--input", "api_key=good-key")
	wantCode(t, r, 1)
	if !strings.Contains(r.stdout, "  cause: connect: test request: header X-Partner: secret from environment variable TRY_TEST_UNSET_PARTNER was not resolved") {
		t.Errorf("want the test request's cause, the unset secret, got %s", r)
	}
	want := []string{
		"integrations.d/acme.yaml:1:1: warning: no icon",
		"integrations.d/acme.yaml:15:16: warning: api.headers.X-Partner: environment variable TRY_TEST_UNSET_PARTNER is not set",
	}
	if l := lines(r.stderr); len(l) != len(want) || !strings.HasPrefix(l[0], want[0]) || !strings.HasPrefix(l[1], want[1]) {
		t.Errorf("stderr: want only the tried manifest's warnings %q, got %s", want, r)
	}
	r = runServeCmd(t, dir, serveEnv("TRY_TEST_UNSET_PARTNER=partner"), "try", "acme", "--input", "api_key=good-key")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "Acme: credential works") || strings.Contains(r.stderr, "X-Partner") {
		t.Errorf("with the secret set: %s", r)
	}

	r = runServeCmd(t, dir, serveEnv(), "try", "broken", "--input", "a=b")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "integrations.d/broken.yaml:") || strings.Contains(r.stderr, "other.yaml") || strings.Contains(r.stderr, "github.yaml") ||
		!strings.Contains(r.stderr, `integration "broken" is not loaded`) {
		t.Errorf("want broken.yaml's problems only, got %s", r)
	}

	// OAuth without its client secrets cannot work: try says so at once.
	r = runServeCmd(t, dir, serveEnv(), "try", "github")
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "github.yaml:13:15: warning: auth.oauth2.clientId: environment variable GITHUB_CLIENT_ID is not set") ||
		!strings.Contains(r.stderr, "plugboard try: GitHub connects with OAuth, which needs the client id and secret the warnings above say are not set") ||
		strings.Contains(r.stderr, "acme.yaml") || r.stdout != "" {
		t.Errorf("want GitHub's unset secrets and why try stops, got %s", r)
	}
}
