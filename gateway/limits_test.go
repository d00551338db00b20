package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/ratelimit"
)

func rate(t testing.TB, s string) ratelimit.Rate {
	t.Helper()
	r, err := ratelimit.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *proxyEnv) metric(name string) string {
	e.t.Helper()
	_, body, _ := e.get("/metrics", false)
	var lines []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, name) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// Guessing API keys through credential creation: each attempt makes the
// gateway call the provider. Beyond the user's rate the attempt is refused
// before the provider is called, with Retry-After; other users go on.
func TestCredentialGuessingIsRateLimitedPerUser(t *testing.T) {
	e := startProxyEnvWith(t, func(c *Config) {
		c.Limits.ConnectPerUser = rate(t, "3/h")
		c.Limits.ConnectPerIP = ratelimit.Disabled
	})
	guess := func(user, key string) response {
		return e.do("POST", "/projects/dev/sdk/credentials", e.token(user),
			strings.NewReader(`{"integrationId":"custom.fakekey","payload":{"api_key":"`+key+`"}}`), nil)
	}
	for i := 0; i < 3; i++ {
		if r := guess("mallory", fmt.Sprint("guess-", i)); r.status != 400 || !strings.Contains(r.body, "credential_test_failed") {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	calls := e.provider.APICalls.Load()
	for i := 0; i < 20; i++ {
		r := guess("mallory", fmt.Sprint("more-", i))
		if r.status != 429 || r.header.Get("X-Plugboard-Error") != "rate_limited" || !strings.Contains(r.body, `"rate_limited"`) {
			t.Fatalf("guess beyond the limit: %d %s", r.status, r.body)
		}
		// 3/h: one attempt every 20 minutes.
		if ra := r.header.Get("Retry-After"); ra != "1200" {
			t.Fatalf("Retry-After %q, want 1200", ra)
		}
	}
	if n := e.provider.APICalls.Load(); n != calls {
		t.Errorf("refused attempts reached the provider %d times", n-calls)
	}
	e.provider.AddAPIKey("alice-key")
	if r := guess("alice", "alice-key"); r.status != 201 {
		t.Errorf("another user is limited too: %d %s", r.status, r.body)
	}
	if m := e.metric("plugboard_rate_limited_total"); !strings.Contains(m, `plugboard_rate_limited_total{by="user",route="POST /projects/{pid}/sdk/credentials"} 20`) {
		t.Errorf("metric:\n%s", m)
	}
}

// Every connect route is limited per client address, and the address is
// the TCP peer: an attacker rotating X-Forwarded-For (and users) is still
// one address. Only behind a trusted proxy is X-Forwarded-For read.
func TestConnectRoutesAreRateLimitedPerIP(t *testing.T) {
	routes := []struct {
		name, method, path string
		body               func(i int) string
		user               bool // send a user token
	}{
		{"credentials", "POST", "/projects/dev/sdk/credentials", func(i int) string {
			return `{"integrationId":"custom.fakekey","payload":{"api_key":"k` + fmt.Sprint(i) + `"}}`
		}, true},
		{"build-oauth", "GET", "/v2/projects/dev/sdk/actions/build-oauth?integrationId=custom.fakeoauth&oauthMetaKeyId=k1", nil, true},
		{"connect link", "GET", "/connect/link/not-a-code", nil, false},
		{"portal submit", "POST", "/connect/portal/fakekey", func(int) string { return "csrf=x" }, false},
		{"OAuth callback", "GET", "/oauth/callback?state=guess&code=x", nil, false},
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			e := startProxyEnvWith(t, func(c *Config) {
				c.Limits.ConnectPerIP = rate(t, "4/m")
				c.Limits.ConnectPerUser = ratelimit.Disabled
			})
			send := func(i int, xff string) response {
				var body *strings.Reader
				if rt.body != nil {
					body = strings.NewReader(rt.body(i))
				} else {
					body = strings.NewReader("")
				}
				tok := ""
				if rt.user {
					tok = e.token(fmt.Sprint("user-", i))
				}
				hdr := map[string]string{"X-Forwarded-For": xff}
				if rt.method == "POST" && rt.body != nil && !rt.user {
					hdr["Content-Type"] = "application/x-www-form-urlencoded"
				}
				return e.do(rt.method, rt.path, tok, body, hdr)
			}
			for i := 0; i < 4; i++ {
				if r := send(i, fmt.Sprintf("198.51.100.%d", i)); r.status == 429 {
					t.Fatalf("request %d within the limit refused", i)
				}
			}
			for i := 4; i < 10; i++ {
				r := send(i, fmt.Sprintf("198.51.100.%d", i))
				if r.status != 429 || r.header.Get("X-Plugboard-Error") != "rate_limited" || r.header.Get("Retry-After") != "15" {
					t.Fatalf("request %d with a fresh X-Forwarded-For and user: %d Retry-After=%q %s", i, r.status, r.header.Get("Retry-After"), r.body)
				}
			}
		})
	}
}

