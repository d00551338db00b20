package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browser is a cookie-keeping HTTP client that follows redirects like a
// browser does (tests without a real browser; the chromedp tests drive one).
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar}}
}

func (b *browser) get(u string) (int, string, *url.URL) {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Request.URL
}

func (b *browser) post(u string, form url.Values) (int, string, *url.URL) {
	b.t.Helper()
	resp, err := b.client.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Request.URL
}

var (
	csrfRE     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	redirectRE = regexp.MustCompile(`data-redirect="([^"]+)"`)
	hiddenRE   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

func (e *proxyEnv) connectLink(user, integration string) string {
	e.t.Helper()
	r := e.do("POST", "/projects/dev/sdk/connect-links", e.token(user), strings.NewReader(`{"integrationId":"`+integration+`"}`), nil)
	var link struct{ URL string }
	if err := json.Unmarshal([]byte(r.body), &link); err != nil || r.status != 201 {
		e.t.Fatalf("connect link: %d %s", r.status, r.body)
	}
	return link.URL
}

// oauthToProvider opens a connect link and submits the portal form,
// returning the provider's authorization URL the portal redirects to.
func oauthToProvider(t *testing.T, e *proxyEnv, b *browser, user string) string {
	status, page, at := b.get(e.connectLink(user, "custom.fakeoauth"))
	if status != 200 || !strings.HasSuffix(at.Path, "/connect/portal/fakeoauth") {
		t.Fatalf("portal: %d at %s", status, at)
	}
	csrf := csrfRE.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no csrf in %s", page)
	}
	status, page, _ = b.post(at.String(), url.Values{"csrf": {csrf[1]}})
	m := redirectRE.FindStringSubmatch(page)
	if status != 200 || m == nil {
		t.Fatalf("no redirect: %d %s", status, page)
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

// signIn submits the fake provider's login form and returns where it sent
// the browser back to (the gateway's callback, already followed).
func signIn(t *testing.T, b *browser, authURL, decision string) (int, string, *url.URL) {
	status, page, at := b.get(authURL)
	if status != 200 {
		t.Fatalf("provider login page: %d %s", status, page)
	}
	form := url.Values{"username": {"octo"}, "password": {"hunter2"}, "decision": {decision}}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	return b.post(at.Scheme+"://"+at.Host+"/oauth/authorize", form)
}

func TestOAuthFlowWithoutBrowser(t *testing.T) {
	e := startProxyEnv(t)
	e.provider.RequirePKCE = true
	b := newBrowser(t)
	authURL := oauthToProvider(t, e, b, "lena")
	u, _ := url.Parse(authURL)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("state")) < 43 || q.Get("redirect_uri") != e.base+"/oauth/callback" || q.Get("scope") != "read" {
		t.Fatalf("authorization URL %s", authURL)
	}
	status, page, _ := signIn(t, b, authURL, "allow")
	if status != 200 || !strings.Contains(page, "Fake OAuth is connected") {
		t.Fatalf("callback: %d %s", status, page)
	}
	list, _ := e.store.List(context.Background(), "dev", "lena")
	if len(list) != 1 || list[0].Credential.AccessToken == "" || list[0].Credential.RefreshToken == "" {
		t.Fatalf("stored %+v", list)
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("lena"), nil, nil); r.status != 200 {
		t.Errorf("proxy after OAuth: %d %s", r.status, r.body)
	}
	// Replaying the callback (same state and code) is refused.
	callback := e.base + "/oauth/callback?state=" + url.QueryEscape(q.Get("state")) + "&code=x"
	if status, page, _ := b.get(callback); status != 400 || !strings.Contains(page, "expired or was already used") {
		t.Errorf("state replay: %d %s", status, page)
	}
}

func TestOAuthStateFromAnotherBrowserIsRefused(t *testing.T) {
	e := startProxyEnv(t)
	b := newBrowser(t)
	authURL := oauthToProvider(t, e, b, "max")
	other := newBrowser(t)
	status, page, _ := signIn(t, other, authURL, "allow")
	if status != 400 || !strings.Contains(page, "another browser") {
		t.Fatalf("other browser: %d %s", status, page)
	}
	if list, _ := e.store.List(context.Background(), "dev", "max"); len(list) != 0 {
		t.Fatal("a connection was stored")
	}
}

func TestOAuthDeniedShowsWhy(t *testing.T) {
	e := startProxyEnv(t)
	b := newBrowser(t)
	status, page, _ := signIn(t, b, oauthToProvider(t, e, b, "nina"), "deny")
	if status != 400 || !strings.Contains(page, "You did not give access to Fake OAuth") || !strings.Contains(page, "The user denied access.") {
		t.Fatalf("denied: %d %s", status, page)
	}
}

func TestConnectLinkIsSingleUse(t *testing.T) {
	e := startProxyEnv(t)
	link := e.connectLink("olga", "custom.fakekey")
	if status, _, _ := newBrowser(t).get(link); status != 200 {
		t.Fatalf("first use: %d", status)
	}
	if status, page, _ := newBrowser(t).get(link); status != 404 || !strings.Contains(page, "expired or was already used") {
		t.Fatalf("second use: %d %s", status, page)
	}
	// Without a session the portal refuses.
	if status, _, _ := newBrowser(t).get(e.base + "/connect/portal/fakekey"); status != 401 {
		t.Errorf("portal without session: %d", status)
	}
}

func TestDisconnectRevokesAtTheProvider(t *testing.T) {
	e := startProxyEnv(t)
	conn := e.connectOAuth("vera", time.Hour)
	if r := e.do("DELETE", "/projects/dev/sdk/credentials/"+conn.ID, e.token("someone-else"), nil, nil); r.status != 404 || e.provider.RevokeCalls.Load() != 0 {
		t.Fatalf("another user's delete: %d", r.status)
	}
	r := e.do("DELETE", "/projects/dev/sdk/credentials/"+conn.ID, e.token("vera"), nil, nil)
	if r.status != 204 {
		t.Fatalf("disconnect: %d %s", r.status, r.body)
	}
	if e.provider.RevokeCalls.Load() != 1 || e.provider.RefreshTokenLive(conn.Credential.RefreshToken) {
		t.Error("the refresh token was not revoked at the provider")
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("vera"), nil, nil); r.status != 404 {
		t.Errorf("proxy after disconnect: %d %s", r.status, r.body)
	}
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	e := startProxyEnv(t)
	r := e.do("POST", "/healthz", "", nil, nil)
	if r.status != 405 || r.header.Get("Allow") == "" || r.header.Get("X-Plugboard-Error") != "method_not_allowed" {
		t.Errorf("POST /healthz: %d allow=%q %s", r.status, r.header.Get("Allow"), r.body)
	}
	if r := e.do("GET", "/no/such/route", "", nil, nil); r.status != 404 || r.header.Get("X-Plugboard-Error") != "not_found" {
		t.Errorf("unknown route: %d %s", r.status, r.body)
	}
}

// An absolute testEndpoint is requested from the host's root, not under
// the base path (/api/v9 here, where the fake has nothing).
func TestAbsoluteTestEndpoint(t *testing.T) {
	e := startProxyEnv(t)
	e.provider.AddAPIKey("abs-key")
	r := e.do("POST", "/projects/dev/sdk/credentials", e.token("walt"), strings.NewReader(`{"integrationId":"fakeabs","payload":{"api_key":"abs-key"}}`), nil)
	if r.status != 201 {
		t.Fatalf("connect with an absolute test endpoint: %d %s", r.status, r.body)
	}
}
