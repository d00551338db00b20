package gateway

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

// consoleClient is a browser-like client of the admin console: a cookie
// jar, and no redirects followed so tests see each answer.
type consoleClient struct {
	e      *proxyEnv
	client *http.Client
}

func (e *proxyEnv) console() *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{e: e, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) get(path string) response {
	c.e.t.Helper()
	return c.send("GET", path, nil)
}

func (c *consoleClient) post(path string, form url.Values) response {
	c.e.t.Helper()
	return c.send("POST", path, form)
}

func (c *consoleClient) send(method, path string, form url.Values) response {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r := response{resp.StatusCode, resp.Header, b.String()}
	if !strings.HasPrefix(path, "/admin/v1/") {
		checkConsoleHeaders(c.e.t, method+" "+path, r)
	}
	return r
}

// checkConsoleHeaders: every console page is no-store under the strict CSP.
func checkConsoleHeaders(t testing.TB, what string, r response) {
	t.Helper()
	if r.status == http.StatusSeeOther {
		return
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'nonce-", "script-src 'nonce-", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("%s: CSP %q allows unsafe sources", what, csp)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", what, r.header.Get("Cache-Control"))
	}
}

func (c *consoleClient) signIn() {
	c.e.t.Helper()
	r := c.post("/admin/sign-in", url.Values{"token": {c.e.admin}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/" {
		c.e.t.Fatalf("sign-in: %d %s", r.status, r.body)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in the page:\n%s", page)
	}
	return m[1]
}

func TestConsoleSignIn(t *testing.T) {
	e := startProxyEnv(t)
	c := e.console()
	r := c.get("/admin/")
	if r.status != 200 || !strings.Contains(r.body, `type="password"`) || !strings.Contains(r.body, `<label for="token">Admin token</label>`) {
		t.Fatalf("signed out /admin/: %d %s", r.status, r.body)
	}
	if r := c.get("/admin/integrations"); r.status != http.StatusUnauthorized || !strings.Contains(r.body, `action="/admin/sign-in"`) {
		t.Errorf("signed out /admin/integrations: %d", r.status)
	}

	r = c.post("/admin/sign-in", url.Values{"token": {"test-admin-token-WRONG"}})
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "That is not the admin token.") || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("wrong token: %d %v %s", r.status, r.header.Values("Set-Cookie"), r.body)
	}

	r = c.post("/admin/sign-in", url.Values{"token": {e.admin}})
	cookies := r.header.Values("Set-Cookie")
	if r.status != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("right token: %d %v", r.status, cookies)
	}
	ck := cookies[0]
	for _, want := range []string{"plugboard_console=", "Path=/admin/", "HttpOnly", "SameSite=Strict", "Max-Age=28800"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %q", ck, want)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("cookie on plain HTTP is Secure (the browser would drop it): %q", ck)
	}
	if strings.Contains(ck, e.admin) {
		t.Errorf("the cookie holds the admin token: %q", ck)
	}

	r = c.get("/admin/")
	rev := e.srv.Reloader().Catalog().Revision()
	if r.status != 200 || !strings.Contains(r.body, rev) || !strings.Contains(r.body, "Sign out") {
		t.Fatalf("overview: %d %s", r.status, r.body)
	}
	if r := c.get("/admin/integrations"); r.status != 200 || !strings.Contains(r.body, "fakeoauth.yaml") {
		t.Errorf("integrations: %d %s", r.status, r.body)
	}
	// The admin API's bearer token works as before, and the console's
	// cookie is no way into the API.
	if r := e.adminDo("GET", "/admin/v1/integrations"); r.status != 200 {
		t.Errorf("admin API with the bearer token: %d", r.status)
	}
	if r := c.get("/admin/v1/integrations"); r.status != http.StatusUnauthorized {
		t.Errorf("admin API with only the console cookie: %d", r.status)
	}

	// Signing out needs the CSRF token; then the session is over.
	csrf := csrfOf(t, r.body)
	if r := c.post("/admin/sign-out", url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("sign-out without CSRF: %d", r.status)
	}
	if r := c.post("/admin/sign-out", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign-out: %d %q", r.status, r.header.Get("Set-Cookie"))
	}
	if r := c.get("/admin/integrations"); r.status != http.StatusUnauthorized {
		t.Errorf("after signing out: %d", r.status)
	}
}

func TestConsoleForgedCookieAndCSRF(t *testing.T) {
	e := startProxyEnv(t)
	conn := e.connectOAuth("ann", time.Hour)
	c := e.console()
	c.signIn()
	page := c.get("/admin/connections")
	csrf := csrfOf(t, page.body)

	for name, form := range map[string]url.Values{"no token": {}, "wrong token": {"csrf": {csrf + "x"}}} {
		if r := c.post("/admin/connections/"+conn.ID+"/disconnect", form); r.status != http.StatusForbidden || !strings.Contains(r.body, "CSRF") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// Another session's token is refused too: it is bound to its session.
	other := e.console()
	other.signIn()
	if r := other.post("/admin/connections/"+conn.ID+"/disconnect", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
		t.Errorf("another session's CSRF token: %d", r.status)
	}
	if _, err := e.store.GetConnection(context.Background(), conn.ID); err != nil {
		t.Fatalf("the connection went: %v", err)
	}
	// A cookie that was not sealed by this gateway is no session.
	forged := e.do("GET", "/admin/connections", "", nil, map[string]string{"Cookie": "plugboard_console=v1.k1.AAAA"})
	if forged.status != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d", forged.status)
	}
}

