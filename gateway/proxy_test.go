package gateway

import (
	"bufio"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/internal/fakeprovider"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/sdk"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
	"github.com/plugboardhq/plugboard/manifest"
)

// proxyEnv is a gateway on loopback with a real SQLite store, a project
// with a real signing key, and integrations pointing at a fake provider.
type proxyEnv struct {
	*testGateway
	provider *fakeprovider.Provider
	store    store.Store
	signer   crypto.Signer
	kid      string
	stop     func() // shuts the gateway down as SIGTERM would (once; also at cleanup)
}

const fakeManifests = `
-- fakeoauth.yaml
id: fakeoauth
name: Fake OAuth
description: OAuth 2.0 provider stand-in.
icon: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#0E7C66"/><circle cx="32" cy="32" r="14" fill="#fff"/></svg>'
accentColor: "#0E7C66"
auth:
  type: oauth2
  oauth2:
    authorizationUrl: {{P}}/oauth/authorize
    tokenUrl: {{P}}/oauth/token
    revocationUrl: {{P}}/oauth/revoke
    clientId: ${FAKE_CLIENT_ID}
    clientSecret: ${FAKE_CLIENT_SECRET}
    scopes: [read]
api:
  baseUrl: {{P}}/api
  headers:
    X-Static: static-value
  testEndpoint: /me
  timeout: 2s
-- fakekey.yaml
id: fakekey
name: Fake Key
description: API key provider stand-in.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: {{P}}/api
  authorization:
    type: header
    name: X-Api-Key
    value: "{{inputs.api_key}}"
  testEndpoint: /me
-- fakequery.yaml
id: fakequery
name: Fake Query
description: API key in the query string.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
api:
  baseUrl: {{P}}/api
  authorization:
    type: query
    name: api_key
    value: "{{inputs.api_key}}"
  testEndpoint: /me
-- fakecc.yaml
id: fakecc
name: Fake Client Credentials
description: Client credentials provider stand-in.
auth:
  type: oauth2_client_credentials
  clientCredentials:
    tokenUrl: {{P}}/oauth/token
api:
  baseUrl: {{P}}/api
  testEndpoint: /me
-- fakeabs.yaml
id: fakeabs
name: Fake Absolute Test
description: Test endpoint as an absolute URL outside the base path.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
api:
  baseUrl: {{P}}/api/v9
  authorization:
    type: header
    name: X-Api-Key
    value: "{{inputs.api_key}}"
  testEndpoint: {{P}}/api/me
-- fakeslow.yaml
id: fakeslow
name: Fake Slow
description: Times out fast.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
api:
  baseUrl: {{P}}/api
  authorization:
    type: bearer
    token: "{{inputs.api_key}}"
  testEndpoint: /me
  timeout: 200ms
-- fakedown.yaml
id: fakedown
name: Fake Down
description: Nothing listens there.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
api:
  baseUrl: {{DOWN}}/api
  authorization:
    type: bearer
    token: "{{inputs.api_key}}"
  testEndpoint: /me
`

// testEgress allows loopback, where every test upstream listens.
func testEgress() egress.Policy {
	return egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
}

func startProxyEnv(t testing.TB) *proxyEnv { return startProxyEnvWith(t, nil) }

