package demo

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
	"github.com/plugboardhq/plugboard/manifest"
)

// clock is a settable clock for expiry tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	s     *Server
	url   string
	clock *clock
	http  *http.Client
}

// start serves a demo server on 127.0.0.1 with a clock the test moves.
func start(t *testing.T, configure ...func(*Server)) *env {
	t.Helper()
	c := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := New("http://placeholder")
	s.Now = c.Now
	for _, f := range configure {
		f(s)
	}
	h := s.Handler()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.BaseURL = srv.URL // the redirect URI it accepts is the test server's
	return &env{t: t, s: s, url: srv.URL, clock: c,
		http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (e *env) do(req *http.Request) answer {
	e.t.Helper()
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	a := answer{status: res.StatusCode, header: res.Header, body: string(b)}
	_ = json.Unmarshal(b, &a.json) // not every answer is JSON
	return a
}

func (e *env) get(path string, set func(*http.Request)) answer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if set != nil {
		set(req)
	}
	return e.do(req)
}

func (e *env) post(path string, form url.Values, set func(*http.Request)) answer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if set != nil {
		set(req)
	}
	return e.do(req)
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func (e *env) asClient(r *http.Request) { r.SetBasicAuth(OAuthClientID, e.s.ClientSecret) }

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const verifier = "a-verifier-of-at-least-43-characters-0123456789"

func (e *env) authorizeQuery(extra map[string]string) url.Values {
	q := url.Values{"client_id": {OAuthClientID}, "redirect_uri": {e.s.RedirectURI()}, "response_type": {"code"}, "state": {"st-1"},
		"scope": {"profile projects"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return q
}

// code signs in as user and returns the authorization code.
func (e *env) code(user string) string {
	e.t.Helper()
	f := e.authorizeQuery(nil)
	f.Set("decision", "allow")
	f.Set("user", user)
	a := e.post("/demo/oauth/authorize", f, nil)
	if a.status != http.StatusFound {
		e.t.Fatalf("sign-in answered %d: %s", a.status, a.body)
	}
	loc, err := url.Parse(a.header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.s.RedirectURI() {
		e.t.Fatalf("redirected to %s, want the registered redirect URI", got)
	}
	if loc.Query().Get("state") != "st-1" || loc.Query().Get("code") == "" {
		e.t.Fatalf("redirect carries %q", loc.RawQuery)
	}
	return loc.Query().Get("code")
}

func (e *env) exchange(code, verifier string) answer {
	e.t.Helper()
	return e.post("/demo/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.s.RedirectURI()},
		"code_verifier": {verifier}}, e.asClient)
}

func (e *env) refresh(rt string) answer {
	e.t.Helper()
	return e.post("/demo/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, e.asClient)
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func wantOAuthError(t *testing.T, a answer, status int, code string) {
	t.Helper()
	if a.status != status || str(a.json, "error") != code {
		t.Fatalf("want %d %s, got %d %s", status, code, a.status, a.body)
	}
}

func wantUnauthorized(t *testing.T, a answer, message string) {
	t.Helper()
	if a.status != http.StatusUnauthorized || str(a.json, "error") != "unauthorized" || !strings.Contains(str(a.json, "message"), message) {
		t.Fatalf("want 401 unauthorized (%q), got %d %s", message, a.status, a.body)
	}
	if a.header.Get("WWW-Authenticate") == "" || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Errorf("401 without WWW-Authenticate or JSON: %v", a.header)
	}
}

func TestAPIChecksCredentials(t *testing.T) {
	e := start(t)
	key := func(k string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("X-Api-Key", k) } }
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	for _, c := range []struct {
		name    string
		set     func(*http.Request)
		message string
	}{
		{"no credential", nil, "no credential"},
		{"wrong API key", key("sk_live_nope"), "API key is not valid"},
		{"API key without a user", key(APIKeyPrefix), "API key is not valid"},
		{"wrong password", basic("ada", "hunter2"), "wrong user name or password"},
		{"bad user name", basic("Ada Lovelace", BasicPassword), "wrong user name or password"},
		{"unknown bearer token", bearer("demo-at-0000"), "invalid, expired or revoked"},
		{"empty bearer token", bearer(""), "no credential"},
	} {
		t.Run(c.name, func(t *testing.T) { wantUnauthorized(t, e.get("/demo/api/me", c.set), c.message) })
	}
	if a := e.get("/demo/api/me", key("demo-key-ada")); a.status != 200 || str(a.json, "user") != "ada" || str(a.json, "auth") != "api_key" {
		t.Errorf("good API key: %d %s", a.status, a.body)
	}
	if a := e.get("/demo/api/me", basic("grace", BasicPassword)); a.status != 200 || str(a.json, "user") != "grace" || str(a.json, "auth") != "basic" {
		t.Errorf("good basic: %d %s", a.status, a.body)
	}
}

func TestAPIProjectsAndEcho(t *testing.T) {
	e := start(t)
	key := func(r *http.Request) { r.Header.Set("X-Api-Key", "demo-key-ada") }
	a := e.get("/demo/api/projects", key)
	if list, _ := a.json["projects"].([]any); a.status != 200 || len(list) != 2 {
		t.Fatalf("projects: %d %s", a.status, a.body)
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/demo/api/projects", strings.NewReader(`{"name":"Difference Engine"}`))
	key(req)
	if a := e.do(req); a.status != http.StatusCreated || str(a.json, "name") != "Difference Engine" {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	req, _ = http.NewRequest(http.MethodPost, e.url+"/demo/api/projects", strings.NewReader(`{"nom":"x"}`))
	key(req)
	if a := e.do(req); a.status != http.StatusBadRequest {
		t.Errorf("unknown field: %d %s", a.status, a.body)
	}
	// Another user does not see ada's projects.
	if a := e.get("/demo/api/projects", func(r *http.Request) { r.Header.Set("X-Api-Key", "demo-key-grace") }); strings.Contains(a.body, "Difference") {
		t.Errorf("grace sees ada's project: %s", a.body)
	}
	req, _ = http.NewRequest(http.MethodPost, e.url+"/demo/api/echo?x=1", strings.NewReader(`hello`))
	key(req)
	a = e.do(req)
	if a.status != 200 || str(a.json, "body") != "hello" || str(a.json, "query") != "x=1" || strings.Contains(a.body, "demo-key-ada") {
		t.Errorf("echo: %d %s", a.status, a.body)
	}
}

func TestAuthorizeRequest(t *testing.T) {
	e := start(t)
	a := e.get("/demo/oauth/authorize?"+e.authorizeQuery(nil).Encode(), nil)
	if a.status != 200 || !strings.Contains(a.body, `id="allow"`) || !strings.Contains(a.body, `value="ada"`) {
		t.Fatalf("sign-in page: %d %s", a.status, a.body)
	}
	csp := a.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'nonce-", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// Problems with the client or redirect URI are shown, never redirected.
	for _, extra := range []map[string]string{{"client_id": "someone-else"}, {"redirect_uri": "https://evil.example/cb"}, {"redirect_uri": ""}} {
		if a := e.get("/demo/oauth/authorize?"+e.authorizeQuery(extra).Encode(), nil); a.status != http.StatusBadRequest || a.header.Get("Location") != "" {
			t.Errorf("%v: %d %v", extra, a.status, a.header.Get("Location"))
		}
	}
	// PKCE S256 is required: other problems go back to the client.
	for _, c := range []struct {
		extra map[string]string
		err   string
	}{
		{map[string]string{"code_challenge": ""}, "invalid_request"},
		{map[string]string{"code_challenge_method": "plain"}, "invalid_request"},
		{map[string]string{"code_challenge_method": ""}, "invalid_request"},
		{map[string]string{"code_challenge": "short"}, "invalid_request"},
		{map[string]string{"response_type": "token"}, "unsupported_response_type"},
	} {
		a := e.get("/demo/oauth/authorize?"+e.authorizeQuery(c.extra).Encode(), nil)
		loc, _ := url.Parse(a.header.Get("Location"))
		if a.status != http.StatusFound || loc.Query().Get("error") != c.err || loc.Query().Get("state") != "st-1" {
			t.Errorf("%v: %d %s", c.extra, a.status, a.header.Get("Location"))
		}
	}
	// Deny.
	f := e.authorizeQuery(nil)
	f.Set("decision", "deny")
	a = e.post("/demo/oauth/authorize", f, nil)
	if loc, _ := url.Parse(a.header.Get("Location")); a.status != http.StatusFound || loc.Query().Get("error") != "access_denied" {
		t.Errorf("deny: %d %s", a.status, a.header.Get("Location"))
	}
	// A typed name must be a name.
	f = e.authorizeQuery(nil)
	f.Set("decision", "allow")
	f.Set("user", "other")
	f.Set("other", "<script>")
	if a := e.post("/demo/oauth/authorize", f, nil); a.status != http.StatusBadRequest || !strings.Contains(a.body, `id="error"`) || strings.Contains(a.body, "<script>") {
		t.Errorf("bad name: %d %s", a.status, a.body)
	}
	f.Set("other", "Linus")
	if a := e.post("/demo/oauth/authorize", f, nil); a.status != http.StatusFound {
		t.Errorf("typed name: %d %s", a.status, a.body)
	}
}

func TestCodeIsSingleUseAndPKCEChecked(t *testing.T) {
	e := start(t)
	wantOAuthError(t, e.exchange(e.code("ada"), "the-wrong-verifier-of-at-least-43-characters-xx"), 400, "invalid_grant")
	wantOAuthError(t, e.exchange(e.code("ada"), ""), 400, "invalid_grant")

	c := e.code("ada")
	a := e.post("/demo/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {e.s.RedirectURI()},
		"code_verifier": {verifier}}, func(r *http.Request) { r.SetBasicAuth(OAuthClientID, "wrong") })
	wantOAuthError(t, a, 401, "invalid_client")

	a = e.exchange(c, verifier)
	if a.status != 200 || str(a.json, "access_token") == "" || str(a.json, "refresh_token") == "" || a.json["expires_in"] != float64(120) {
		t.Fatalf("exchange: %d %s", a.status, a.body)
	}
	at := str(a.json, "access_token")
	if me := e.get("/demo/api/me", bearer(at)); me.status != 200 || str(me.json, "user") != "ada" || str(me.json, "auth") != "oauth2" {
		t.Fatalf("me: %d %s", me.status, me.body)
	}
	// The code again: refused, and what it gave is revoked.
	wantOAuthError(t, e.exchange(c, verifier), 400, "invalid_grant")
	wantUnauthorized(t, e.get("/demo/api/me", bearer(at)), "invalid, expired or revoked")

	// Client id and secret in the body work too; a redirect URI must match.
	c = e.code("grace")
	a = e.post("/demo/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {e.s.RedirectURI() + "x"},
		"code_verifier": {verifier}, "client_id": {OAuthClientID}, "client_secret": {e.s.ClientSecret}}, nil)
	wantOAuthError(t, a, 400, "invalid_grant")
}

func TestRefreshTokensRotate(t *testing.T) {
	e := start(t)
	a := e.exchange(e.code("ada"), verifier)
	rt1 := str(a.json, "refresh_token")
	b := e.refresh(rt1)
	rt2, at2 := str(b.json, "refresh_token"), str(b.json, "access_token")
	if b.status != 200 || rt2 == "" || rt2 == rt1 || at2 == "" {
		t.Fatalf("refresh: %d %s", b.status, b.body)
	}
	if me := e.get("/demo/api/me", bearer(at2)); me.status != 200 || str(me.json, "user") != "ada" {
		t.Fatalf("me after refresh: %d %s", me.status, me.body)
	}
	// The rotated token is refused, and its reuse revokes the whole grant.
	wantOAuthError(t, e.refresh(rt1), 400, "invalid_grant")
	wantOAuthError(t, e.refresh(rt2), 400, "invalid_grant")
	wantUnauthorized(t, e.get("/demo/api/me", bearer(at2)), "revoked")
	wantOAuthError(t, e.refresh("demo-rt-unknown"), 400, "invalid_grant")
}

// Of many concurrent refreshes with one refresh token, exactly one wins.
func TestRefreshRace(t *testing.T) {
	e := start(t)
	rt := str(e.exchange(e.code("ada"), verifier).json, "refresh_token")
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.url+"/demo/oauth/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			e.asClient(req)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d refreshes succeeded with one refresh token, want 1", ok.Load())
	}
}

func TestTokensExpire(t *testing.T) {
	e := start(t, func(s *Server) { s.AccessTokenLifetime = 3 * time.Second })
	a := e.exchange(e.code("ada"), verifier)
	if a.json["expires_in"] != float64(3) {
		t.Errorf("expires_in %v, want the configured 3", a.json["expires_in"])
	}
	at, rt := str(a.json, "access_token"), str(a.json, "refresh_token")
	e.clock.Add(2 * time.Second)
	if me := e.get("/demo/api/me", bearer(at)); me.status != 200 {
		t.Fatalf("before expiry: %d %s", me.status, me.body)
	}
	e.clock.Add(time.Second)
	wantUnauthorized(t, e.get("/demo/api/me", bearer(at)), "expired")
	if b := e.refresh(rt); b.status != 200 {
		t.Fatalf("refresh after expiry: %d %s", b.status, b.body)
	}
	// Codes expire too.
	c := e.code("ada")
	e.clock.Add(DefaultCodeLifetime)
	wantOAuthError(t, e.exchange(c, verifier), 400, "invalid_grant")
}

func TestClientCredentials(t *testing.T) {
	e := start(t)
	grant := url.Values{"grant_type": {"client_credentials"}}
	wantOAuthError(t, e.post("/demo/oauth/token", grant, func(r *http.Request) { r.SetBasicAuth(ServiceClientID, "nope") }), 401, "invalid_client")
	wantOAuthError(t, e.post("/demo/oauth/token", grant, func(r *http.Request) { r.SetBasicAuth("stranger", ServiceClientSecret) }), 401, "invalid_client")
	wantOAuthError(t, e.post("/demo/oauth/token", grant, nil), 401, "invalid_client")
	a := e.post("/demo/oauth/token", grant, func(r *http.Request) { r.SetBasicAuth(ServiceClientID, ServiceClientSecret) })
	if a.status != 200 || str(a.json, "access_token") == "" || a.json["refresh_token"] != nil {
		t.Fatalf("client credentials: %d %s", a.status, a.body)
	}
	me := e.get("/demo/api/me", bearer(str(a.json, "access_token")))
	if me.status != 200 || str(me.json, "auth") != "client_credentials" || str(me.json, "user") != "client:"+ServiceClientID {
		t.Errorf("me: %d %s", me.status, me.body)
	}
	wantOAuthError(t, e.post("/demo/oauth/token", url.Values{"grant_type": {"password"}}, e.asClient), 400, "unsupported_grant_type")
}

func TestRevoke(t *testing.T) {
	e := start(t)
	a := e.exchange(e.code("ada"), verifier)
	at, rt := str(a.json, "access_token"), str(a.json, "refresh_token")
	wantOAuthError(t, e.post("/demo/oauth/revoke", url.Values{"token": {at}}, nil), 401, "invalid_client")
	if r := e.post("/demo/oauth/revoke", url.Values{"token": {at}}, e.asClient); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wantUnauthorized(t, e.get("/demo/api/me", bearer(at)), "revoked")
	if r := e.refresh(rt); r.status != 200 {
		t.Fatalf("revoking the access token should leave the refresh token: %d %s", r.status, r.body)
	}
	// Revoking a refresh token ends the grant; unknown tokens are fine.
	b := e.exchange(e.code("grace"), verifier)
	if r := e.post("/demo/oauth/revoke", url.Values{"token": {str(b.json, "refresh_token")}}, e.asClient); r.status != 200 {
		t.Fatal(r.body)
	}
	wantOAuthError(t, e.refresh(str(b.json, "refresh_token")), 400, "invalid_grant")
	wantUnauthorized(t, e.get("/demo/api/me", bearer(str(b.json, "access_token"))), "revoked")
	if r := e.post("/demo/oauth/revoke", url.Values{"token": {"whatever"}}, e.asClient); r.status != 200 {
		t.Errorf("unknown token: %d", r.status)
	}
}

func TestGrantsAreBounded(t *testing.T) {
	e := start(t, func(s *Server) { s.MaxTokens = 3 })
	var last string
	for i := 0; i < 6; i++ {
		e.clock.Add(time.Second) // later tokens expire later
		last = str(e.exchange(e.code("ada"), verifier).json, "access_token")
	}
	for k, name := range []string{"codes", "access tokens", "refresh tokens"} {
		if n := e.s.grants.count(kind(k)); n > 3 {
			t.Errorf("%d %s held, cap 3", n, name)
		}
	}
	if me := e.get("/demo/api/me", bearer(last)); me.status != 200 {
		t.Errorf("the newest token was evicted: %d %s", me.status, me.body)
	}
}

func TestManifests(t *testing.T) {
	s := New("http://127.0.0.1:8080/")
	got := map[string]string{}
	for _, f := range s.Manifests() {
		if f.IsWorkflow() {
			continue // TestWorkflowRunsOnTheDemoAPI
		}
		if len(f.Problems) > 0 || f.Integration == nil {
			t.Errorf("%s: %v", f.Path, f.Problems)
			continue
		}
		if !strings.HasPrefix(f.Path, PathPrefix) || !strings.HasPrefix(f.Integration.ID, "demo-") || f.Integration.Icon == nil {
			t.Errorf("%s: id %s, icon %v", f.Path, f.Integration.ID, f.Integration.Icon != nil)
		}
		got[f.Integration.ID] = string(f.Integration.Auth.Type)
		for _, hp := range f.Integration.LiteralHosts() {
			if hp != "127.0.0.1:8080" {
				t.Errorf("%s calls %s, want the gateway's own 127.0.0.1:8080", f.Integration.ID, hp)
			}
		}
		if oa := f.Integration.Auth.OAuth2; oa != nil {
			if v, ok := oa.ClientSecret.Value(); !ok || v != s.ClientSecret {
				t.Errorf("demo-oauth's client secret is not the server's")
			}
		}
	}
	want := map[string]string{"demo-apikey": "api_key", "demo-basic": "basic", "demo-oauth": "oauth2", "demo-clientcreds": "oauth2_client_credentials"}
	for id, typ := range want {
		if got[id] != typ {
			t.Errorf("%s: auth type %q, want %q", id, got[id], typ)
		}
	}
}

// The client secret reference is answered by the demo, never from the
// environment.
func TestManifestsIgnoreEnvironment(t *testing.T) {
	t.Setenv(ClientSecretRef, "from-the-environment")
	s := New("http://127.0.0.1:8080")
	for _, f := range s.Manifests() {
		if f.Integration == nil {
			continue // the demo workflow
		}
		if oa := f.Integration.Auth.OAuth2; oa != nil {
			if v, _ := oa.ClientSecret.Value(); v == "from-the-environment" {
				t.Error("the demo read its client secret from the environment")
			}
		}
	}
}

// Minting a user token lets the caller act as any user: the demo mints
// only for requests from this machine, whatever address the dev gateway
// listens on.
func TestAppTokenOnlyFromThisMachine(t *testing.T) {
	key, err := usertoken.GenerateRSA(2048)
	if err != nil {
		t.Fatal(err)
	}
	mux := routes.New()
	(&Playground{ProjectID: "dev", PublicURL: "http://127.0.0.1:8080", Key: key}).Register(mux)
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"127.0.0.1:50000", http.StatusOK},
		{"[::1]:50000", http.StatusOK},
		{"10.1.2.3:50000", http.StatusForbidden},
		{"192.168.1.20:50000", http.StatusForbidden},
		{"[2001:db8::1]:50000", http.StatusForbidden},
	} {
		req := httptest.NewRequest("POST", "/demo/app/token", strings.NewReader(`{"user":"ada"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		mux.Mux().ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("from %s: %d %s, want %d", tc.remote, rec.Code, rec.Body, tc.want)
		}
		if tc.want == http.StatusOK && !strings.Contains(rec.Body.String(), "token") {
			t.Errorf("from %s: no token in %s", tc.remote, rec.Body)
		}
	}
}

// The embedded workflow loads against the demo integrations, as the
// reloader merges them, and runs on demo-apikey.
func TestWorkflowRunsOnTheDemoAPI(t *testing.T) {
	res := manifest.Merge(New("http://127.0.0.1:8080").Manifests(), &manifest.Result{})
	if probs := res.Problems(); len(probs) > 0 {
		t.Fatalf("the demo files have problems: %v", probs)
	}
	wfs := res.Workflows()
	if len(wfs) != 1 || wfs[0].ID != "demo-greeting" || wfs[0].Integration != "demo-apikey" || !wfs[0].EnabledByDefault {
		t.Fatalf("demo workflows: %+v", wfs)
	}
}