// TestConsoleConnectionsNoSecrets: the console's pages list, filter and
// show connections and disconnect one, and never show a secret.
func TestConsoleConnectionsNoSecrets(t *testing.T) {
	e := startProxyEnv(t)
	oauthConn := e.connectOAuth("ann", time.Hour)
	keyConn := e.storeConn(&connection.Connection{UserID: "ann", IntegrationID: "fakekey",
		Credential: connection.Credential{Inputs: map[string]string{"api_key": "secret-input-value-7731"}}})
	queryConn := e.storeConn(&connection.Connection{UserID: "bea", IntegrationID: "fakequery",
		Credential: connection.Credential{Inputs: map[string]string{"api_key": "visible-query-key", "legacy": "undeclared-value-5512"}}})
	ccConn := e.storeConn(&connection.Connection{UserID: "bea", IntegrationID: "fakecc", ExpiresAt: time.Now().Add(time.Hour),
		Credential: connection.Credential{AccessToken: "cc-access-token-9981", ClientID: "cc-client", ClientSecret: "cc-client-secret-4410"}})
	secrets := []string{oauthConn.Credential.AccessToken, oauthConn.Credential.RefreshToken, "secret-input-value-7731",
		"undeclared-value-5512", "cc-access-token-9981", "cc-client-secret-4410", e.provider.ClientSecret, e.admin}

	c := e.console()
	c.signIn()
	var bodies []string
	keep := func(r response) response { bodies = append(bodies, r.body); return r }

	all := keep(c.get("/admin/connections"))
	for _, conn := range []*connection.Connection{oauthConn, keyConn, queryConn, ccConn} {
		if !strings.Contains(all.body, `data-id="`+conn.ID+`"`) {
			t.Errorf("the list lacks %s", conn.ID)
		}
	}
	bea := keep(c.get("/admin/connections?project=&user=bea&integration=&status="))
	if strings.Contains(bea.body, `data-user="ann"`) || !strings.Contains(bea.body, `data-user="bea"`) {
		t.Errorf("user filter:\n%s", bea.body)
	}
	paged := keep(c.get("/admin/connections?limit=2"))
	if strings.Count(paged.body, "data-id=") != 2 || !strings.Contains(paged.body, `id="next"`) {
		t.Errorf("first page of 2:\n%s", paged.body)
	}
	if r := keep(c.get("/admin/connections?status=bogus")); r.status != 400 || !strings.Contains(r.body, "Filter status:") {
		t.Errorf("bad status filter: %d", r.status)
	}
	for _, conn := range []*connection.Connection{oauthConn, keyConn, queryConn, ccConn} {
		if r := keep(c.get("/admin/connections/" + conn.ID)); r.status != 200 {
			t.Errorf("detail %s: %d", conn.ID, r.status)
		}
	}
	q := keep(c.get("/admin/connections/" + queryConn.ID))
	if !strings.Contains(q.body, "visible-query-key") || !strings.Contains(q.body, "<code>legacy</code>") {
		t.Errorf("detail shows non-secret inputs and every key:\n%s", q.body)
	}
	if r := keep(c.get("/admin/connections/6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50")); r.status != 404 {
		t.Errorf("unknown id: %d", r.status)
	}
	keep(c.get("/admin/"))
	keep(c.get("/admin/integrations"))
	keep(c.get("/admin/errors"))

	r := c.post("/admin/connections/"+keyConn.ID+"/disconnect", url.Values{"csrf": {csrfOf(t, all.body)}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/connections?notice=disconnected" {
		t.Fatalf("disconnect: %d %s", r.status, r.body)
	}
	after := keep(c.get(r.header.Get("Location")))
	if !strings.Contains(after.body, "The connection was disconnected") || strings.Contains(after.body, keyConn.ID) {
		t.Errorf("after disconnecting:\n%s", after.body)
	}
	if _, err := e.store.GetConnection(context.Background(), keyConn.ID); err == nil {
		t.Error("the connection is still stored")
	}
	for _, b := range bodies {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("a console page holds the secret %q:\n%s", s, b)
			}
		}
	}
}

// TestConsoleRecentErrors: the gateway's own error answers are listed,
// newest first, without query strings or tokens.
func TestConsoleRecentErrors(t *testing.T) {
	e := startProxyEnv(t)
	e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me?api_key=query-secret-6612", "not-a-user-token-4471", nil, nil)
	e.do("GET", "/no/such/route?x=1", "", nil, nil)
	c := e.console()
	c.signIn()
	r := c.get("/admin/errors")
	first, second := strings.Index(r.body, "GET unmatched"), strings.Index(r.body, "/projects/{pid}/sdk/proxy")
	if r.status != 200 || first < 0 || second < 0 || first > second {
		t.Fatalf("recent errors (newest first):\n%s", r.body)
	}
	for _, s := range []string{"query-secret-6612", "not-a-user-token-4471", "api_key=", "/no/such/route"} {
		if strings.Contains(r.body, s) {
			t.Errorf("the errors page holds %q", s)
		}
	}
}

func TestConsoleDisabledWithoutAdminToken(t *testing.T) {
	e := startProxyEnvWith(t, func(c *Config) { c.AdminToken = "" })
	c := e.console()
	for _, r := range []response{c.get("/admin/"), c.post("/admin/sign-in", url.Values{"token": {""}})} {
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "The admin API is disabled") {
			t.Errorf("no admin token: %d %s", r.status, r.body)
		}
	}
}