func TestTrustedProxyForwardedForSeparatesClients(t *testing.T) {
	e := startProxyEnvWith(t, func(c *Config) {
		c.Limits.ConnectPerIP = rate(t, "2/m")
		c.Limits.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	open := func(client string) int {
		// What the attacker writes left of the proxy's own hop is ignored.
		return e.do("GET", "/connect/link/nothing", "", nil, map[string]string{"X-Forwarded-For": "6.6.6." + client + ", 203.0.113.9"}).status
	}
	for i := 0; i < 2; i++ {
		if s := open(fmt.Sprint(i)); s != 404 {
			t.Fatalf("within the limit: %d", s)
		}
	}
	if s := open("7"); s != 429 {
		t.Fatalf("same client behind the proxy, third request: %d", s)
	}
	if s := e.do("GET", "/connect/link/nothing", "", nil, map[string]string{"X-Forwarded-For": "203.0.113.10"}).status; s != 404 {
		t.Errorf("another client behind the proxy is limited too: %d", s)
	}
}

func TestConnectionCapPerUserAndIntegration(t *testing.T) {
	e := startProxyEnvWith(t, func(c *Config) {
		c.Limits.MaxConnectionsPerUserIntegration = 2
		c.Limits.MaxConnectionsPerUser = 3
	})
	e.provider.AddAPIKey("good-key")
	create := func(user, integration string) response {
		return e.do("POST", "/projects/dev/sdk/credentials", e.token(user),
			strings.NewReader(`{"integrationId":"custom.`+integration+`","payload":{"api_key":"good-key"}}`), nil)
	}
	for i := 0; i < 2; i++ {
		if r := create("hoarder", "fakekey"); r.status != 201 {
			t.Fatalf("connection %d: %d %s", i+1, r.status, r.body)
		}
	}
	calls := e.provider.APICalls.Load()
	r := create("hoarder", "fakekey")
	if r.status != 409 || r.header.Get("X-Plugboard-Error") != "connection_limit" || !strings.Contains(r.body, "already has 2 Fake Key connections") {
		t.Fatalf("third connection: %d %s", r.status, r.body)
	}
	if e.provider.APICalls.Load() != calls {
		t.Error("the refused connection was tested at the provider")
	}
	// Another integration is fine up to the total cap of 3.
	if r := create("hoarder", "fakequery"); r.status != 201 {
		t.Fatalf("other integration: %d %s", r.status, r.body)
	}
	if r := create("hoarder", "fakequery"); r.status != 409 || !strings.Contains(r.body, "already has 3 connections in all") {
		t.Fatalf("beyond the total cap: %d %s", r.status, r.body)
	}
	// A connect link for one more is refused up front; OAuth too.
	if r := e.do("POST", "/projects/dev/sdk/connect-links", e.token("hoarder"), strings.NewReader(`{"integrationId":"custom.fakeoauth"}`), nil); r.status != 409 || !strings.Contains(r.body, "connection_limit") {
		t.Errorf("connect link beyond the cap: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v2/projects/dev/sdk/actions/build-oauth?integrationId=custom.fakeoauth&oauthMetaKeyId=k1", e.token("hoarder"), nil, nil); r.status != 409 || !strings.Contains(r.body, "connection_limit") {
		t.Errorf("build-oauth beyond the cap: %d %s", r.status, r.body)
	}
	// Reconnecting an existing connection is always allowed.
	list, _ := e.store.List(context.Background(), "dev", "hoarder")
	r = e.do("POST", "/projects/dev/sdk/connect-links", e.token("hoarder"), strings.NewReader(`{"integrationId":"custom.fakekey","credentialId":"`+list[0].ID+`"}`), nil)
	if r.status != 201 {
		t.Fatalf("reconnect link: %d %s", r.status, r.body)
	}
	link := strings.Split(strings.Split(r.body, `"url": "`)[1], `"`)[0]
	b := newBrowser(t)
	status, page, at := b.get(link)
	csrf := csrfRE.FindStringSubmatch(page)
	if status != 200 || csrf == nil {
		t.Fatalf("portal: %d %s", status, page)
	}
	if status, page, _ := b.post(at.String(), url.Values{"csrf": {csrf[1]}, "api_key": {"good-key"}}); status != 200 || !strings.Contains(page, "is connected") {
		t.Fatalf("reconnect at the cap: %d %s", status, page)
	}
	if n, _ := e.store.Count(context.Background(), "dev", "hoarder", ""); n != 3 {
		t.Errorf("%d connections stored, want 3", n)
	}
	// Other users are not affected.
	if r := create("someone", "fakekey"); r.status != 201 {
		t.Errorf("another user: %d %s", r.status, r.body)
	}
}

// An OAuth flow started below the cap that finishes above it is refused
// before the code is exchanged (the token endpoint is not called).
func TestConnectionCapCheckedBeforeCodeExchange(t *testing.T) {
	e := startProxyEnvWith(t, func(c *Config) { c.Limits.MaxConnectionsPerUserIntegration = 1 })
	b := newBrowser(t)
	authURL := oauthToProvider(t, e, b, "racer")
	e.connectOAuth("racer", time.Hour) // meanwhile, another tab connected
	calls := e.provider.TokenCalls.Load()
	status, page, _ := signIn(t, b, authURL, "allow")
	if status != 409 || !strings.Contains(page, "already has 1 Fake OAuth connections") {
		t.Fatalf("callback beyond the cap: %d %s", status, page)
	}
	if e.provider.TokenCalls.Load() != calls {
		t.Error("the code was exchanged although nothing could be stored")
	}
}

// An upstream path that always answers 401: every call used to force a
// refresh with the operator's client secret. Within the cooldown the 401
// is passed on without calling the token endpoint.
func TestProxyForcedRefreshCooldown(t *testing.T) {
	e := startProxyEnv(t)
	conn := e.connectOAuth("pat", time.Hour)
	tok := e.token("pat")
	for i := 0; i < 50; i++ {
		r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/status?code=401", tok, nil, nil)
		if r.status != 401 || r.header.Get("X-Plugboard-Error") != "" {
			t.Fatalf("call %d: %d %s, want the upstream's 401", i, r.status, r.body)
		}
	}
	if n := e.provider.TokenCalls.Load(); n > 1 {
		t.Errorf("50 calls answered 401 caused %d token requests, want at most 1", n)
	}
	// An expired token is still refreshed within the cooldown.
	before := e.provider.TokenCalls.Load()
	cur, err := e.store.Get(context.Background(), "dev", "pat", conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.ExpiresAt = time.Now().Add(-time.Minute)
	if err := e.store.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	e.srv.creds.Forget("dev", "pat", "fakeoauth")
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok, nil, nil); r.status != http.StatusOK {
		t.Fatalf("after expiry: %d %s", r.status, r.body)
	}
	if e.provider.TokenCalls.Load() != before+1 {
		t.Errorf("the expired token was not refreshed (%d token calls)", e.provider.TokenCalls.Load()-before)
	}
}

// The cooldown does not cost concurrent requests their retry: a token the
// provider revoked early, many requests at once, all answered 200 after a
// single refresh.
func TestProxy401StormWithCooldownRefreshesOnceAndRetriesAll(t *testing.T) {
	e := startProxyEnv(t)
	e.provider.TokenDelay = 50 * time.Millisecond
	conn := e.connectOAuth("quinn", time.Hour)
	e.provider.RevokeAccess(conn.Credential.AccessToken)
	tok := e.token("quinn")
	statuses := e.concurrentGets(30, tok, "/projects/dev/sdk/proxy/custom/fakeoauth/me")
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: %d, want 200 after the refresh", i, s)
		}
	}
	if n := e.provider.TokenCalls.Load(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	// Later requests still carry the old token: they are retried with the
	// new one, within the cooldown, without another token request.
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok, nil, nil); r.status != 200 || e.provider.TokenCalls.Load() != 1 {
		t.Errorf("after the storm: %d, %d token requests", r.status, e.provider.TokenCalls.Load())
	}
}