// startProxyEnvWith is startProxyEnv with a chance to adjust the config.
func startProxyEnvWith(t testing.TB, adjust func(*Config)) *proxyEnv {
	t.Helper()
	p := fakeprovider.New()
	t.Cleanup(p.Close)
	down, _ := net.Listen("tcp", "127.0.0.1:0")
	downURL := "http://" + down.Addr().String()
	_ = down.Close()

	dir := t.TempDir()
	for _, part := range strings.Split(fakeManifests, "-- ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		body = strings.ReplaceAll(strings.ReplaceAll(body, "{{P}}", p.URL), "{{DOWN}}", downURL)
		writeFile(t, filepath.Join(dir, strings.TrimSpace(name)), body)
	}
	entry, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "test.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	signer, err := usertoken.GenerateRSA(2048)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := usertoken.KeyID(signer.Public())
	env := map[string]string{"FAKE_CLIENT_ID": p.ClientID, "FAKE_CLIENT_SECRET": p.ClientSecret}
	logs := &syncBuffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		PublicURL:   "http://" + ln.Addr().String(),
		ManifestDir: dir,
		AdminToken:  "test-admin-token-0123456789",
		Manifest: manifest.Options{ResolveSecrets: true, Secrets: manifest.SecretResolver{LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		}}},
		Log:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Projects: []project.Config{{ID: "dev", Keys: []usertoken.PublicKey{{ID: kid, Key: signer.Public()}}}},
		Store:    st,
		Keyring:  kr,
		// The fake provider is on 127.0.0.1: allow it as an operator would
		// (--egress-allow 127.0.0.0/8). Tests of the guard adjust this.
		Egress: testEgress(),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep := srv.Reloader().LastReport(); !rep.Success {
		t.Fatalf("test manifests: %v", rep.Problems)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	t.Cleanup(stop)
	g := &testGateway{t: t, srv: srv, base: "http://" + ln.Addr().String(), admin: "test-admin-token-0123456789",
		client: &http.Client{Timeout: 10 * time.Second}, logs: logs}
	return &proxyEnv{testGateway: g, provider: p, store: st, signer: signer, kid: kid, stop: stop}
}

// concurrentGets sends n GETs of path at once and returns their statuses.
func (e *proxyEnv) concurrentGets(n int, tok, path string) []int {
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do("GET", path, tok, nil, nil).status
		}()
	}
	wg.Wait()
	return statuses
}

