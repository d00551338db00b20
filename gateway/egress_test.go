package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/internal/fakedns"
)

// upstreamRecorder is a real server on 127.0.0.1 that records what it gets
// and answers like a small API (and token endpoint).
type upstreamRecorder struct {
	*httptest.Server
	port string
	mu   sync.Mutex
	reqs []string
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstreamRecorder {
	u := &upstreamRecorder{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true,"access_token":"at","token_type":"bearer"}`)
		}
	}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Method+" "+r.Host+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(b))
		u.mu.Unlock()
		h(w, r)
	}))
	_, u.port, _ = net.SplitHostPort(u.Listener.Addr().String())
	t.Cleanup(u.Close)
	return u
}

func (u *upstreamRecorder) got() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.reqs...)
}

// apiKeyManifest is an api_key integration whose API is at baseURL.
func apiKeyManifest(id, baseURL string) string {
	return `id: ` + id + `
name: ` + strings.ToUpper(id[:1]) + id[1:] + `
description: test
auth:
  type: api_key
  inputs:
    - key: sub
      label: Subdomain
      required: false
      pattern: "[a-z0-9-]+"
    - key: api_key
      label: API key
api:
  baseUrl: ` + baseURL + `
  authorization:
    type: bearer
    token: "{{inputs.api_key}}"
  testEndpoint: /me
`
}

func writeManifests(t *testing.T, dir string, manifests map[string]string) {
	for id, body := range manifests {
		writeFile(t, filepath.Join(dir, id+".yaml"), body)
	}
}

type gatewayError struct{ Code, Message string }

func decodeError(t *testing.T, r response) gatewayError {
	t.Helper()
	var e gatewayError
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("not a gateway error (%d): %s", r.status, r.body)
	}
	if r.header.Get("X-Plugboard-Error") != e.Code {
		t.Errorf("X-Plugboard-Error %q, body code %q", r.header.Get("X-Plugboard-Error"), e.Code)
	}
	return e
}

// noDialDetails fails when a message shown to users carries what the
// dialler or the resolver said.
func noDialDetails(t *testing.T, what, msg string) {
	t.Helper()
	for _, leak := range []string{"dial ", "tcp", "127.0.0.1", "::ffff", "169.254", "connection refused", "lookup ", "no such host", "egress refused:"} {
		if strings.Contains(msg, leak) {
			t.Errorf("%s: message %q carries %q", what, msg, leak)
		}
	}
}

func (e *proxyEnv) postCredential(user, body string) response {
	return e.do("POST", "/projects/dev/sdk/credentials", e.token(user), strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
}

// With the default policy (the zero Config.Egress), an upstream whose
// manifest host is 127.0.0.1 is refused on every path: proxy, connect
// (test request), client credentials, refresh and revocation, and the
// upstream gets nothing.
func TestEgressDefaultPolicyRefusesLoopback(t *testing.T) {
	e := startProxyEnvWith(t, func(c *Config) { c.Egress = egress.Policy{} })
	p := e.provider
	e.connectKey("ann", "fakekey", "key-ann")
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/me", e.token("ann"), nil, nil)
	ge := decodeError(t, r)
	if r.status != 502 || ge.Code != "egress_refused" || !strings.Contains(ge.Message, "Fake Key at 127.0.0.1") {
		t.Errorf("proxy: %d %s", r.status, r.body)
	}
	// The host is the manifest's own text; what it resolved to is not said.
	noDialDetails(t, "proxy", strings.ReplaceAll(ge.Message, "Fake Key at 127.0.0.1", "Fake Key at HOST"))

	r = e.postCredential("bob", `{"integrationId":"fakekey","payload":{"api_key":"key-ann"}}`)
	if ge := decodeError(t, r); r.status != 502 || ge.Code != "egress_refused" {
		t.Errorf("connect: %d %s", r.status, r.body)
	} else {
		noDialDetails(t, "connect", ge.Message)
	}
	r = e.postCredential("bob", `{"integrationId":"fakecc","payload":{"client_id":"abc","client_secret":"good-secret"}}`)
	if ge := decodeError(t, r); r.status != 502 || ge.Code != "egress_refused" {
		t.Errorf("client credentials: %d %s", r.status, r.body)
	} else {
		noDialDetails(t, "client credentials", ge.Message)
	}
	if list, _ := e.store.List(context.Background(), "dev", "bob"); len(list) != 0 {
		t.Errorf("stored %d connections", len(list))
	}
	e.connectOAuth("cid", -time.Minute) // expired: the proxy refreshes first
	r = e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("cid"), nil, nil)
	if ge := decodeError(t, r); r.status != 502 || ge.Code != "egress_refused" {
		t.Errorf("refresh: %d %s", r.status, r.body)
	}
	conn := e.connectOAuth("dora", time.Hour)
	if r := e.do("DELETE", "/projects/dev/sdk/credentials/"+conn.ID, e.token("dora"), nil, nil); r.status != 204 {
		t.Errorf("disconnect: %d %s", r.status, r.body)
	}
	if n := p.APICalls.Load() + p.TokenCalls.Load() + p.RevokeCalls.Load(); n != 0 {
		t.Errorf("the upstream on 127.0.0.1 got %d API, %d token, %d revocation requests; want none", p.APICalls.Load(), p.TokenCalls.Load(), p.RevokeCalls.Load())
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(p.URL, "http://"))
	logs := e.logs.String()
	for _, id := range []string{"fakekey", "fakecc", "fakeoauth"} {
		if !strings.Contains(logs, `"msg":"egress refused: outbound connection to a special address","integration":"`+id+`","host":"127.0.0.1","address":"127.0.0.1:`+port+`"`) {
			t.Errorf("no warn log of the refusal for %s:\n%s", id, logs)
		}
		if !strings.Contains(e.metric("plugboard_egress_refused_total"), `plugboard_egress_refused_total{integration="`+id+`"}`) {
			t.Errorf("no plugboard_egress_refused_total for %s", id)
		}
	}
	if !strings.Contains(logs, `"level":"WARN","msg":"egress refused`) {
		t.Error("refusals are not logged at warn")
	}
	if strings.Contains(logs, p.ClientSecret) {
		t.Error("the client secret is in the log")
	}
}

// Manifests naming cloud metadata, a mapped IPv6 loopback, the
// unspecified address and friends are refused like any special range.
func TestEgressRefusesSpecialAddressSpellings(t *testing.T) {
	up := newUpstream(t, nil)
	bases := map[string]string{
		"metadata": "http://169.254.169.254/latest",
		"mapped":   "http://[::ffff:127.0.0.1]:" + up.port + "/api",
		"zero":     "http://0.0.0.0:" + up.port + "/api",
		"unspec":   "http://[::]:" + up.port + "/api",
		"nat":      "http://[64:ff9b::7f00:1]:" + up.port + "/api",
		"private":  "http://10.255.255.1:" + up.port + "/api",
	}
	e := startProxyEnvWith(t, func(c *Config) {
		c.Egress = egress.Policy{}
		for id, base := range bases {
			writeManifests(t, c.ManifestDir, map[string]string{id: apiKeyManifest(id, base)})
		}
	})
	for id := range bases {
		c := &connection.Connection{ProjectID: "dev", UserID: "eve", IntegrationID: id, Status: connection.StatusValid,
			Credential: connection.Credential{Inputs: map[string]string{"api_key": "k"}}}
		if err := e.store.Create(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		r := e.do("GET", "/projects/dev/sdk/proxy/custom/"+id+"/me", e.token("eve"), nil, nil)
		if ge := decodeError(t, r); r.status != 502 || ge.Code != "egress_refused" {
			t.Errorf("%s (%s): %d %s", id, bases[id], r.status, r.body)
		}
		r = e.postCredential("fay", `{"integrationId":"`+id+`","payload":{"api_key":"k"}}`)
		if ge := decodeError(t, r); r.status != 502 || ge.Code != "egress_refused" {
			t.Errorf("%s connect: %d %s", id, r.status, r.body)
		}
	}
	if got := up.got(); len(got) != 0 {
		t.Errorf("the upstream received %q", got)
	}
}

// A host templated from an end user's input, in a zone whose DNS someone
// else controls, resolves to 127.0.0.1: refused even in dev mode, where a
// literal 127.0.0.1 in a manifest is allowed. The DNS server is real (on
// 127.0.0.1, asked by Go's resolver); the operator allowing 127.0.0.0/8
// shows the refusal was the guard's.
func TestEgressTemplatedHostResolvingToLoopback(t *testing.T) {
	dns := fakedns.New(netip.MustParseAddr("127.0.0.1"))
	t.Cleanup(dns.Close)
	up := newUpstream(t, nil)
	tenant := apiKeyManifest("tenant", "http://{{inputs.sub}}.tenant.test:"+up.port+"/api")
	dev := egress.Policy{LiteralLoopback: true, Resolver: dns.Resolver()}
	e := startProxyEnvWith(t, func(c *Config) {
		c.Egress = dev
		writeManifests(t, c.ManifestDir, map[string]string{"tenant": tenant})
	})
	r := e.postCredential("gus", `{"integrationId":"tenant","payload":{"sub":"acme","api_key":"k"}}`)
	if ge := decodeError(t, r); r.status != 502 || ge.Code != "egress_refused" {
		t.Errorf("connect, templated host: %d %s", r.status, r.body)
	} else {
		noDialDetails(t, "connect", ge.Message)
	}
	// The same through the Connect Portal, where the end user types the subdomain.
	b := newBrowser(t)
	status, page, at := b.get(e.connectLink("gus", "custom.tenant"))
	csrf := csrfRE.FindStringSubmatch(page)
	if status != 200 || csrf == nil {
		t.Fatalf("portal: %d %s", status, page)
	}
	status, page, _ = b.post(at.String(), url.Values{"csrf": {csrf[1]}, "sub": {"acme"}, "api_key": {"k"}})
	if status != 502 || !strings.Contains(page, "Tenant cannot be reached from this gateway") {
		t.Errorf("portal submit: %d %s", status, page)
	}
	noDialDetails(t, "portal", page)
	c := &connection.Connection{ProjectID: "dev", UserID: "gus", IntegrationID: "tenant", Status: connection.StatusValid,
		Credential: connection.Credential{Inputs: map[string]string{"sub": "acme", "api_key": "k"}}}
	if err := e.store.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/projects/dev/sdk/proxy/custom/tenant/me", e.token("gus"), nil, nil)
	if ge := decodeError(t, r); r.status != 502 || ge.Code != "egress_refused" || !strings.Contains(ge.Message, "acme.tenant.test") {
		t.Errorf("proxy, templated host: %d %s", r.status, r.body)
	}
	if got := up.got(); len(got) != 0 {
		t.Errorf("the upstream received %q", got)
	}
	if dns.Queries.Load() == 0 {
		t.Fatal("acme.tenant.test was never resolved")
	}
	if !strings.Contains(e.logs.String(), `"integration":"tenant","host":"acme.tenant.test","address":"127.0.0.1:`+up.port+`"`) {
		t.Errorf("no log of the refused address:\n%s", e.logs.String())
	}
	// Dev mode: the literal http://127.0.0.1:… of the other manifests works.
	e.connectKey("gus", "fakekey", "key-gus")
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/me", e.token("gus"), nil, nil); r.status != 200 {
		t.Errorf("dev mode, literal loopback host: %d %s", r.status, r.body)
	}

	// The operator allows loopback: the same templated host now works.
	e2 := startProxyEnvWith(t, func(c *Config) {
		c.Egress = testEgress()
		c.Egress.Resolver = dns.Resolver()
		writeManifests(t, c.ManifestDir, map[string]string{"tenant": tenant})
	})
	if r := e2.postCredential("gus", `{"integrationId":"tenant","payload":{"sub":"acme","api_key":"k"}}`); r.status != 201 {
		t.Errorf("connect with 127.0.0.0/8 allowed: %d %s", r.status, r.body)
	}
	if got := up.got(); len(got) != 1 || !strings.HasPrefix(got[0], "GET acme.tenant.test:"+up.port+"/api/me Bearer k") {
		t.Errorf("upstream got %q", got)
	}
}