func (e *proxyEnv) token(user string) string {
	tok, err := usertoken.Mint(e.signer, e.kid, "dev", user, time.Hour, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// connectOAuth stores an OAuth connection for user with tokens the fake
// provider issued, expiring after lifetime.
func (e *proxyEnv) connectOAuth(user string, lifetime time.Duration) *connection.Connection {
	at, rt := e.provider.IssueTokens(lifetime)
	c := &connection.Connection{ProjectID: "dev", UserID: user, IntegrationID: "fakeoauth", Status: connection.StatusValid,
		Credential: connection.Credential{AccessToken: at, RefreshToken: rt, TokenType: "Bearer"}, ExpiresAt: time.Now().Add(lifetime)}
	if err := e.store.Create(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *proxyEnv) connectKey(user, integration, key string) {
	e.provider.AddAPIKey(key)
	c := &connection.Connection{ProjectID: "dev", UserID: user, IntegrationID: integration, Status: connection.StatusValid,
		Credential: connection.Credential{Inputs: map[string]string{"api_key": key}}}
	if err := e.store.Create(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *proxyEnv) do(method, path, token string, body io.Reader, hdr map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// echoed decodes the fake provider's /api/echo answer from the wrapped body.
func echoed(t testing.TB, r response) (got struct {
	Method, Path, Query, Body, Host string
	Headers                         http.Header
}) {
	t.Helper()
	var wrapped struct{ Output json.RawMessage }
	if err := json.Unmarshal([]byte(r.body), &wrapped); err != nil || wrapped.Output == nil {
		t.Fatalf("not a wrapped JSON body (%d): %s", r.status, r.body)
	}
	if err := json.Unmarshal(wrapped.Output, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestProxyInjectsCredentialAndStripsCallerIdentity(t *testing.T) {
	e := startProxyEnv(t)
	conn := e.connectOAuth("alice", time.Hour)
	tok := e.token("alice")
	for _, prefix := range []string{"/projects/dev/sdk/proxy/custom/fakeoauth", "/projects/dev/sdk/proxy/custom.fakeoauth"} {
		r := e.do("POST", prefix+"/echo/a%20b?x=1&y=two", tok, strings.NewReader(`{"title":"hi"}`), map[string]string{
			"Content-Type": "auto", "Cookie": "session=app", "X-Forwarded-For": "10.0.0.1", "Forwarded": "for=1.2.3.4",
			"X-Real-Ip": "10.0.0.2", "Connection": "X-Hop", "X-Hop": "secret-hop", "Origin": "https://app.example",
			"X-Paragon-Sdk-Version": "2.4.0", "X-Custom": "kept",
		})
		if r.status != 200 {
			t.Fatalf("%s: %d %s", prefix, r.status, r.body)
		}
		got := echoed(t, r)
		if got.Method != "POST" || got.Path != "/api/echo/a%20b" || got.Query != "x=1&y=two" || got.Body != `{"title":"hi"}` {
			t.Errorf("upstream saw %s %s?%s body %q", got.Method, got.Path, got.Query, got.Body)
		}
		if auth := got.Headers.Get("Authorization"); auth != "Bearer "+conn.Credential.AccessToken {
			t.Errorf("upstream Authorization = %q, want the stored access token", auth)
		}
		for _, h := range []string{"Cookie", "X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Hop", "Origin", "X-Paragon-Sdk-Version"} {
			if v := got.Headers.Get(h); v != "" {
				t.Errorf("upstream received %s: %q", h, v)
			}
		}
		if strings.Contains(fmt.Sprint(got.Headers), tok) {
			t.Error("the user token leaked upstream")
		}
		if got.Headers.Get("X-Custom") != "kept" || got.Headers.Get("X-Static") != "static-value" || got.Headers.Get("Content-Type") != "application/json" {
			t.Errorf("upstream headers: %v", got.Headers)
		}
		if r.header.Get("Set-Cookie") != "" {
			t.Error("a provider cookie reached the caller")
		}
	}
}

func TestProxyVerbsAndResponseShapes(t *testing.T) {
	e := startProxyEnv(t)
	e.connectKey("bob", "fakekey", "key-bob")
	tok := e.token("bob")
	base := "/projects/dev/sdk/proxy/custom/fakekey"
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		r := e.do(m, base+"/echo", tok, strings.NewReader("payload-"+m), nil)
		if got := echoed(t, r); got.Method != m || (m != "GET" && got.Body != "payload-"+m) {
			t.Errorf("%s: upstream saw %s with body %q", m, got.Method, got.Body)
		}
	}
	if r := e.do("GET", base+"/me", tok, nil, nil); r.body != `{"output":{"login":"octo","id":42}}` {
		t.Errorf("wrapped JSON: %s", r.body)
	}
	if r := e.do("GET", base+"/me", tok, nil, map[string]string{"X-Paragon-Use-Raw-Response": "1"}); r.body != `{"login":"octo","id":42}` {
		t.Errorf("raw JSON: %s", r.body)
	}
	if r := e.do("GET", base+"/text", tok, nil, nil); r.body != "plain text" || r.status != 200 {
		t.Errorf("text passes through: %d %q", r.status, r.body)
	}
	if r := e.do("DELETE", base+"/empty", tok, nil, nil); r.status != 204 || r.body != "" {
		t.Errorf("204: %d %q", r.status, r.body)
	}
	if r := e.do("GET", base+"/status?code=422", tok, nil, nil); r.status != 422 || r.body != `{"message":"status 422"}` || r.header.Get("X-Plugboard-Error") != "" {
		t.Errorf("upstream error keeps its status and is not marked as the gateway's: %d %s", r.status, r.body)
	}
	r := e.do("GET", base+"/big?bytes=3000000", tok, nil, nil)
	if r.status != 200 || len(r.body) != 3000000 {
		t.Errorf("binary body: %d, %d bytes", r.status, len(r.body))
	}
}

func TestProxyQueryAuthorization(t *testing.T) {
	e := startProxyEnv(t)
	e.connectKey("carol", "fakequery", "key-carol")
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakequery/echo?api_key=forged&page=2", e.token("carol"), nil, nil)
	got := echoed(t, r)
	if got.Query != "api_key=key-carol&page=2" {
		t.Errorf("upstream query %q: the stored key must replace the caller's", got.Query)
	}
}

func TestProxyGatewayErrors(t *testing.T) {
	e := startProxyEnv(t)
	e.connectKey("dave", "fakekey", "key-dave")
	e.connectKey("dave", "fakeslow", "key-dave")
	e.connectKey("dave", "fakedown", "key-dave")
	tok := e.token("dave")
	other, _ := usertoken.GenerateRSA(2048)
	otherKid, _ := usertoken.KeyID(other.Public())
	foreign, _ := usertoken.Mint(other, otherKid, "dev", "dave", time.Hour, time.Now())
	expired, _ := usertoken.Mint(e.signer, e.kid, "dev", "dave", time.Minute, time.Now().Add(-time.Hour))
	cases := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"no token", "GET", "/projects/dev/sdk/proxy/custom/fakekey/me", "", 401, "token_missing"},
		{"garbage token", "GET", "/projects/dev/sdk/proxy/custom/fakekey/me", "not-a-jwt", 401, "token_invalid"},
		{"other key", "GET", "/projects/dev/sdk/proxy/custom/fakekey/me", foreign, 401, "token_invalid"},
		{"expired token", "GET", "/projects/dev/sdk/proxy/custom/fakekey/me", expired, 401, "token_expired"},
		{"unknown project", "GET", "/projects/nope/sdk/proxy/custom/fakekey/me", tok, 404, "project_not_found"},
		{"unknown integration", "GET", "/projects/dev/sdk/proxy/custom/nope/me", tok, 404, "integration_not_found"},
		{"not connected", "GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok, 404, "not_connected"},
		{"dot segment", "GET", "/projects/dev/sdk/proxy/custom/fakekey/%2e%2e/admin", tok, 400, "path_refused"},
		{"encoded slash", "GET", "/projects/dev/sdk/proxy/custom/fakekey/a%2f..%2fb", tok, 400, "path_refused"},
		{"double slash", "GET", "/projects/dev/sdk/proxy/custom/fakekey//evil.example/x", tok, 400, "path_refused"},
		{"upstream timeout", "GET", "/projects/dev/sdk/proxy/custom/fakeslow/slow?ms=3000", tok, 504, "upstream_timeout"},
		{"upstream unreachable", "GET", "/projects/dev/sdk/proxy/custom/fakedown/me", tok, 502, "upstream_unreachable"},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, c.token, nil, nil)
		var body struct{ Code, Message string }
		_ = json.Unmarshal([]byte(r.body), &body)
		if r.status != c.status || body.Code != c.code || r.header.Get("X-Plugboard-Error") != c.code || body.Message == "" {
			t.Errorf("%s: got %d %s (header %q), want %d %s", c.name, r.status, r.body, r.header.Get("X-Plugboard-Error"), c.status, c.code)
		}
	}
}

// TestProxyRefusesHostilePathsOverTheWire sends the path corpus as raw
// request lines, so no client library cleans them first. Every row is
// refused by the gateway, except those marked "+" (which may reach the
// provider's /api/ tree).
func TestProxyRefusesHostilePathsOverTheWire(t *testing.T) {
	e := startProxyEnv(t)
	e.connectKey("erin", "fakekey", "key-erin")
	tok := e.token("erin")
	f, err := os.ReadFile("proxy/testdata/hostile-paths.txt")
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, line := range strings.Split(string(f), "\n") {
		p, mayPass := strings.CutPrefix(line, "+")
		if p == "" || strings.HasPrefix(p, "#") || strings.ContainsAny(p, " \t?#") || !strings.HasPrefix(p, "/") {
			continue // not expressible in a request line
		}
		sent++
		status, hdr, body := rawRequest(t, e.base, "GET /projects/dev/sdk/proxy/custom/fakekey"+p, tok)
		if mayPass && status == 200 {
			// Accepted: it must have reached the provider's /api/ tree (its 404 is wrapped).
			if !strings.HasPrefix(body, `{"output":`) {
				t.Errorf("%q: 200 but not from upstream: %s", p, body)
			}
			continue
		}
		if status == 400 && body == "400 Bad Request" {
			continue // refused by the HTTP server itself (an invalid escape in the request line)
		}
		if code := hdr.Get("X-Plugboard-Error"); (status != 400 || code != "path_refused") && (!mayPass || status != 404) {
			t.Errorf("%q: status %d %s %s, want 400 path_refused", p, status, code, body)
		}
	}
	if sent < 500 {
		t.Fatalf("only %d payloads sent", sent)
	}
}

func rawRequest(t *testing.T, base, line, token string) (int, http.Header, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", line, token)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestProxyRefreshStormMakesOneTokenCall(t *testing.T) {
	e := startProxyEnv(t)
	e.provider.TokenDelay = 50 * time.Millisecond
	conn := e.connectOAuth("frank", -time.Minute) // already expired
	tok := e.token("frank")
	statuses := e.concurrentGets(100, tok, "/projects/dev/sdk/proxy/custom/fakeoauth/me")
	for i, s := range statuses {
		if s != 200 {
			t.Fatalf("request %d: %d", i, s)
		}
	}
	if n := e.provider.TokenCalls.Load(); n != 1 {
		t.Fatalf("%d calls to the token endpoint, want exactly 1", n)
	}
	stored, err := e.store.Get(context.Background(), "dev", "frank", conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, metrics, _ := e.get("/metrics", false)
	for _, want := range []string{
		`plugboard_token_refreshes_total{integration="fakeoauth",result="success"} 1`,
		`plugboard_proxy_requests_total{code="200",integration="fakeoauth",method="GET"} 100`,
		`plugboard_proxy_upstream_seconds_count{integration="fakeoauth"} 100`,
		`plugboard_proxy_overhead_seconds_count{integration="fakeoauth"} 100`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, secret := range []string{conn.Credential.AccessToken, conn.Credential.RefreshToken, stored.Credential.AccessToken, stored.Credential.RefreshToken, tok, e.provider.ClientSecret} {
		if strings.Contains(e.logs.String(), secret) || strings.Contains(string(metrics), secret) {
			t.Errorf("a token or secret appears in the logs or metrics")
		}
	}
	if stored.Credential.RefreshToken == conn.Credential.RefreshToken || !e.provider.RefreshTokenLive(stored.Credential.RefreshToken) {
		t.Error("the rotated refresh token was not stored")
	}
	if !stored.ExpiresAt.After(time.Now().Add(30 * time.Minute)) {
		t.Errorf("stored expiry %v", stored.ExpiresAt)
	}
}

func TestProxyRefreshesOnceAfterUpstream401(t *testing.T) {
	// The second half forces a second refresh of the same connection at
	// once: no cooldown here (TestProxyForcedRefreshCooldown tests it).
	e := startProxyEnvWith(t, func(c *Config) { c.Limits.ForcedRefreshCooldown = -1 })
	conn := e.connectOAuth("gina", time.Hour)
	e.provider.RevokeAccess(conn.Credential.AccessToken) // valid by its expiry, refused by the provider
	tok := e.token("gina")
	r := e.do("POST", "/projects/dev/sdk/proxy/custom/fakeoauth/echo", tok, strings.NewReader(`{"a":1}`), nil)
	if r.status != 200 || echoed(t, r).Body != `{"a":1}` {
		t.Fatalf("after a refresh the request is replayed with its body: %d %s", r.status, r.body)
	}
	if n := e.provider.TokenCalls.Load(); n != 1 {
		t.Errorf("%d token calls, want 1", n)
	}
	// A refreshed token that is refused again is not retried a second time.
	e.provider.RotateRefreshTokens = true
	stored, _ := e.store.Get(context.Background(), "dev", "gina", conn.ID)
	e.provider.RevokeAccess(stored.Credential.AccessToken)
	e.provider.TokenLifetime = 0 // the next token has no expires_in
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok, nil, nil); r.status != 200 {
		t.Fatalf("refresh with a token response without expires_in: %d %s", r.status, r.body)
	}
}

func TestProxyInvalidGrantNeedsReconnect(t *testing.T) {
	e := startProxyEnv(t)
	conn := e.connectOAuth("hank", -time.Minute)
	// The refresh token is used up elsewhere: the provider refuses it.
	e.provider.RotateRefreshTokens = true
	used := conn.Credential.RefreshToken
	form := strings.NewReader("grant_type=refresh_token&refresh_token=" + used + "&client_id=" + e.provider.ClientID + "&client_secret=" + e.provider.ClientSecret)
	resp, err := http.Post(e.provider.URL+"/oauth/token", "application/x-www-form-urlencoded", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("hank"), nil, nil)
	if r.status != 403 || !strings.Contains(r.body, `"needs_reconnect"`) {
		t.Fatalf("got %d %s, want 403 needs_reconnect", r.status, r.body)
	}
	stored, _ := e.store.Get(context.Background(), "dev", "hank", conn.ID)
	if stored.Status != connection.StatusNeedsReconnect || !strings.Contains(stored.LastError, "invalid_grant") {
		t.Errorf("stored status %q, last error %q", stored.Status, stored.LastError)
	}
	if strings.Contains(stored.LastError, used) {
		t.Error("the refresh token appears in the stored error")
	}
}

func TestProxyStreamsServerSentEvents(t *testing.T) {
	e := startProxyEnv(t)
	e.connectKey("ivy", "fakekey", "key-ivy")
	req, _ := http.NewRequest("GET", e.base+"/projects/dev/sdk/proxy/custom/fakekey/gated-events", nil)
	req.Header.Set("Authorization", "Bearer "+e.token("ivy"))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The provider sends its second event only once the first has arrived
	// here: a buffering proxy would wait forever (the client times out).
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(e.provider.Gate)
	rest, _ := io.ReadAll(rd)
	if !strings.Contains(string(rest), "data: second") {
		t.Errorf("second event missing: %q", rest)
	}
}

func TestProxyStreamsLargeUploadsAndLimitsThem(t *testing.T) {
	e := startProxyEnv(t)
	e.connectKey("jack", "fakekey", "key-jack")
	tok := e.token("jack")
	// 8 MiB, streamed without a length: fine under the 10 MiB default.
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 128; i++ {
			_, _ = pw.Write(chunk)
		}
		_ = pw.Close()
	}()
	r := e.do("POST", "/projects/dev/sdk/proxy/custom/fakekey/upload", tok, pr, nil)
	if r.body != `{"output":{"received":8388608}}` {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	big := strings.NewReader(strings.Repeat("x", 11<<20))
	if r := e.do("POST", "/projects/dev/sdk/proxy/custom/fakekey/upload", tok, big, nil); r.status != 413 || !strings.Contains(r.body, "body_too_large") {
		t.Errorf("oversized body: %d %s", r.status, r.body)
	}
}

func TestSDKCredentialsTestBeforeStoring(t *testing.T) {
	e := startProxyEnv(t)
	e.provider.AddAPIKey("right-key")
	tok := e.token("kim")
	post := func(body string) response {
		return e.do("POST", "/projects/dev/sdk/credentials", tok, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
	}
	r := post(`{"integrationId":"custom.fakekey","payload":{"api_key":"wrong-key"}}`)
	if r.status != 400 || !strings.Contains(r.body, "credential_test_failed") || !strings.Contains(r.body, "Bad credentials") {
		t.Fatalf("wrong key: %d %s", r.status, r.body)
	}
	if list, _ := e.store.List(context.Background(), "dev", "kim"); len(list) != 0 {
		t.Fatalf("a refused credential was stored: %d rows", len(list))
	}
	if r := post(`{"integrationId":"custom.fakekey","payload":{}}`); r.status != 400 || !strings.Contains(r.body, "API key is required") {
		t.Errorf("missing field: %d %s", r.status, r.body)
	}
	if r := post(`{"integrationId":"custom.fakekey","payload":{"api_key":"right-key","extra":"x"}}`); r.status != 400 || !strings.Contains(r.body, "extra") {
		t.Errorf("undeclared field: %d %s", r.status, r.body)
	}
	r = post(`{"integrationId":"custom.fakekey","payload":{"api_key":"right-key"}}`)
	if r.status != 201 || strings.Contains(r.body, "right-key") {
		t.Fatalf("right key: %d %s", r.status, r.body)
	}
	var cred sdk.Credential
	_ = json.Unmarshal([]byte(r.body), &cred)
	if cred.Status != "VALID" || cred.IntegrationID != integration.UUID("dev", "fakekey") || len(cred.ID) != 36 || len(cred.Configurations) != 1 || cred.Configurations[0].ConnectCredentialID != cred.ID {
		t.Errorf("credential %+v", cred)
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/me", tok, nil, nil); r.status != 200 {
		t.Errorf("proxied call after connecting: %d %s", r.status, r.body)
	}
	// Client credentials: exchanged, tested, stored; a bad secret is refused.
	if r := post(`{"integrationId":"fakecc","payload":{"client_id":"abc","client_secret":"bad"}}`); r.status != 400 || !strings.Contains(r.body, "token_exchange_failed") {
		t.Errorf("bad client secret: %d %s", r.status, r.body)
	}
	if r := post(`{"integrationId":"fakecc","payload":{"client_id":"abc","client_secret":"good-secret"}}`); r.status != 201 {
		t.Fatalf("client credentials: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakecc/me", tok, nil, nil); r.status != 200 {
		t.Errorf("proxied call with client credentials: %d %s", r.status, r.body)
	}
	if r := post(`{"integrationId":"custom.fakeoauth","payload":{}}`); r.status != 400 || !strings.Contains(r.body, "use_connect_flow") {
		t.Errorf("oauth2 via credentials endpoint: %d %s", r.status, r.body)
	}
}

func TestProxyURLHeaderStaysOnTheHost(t *testing.T) {
	e := startProxyEnv(t)
	e.connectKey("uma", "fakekey", "key-uma")
	tok := e.token("uma")
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey", tok, nil, map[string]string{"X-Paragon-Proxy-Url": e.provider.URL + "/api/echo/x?y=1"})
	if got := echoed(t, r); got.Path != "/api/echo/x" || got.Query != "y=1" || got.Headers.Get("X-Paragon-Proxy-Url") != "" {
		t.Errorf("upstream saw %s?%s headers %v", got.Path, got.Query, got.Headers)
	}
	// Under the base URL's path (/api), at a segment boundary, and through
	// the same path checks as a proxied path.
	for _, bad := range []string{"https://evil.example.com/api/me", "http://user:pw@" + strings.TrimPrefix(e.provider.URL, "http://") + "/api/me", "/api/me",
		e.provider.URL + "/api/%2e%2e/x", e.provider.URL + "/admin/me", e.provider.URL + "/", e.provider.URL, e.provider.URL + "/apievil/me", e.provider.URL + "/ap",
		e.provider.URL + "/API/me", e.provider.URL + "/api/%252e%252e/x", e.provider.URL + "/api/%EF%BC%8E%EF%BC%8E/x", e.provider.URL + "/api/..%3f/x",
		e.provider.URL + "/api/../admin", e.provider.URL + "/%61pi/me", e.provider.URL + "/api/me?a=1 HTTP/1.1"} {
		r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey", tok, nil, map[string]string{"X-Paragon-Proxy-Url": bad})
		if r.status != 400 || !strings.Contains(r.body, "path_refused") {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
	// The parsed base URL is kept between requests: an absolute URL must
	// not have changed it.
	r = e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/echo/z", tok, nil, nil)
	if got := echoed(t, r); got.Path != "/api/echo/z" {
		t.Errorf("after %s requests, a proxied path reached %s, want /api/echo/z", "X-Paragon-Proxy-Url", got.Path)
	}
}