// A token endpoint that answers 307 to another server: the code, the
// verifier and the client secret are not re-posted there, and the
// connect fails with a clear sentence. Refresh and revocation alike.
func TestOAuthRedirectsAreNotFollowed(t *testing.T) {
	second := newUpstream(t, nil)
	first := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, second.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	var apiBase string
	e := startProxyEnvWith(t, func(c *Config) {
		apiBase = second.URL + "/api"
		writeManifests(t, c.ManifestDir, map[string]string{"redir": `id: redir
name: Redir
description: test
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://auth.example.test/authorize
    tokenUrl: ` + first.URL + `/token
    revocationUrl: ` + first.URL + `/revoke
    clientId: ${FAKE_CLIENT_ID}
    clientSecret: ${FAKE_CLIENT_SECRET}
api:
  baseUrl: ` + apiBase + `
  testEndpoint: /me
`})
	})
	// The connect flow, up to the callback with a code.
	b := newBrowser(t)
	status, page, at := b.get(e.connectLink("hal", "custom.redir"))
	csrf := csrfRE.FindStringSubmatch(page)
	if status != 200 || csrf == nil {
		t.Fatalf("portal: %d %s", status, page)
	}
	_, page, _ = b.post(at.String(), url.Values{"csrf": {csrf[1]}})
	m := redirectRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no redirect to the provider: %s", page)
	}
	authURL, _ := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	status, page, _ = b.get(e.base + "/oauth/callback?code=the-code&state=" + url.QueryEscape(authURL.Query().Get("state")))
	if status != 502 || !strings.Contains(page, "Not connected") || !strings.Contains(page, "answered with a redirect, which the gateway does not follow") {
		t.Errorf("callback: %d %s", status, regexp.MustCompile(`\s+`).ReplaceAllString(page, " "))
	}
	noDialDetails(t, "callback page", page)
	if got := first.got(); len(got) != 1 || !strings.Contains(got[0], "code=the-code") {
		t.Errorf("token endpoint got %q", got)
	}
	// Refresh of an expired token, and revocation on disconnect.
	c := &connection.Connection{ProjectID: "dev", UserID: "ida", IntegrationID: "redir", Status: connection.StatusValid,
		Credential: connection.Credential{AccessToken: "old-at", RefreshToken: "the-refresh-token", TokenType: "Bearer"}, ExpiresAt: time.Now().Add(-time.Minute)}
	if err := e.store.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/redir/me", e.token("ida"), nil, nil); r.status != 502 || decodeError(t, r).Code != "refresh_failed" {
		t.Errorf("refresh: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/projects/dev/sdk/credentials/"+c.ID, e.token("ida"), nil, nil); r.status != 204 {
		t.Errorf("disconnect: %d %s", r.status, r.body)
	}
	if got := first.got(); len(got) != 3 {
		t.Errorf("first server got %q, want the code exchange, the refresh and the revocation", got)
	}
	if got := second.got(); len(got) != 0 {
		t.Errorf("the redirect target received %q; it must receive nothing", got)
	}
}

// Errors users see (proxy errors, SDK API errors) never carry what the
// dialler or resolver said; the log has it.
func TestGatewayErrorsCarryNoDialDetails(t *testing.T) {
	down, _ := net.Listen("tcp", "127.0.0.1:0")
	downURL := "http://" + down.Addr().String()
	_ = down.Close()
	nx := fakedns.New(netip.Addr{}) // answers every name with no address
	t.Cleanup(nx.Close)
	e := startProxyEnvWith(t, func(c *Config) {
		c.Egress.Resolver = nx.Resolver()
		writeManifests(t, c.ManifestDir, map[string]string{
			"ccdown": `id: ccdown
name: CC Down
description: test
auth:
  type: oauth2_client_credentials
  clientCredentials:
    tokenUrl: ` + downURL + `/token
api:
  baseUrl: ` + downURL + `/api
  testEndpoint: /me
`,
			"ccnx": `id: ccnx
name: CC NX
description: test
auth:
  type: oauth2_client_credentials
  clientCredentials:
    tokenUrl: http://auth.nowhere.test/token
api:
  baseUrl: http://api.nowhere.test/api
  testEndpoint: /me
`,
			"nx": apiKeyManifest("nx", "http://api.nowhere.test/api"),
		})
	})
	e.connectKey("jo", "fakedown", "k")
	e.connectKey("jo", "nx", "k")
	for _, c := range []struct {
		what string
		r    response
	}{
		{"proxy, refused connection", e.do("GET", "/projects/dev/sdk/proxy/custom/fakedown/me", e.token("jo"), nil, nil)},
		{"proxy, unknown host", e.do("GET", "/projects/dev/sdk/proxy/custom/nx/me", e.token("jo"), nil, nil)},
		{"connect, refused connection", e.postCredential("kai", `{"integrationId":"fakedown","payload":{"api_key":"k"}}`)},
		{"connect, unknown host", e.postCredential("kai", `{"integrationId":"nx","payload":{"api_key":"k"}}`)},
		{"client credentials, refused connection", e.postCredential("kai", `{"integrationId":"ccdown","payload":{"client_id":"a","client_secret":"b"}}`)},
		{"client credentials, unknown host", e.postCredential("kai", `{"integrationId":"ccnx","payload":{"client_id":"a","client_secret":"b"}}`)},
	} {
		ge := decodeError(t, c.r)
		if c.r.status != 502 || ge.Message == "" {
			t.Errorf("%s: %d %s", c.what, c.r.status, c.r.body)
		}
		noDialDetails(t, c.what, ge.Message)
	}
	logs := e.logs.String()
	for _, want := range []string{"connection refused", "no such host"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}
