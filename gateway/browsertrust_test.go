package gateway

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// Tests of who a browser is acting for: the SDK popup's first page, portal
// sessions, cookies, and the user tokens that start them. The attacks in a
// real browser are in browser_test.go and sdk_e2e_test.go.

const testApp = "https://app.example.com"

// The popup's first page (oauth-nonce) starts only from an allowed app page:
// a window.open navigation carries the app's origin as Referer (Chromium
// sends "https://app.example.com/" under strict-origin-when-cross-origin)
// and no Origin. Before the fix any page could open it with any token and
// it set a cookie binding the browser to that token's user.
func TestOAuthNonceRequiresAnAllowedOpener(t *testing.T) {
	e := startProxyEnvWith(t, func(c *Config) { c.AllowedOrigins = []string{testApp} })
	nonce := func(opener string) string {
		return e.base + "/projects/dev/sdk/actions/oauth-nonce?" + url.Values{"action": {"custom.fakeoauth"},
			"integrationId": {integration.UUID("dev", "fakeoauth")}, "originForPostMessage": {opener}, "userToken": {e.token("mallory")}}.Encode()
	}
	for _, tc := range []struct {
		name, opener string
		header       map[string]string
		want         int
		says         string
	}{
		{"the app's page", testApp, map[string]string{"Referer": testApp + "/", "Sec-Fetch-Site": "cross-site"}, 200, "Getting things ready"},
		{"the app's page, full Referer", testApp, map[string]string{"Referer": testApp + "/settings/integrations?tab=1"}, 200, "Getting things ready"},
		{"no Referer", testApp, nil, 403, "sent no Referer"},
		{"no Referer, cross-site", testApp, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "sent no Referer"},
		{"another site's page", testApp, map[string]string{"Referer": "https://evil.example/"}, 403, `opened from &#34;https://evil.example&#34;, which is not an app allowed`},
		{"another site naming itself", "https://evil.example", map[string]string{"Referer": "https://evil.example/"}, 403, "not an app allowed"},
		{"a subdomain of the app", testApp, map[string]string{"Referer": "https://evil.app.example.com/"}, 403, "not an app allowed"},
		{"the app's host over http", testApp, map[string]string{"Referer": "http://app.example.com/"}, 403, "not an app allowed"},
		{"the app's page naming another origin", "https://evil.example", map[string]string{"Referer": testApp + "/"}, 403, "names &#34;https://evil.example&#34; as its app"},
		{"an Origin that is not allowed", testApp, map[string]string{"Referer": testApp + "/", "Origin": "https://evil.example"}, 403, "not an app allowed"},
		{"a Referer that is not a URL", testApp, map[string]string{"Referer": "app.example.com"}, 403, "cannot identify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", nonce(tc.opener), nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.want || !strings.Contains(body, tc.says) {
				t.Fatalf("%d, want %d saying %q:\n%s", resp.StatusCode, tc.want, tc.says, body)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("the nonce page set cookies: %v", c)
			}
			if tc.want == 200 && !strings.Contains(body, "oauth-nonce-loaded") {
				t.Error("the page does not tell the SDK it loaded")
			}
			if tc.want != 200 && strings.Contains(body, "oauth-nonce-loaded") {
				t.Error("a refused page still tells the opener it loaded")
			}
		})
	}
}

var switchActionRE = regexp.MustCompile(`action="(/connect/switch/[^"]+)"`)

// A switch page's choice only works in the browser that holds the session
// it replaces: Mallory cannot fetch a switch code in her own browser (by
// opening her link where another of her accounts has a session) and have a
// victim's browser post it. Nor is there a way to redeem a connect link
// without the question (no POST /connect/link).
func TestSessionSwitchIsBoundToTheBrowser(t *testing.T) {
	e := startProxyEnv(t)
	mallorys := newBrowser(t)
	if status, _, _ := mallorys.get(e.connectLink("mallory-2", "custom.fakekey")); status != 200 {
		t.Fatal("mallory's first link")
	}
	status, page, _ := mallorys.get(e.connectLink("mallory", "custom.fakeoauth"))
	m := switchActionRE.FindStringSubmatch(page)
	if status != 200 || m == nil {
		t.Fatalf("no switch question: %d %s", status, page)
	}
	victim := newBrowser(t)
	if status, _, _ := victim.get(e.connectLink("victor", "custom.fakekey")); status != 200 {
		t.Fatal("victim's link")
	}
	status, page, _ = victim.post(e.base+m[1], nil)
	if status != 403 || !strings.Contains(page, "made in another browser") {
		t.Fatalf("victim's browser posting mallory's switch: %d %s", status, page)
	}
	if status, page, _ = victim.get(e.base + "/connect/portal/fakekey"); status != 200 || !strings.Contains(page, `id="account">victor<`) {
		t.Fatalf("victim's session after the attempt: %d %s", status, page)
	}
	// Without any session, a switch code is refused too (and it is single-use).
	_, page, _ = mallorys.get(e.connectLink("mallory", "custom.fakeoauth"))
	m = switchActionRE.FindStringSubmatch(page)
	if status, _, _ := newBrowser(t).post(e.base+m[1], nil); status != 403 {
		t.Fatalf("switch without a session: %d", status)
	}
	if status, _, _ := mallorys.post(e.base+m[1], nil); status != 404 {
		t.Fatalf("switch code reused: %d", status)
	}
	// The browser that was asked can switch.
	_, page, _ = mallorys.get(e.connectLink("mallory", "custom.fakeoauth"))
	m = switchActionRE.FindStringSubmatch(page)
	status, page, at := mallorys.post(e.base+m[1], nil)
	if status != 200 || at.Path != "/connect/portal/fakeoauth" || !strings.Contains(page, `id="account">mallory<`) {
		t.Fatalf("switch: %d at %s: %s", status, at, page)
	}
	// A link cannot be redeemed by a cross-site POST that skips the question.
	r := e.do("POST", "/connect/link/whatever", "", nil, nil)
	if r.status != 405 {
		t.Errorf("POST /connect/link: %d", r.status)
	}
}

// Same user, another integration: the session is replaced without asking
// (it is the same person).
func TestSameUserSessionIsReplacedWithoutAsking(t *testing.T) {
	e := startProxyEnv(t)
	b := newBrowser(t)
	b.get(e.connectLink("ida", "custom.fakekey"))
	status, page, at := b.get(e.connectLink("ida", "custom.fakecc"))
	if status != 200 || at.Path != "/connect/portal/fakecc" || strings.Contains(page, `id="switch"`) || !strings.Contains(page, `id="account">ida<`) {
		t.Fatalf("%d at %s: %s", status, at, page)
	}
}

// After a successful connect the portal session is over: the cookie is
// cleared and the portal says so. Before, it stayed for 30 minutes, and
// anyone at that browser could connect (or replace) another credential
// under the user.
func TestPortalSessionEndsAfterConnect(t *testing.T) {
	e := startProxyEnv(t)
	e.provider.AddAPIKey("jo-key")
	b := newBrowser(t)
	_, page, at := b.get(e.connectLink("jo", "custom.fakekey"))
	csrf := csrfRE.FindStringSubmatch(page)
	resp, err := b.client.PostForm(at.String(), url.Values{"csrf": {csrf[1]}, "api_key": {"jo-key"}})
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "Fake Key is connected") {
		t.Fatalf("connect: %d %s", resp.StatusCode, body)
	}
	if !clearsCookie(resp, "pb_portal") {
		t.Errorf("the session cookie is not cleared: %v", resp.Header.Values("Set-Cookie"))
	}
	if status, page, _ := b.get(at.String()); status != 401 || !strings.Contains(page, "Your session has ended") {
		t.Errorf("portal after connecting: %d %s", status, page)
	}
	// Posting the form again (a reload of the result page) stores nothing new.
	if status, _, _ := b.post(at.String(), url.Values{"csrf": {csrf[1]}, "api_key": {"jo-key"}}); status != 401 {
		t.Errorf("re-post after connecting: %d", status)
	}
	if list, _ := e.store.List(context.Background(), "dev", "jo"); len(list) != 1 {
		t.Errorf("%d connections, want 1", len(list))
	}

	// OAuth: the session ends at the callback.
	b = newBrowser(t)
	authURL := oauthToProvider(t, e, b, "kim")
	if status, page, _ := signIn(t, b, authURL, "allow"); status != 200 || !strings.Contains(page, "Fake OAuth is connected") {
		t.Fatalf("callback: %d %s", status, page)
	}
	if status, page, _ := b.get(e.base + "/connect/portal/fakeoauth"); status != 401 || !strings.Contains(page, "Your session has ended") {
		t.Errorf("portal after the OAuth connect: %d %s", status, page)
	}
}

func clearsCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
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
	return b.String()
}

// User tokens over the gateway's maximum lifetime are refused with their
// own code; exp of the wrong JSON type is refused at the gateway too.
func TestUserTokenLifetimeAndTypes(t *testing.T) {
	e := startProxyEnv(t)
	long, err := usertoken.Mint(e.signer, e.kid, "dev", "lou", 48*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/projects/dev/sdk/me", long, nil, nil)
	if r.status != 401 || r.header.Get("X-Plugboard-Error") != string(apierror.TokenLifetime) ||
		!strings.Contains(r.body, "lifetime 48h0m0s (exp-iat) exceeds the maximum of 24h0m0s") || !strings.Contains(r.body, "--max-user-token-lifetime") {
		t.Errorf("48h token: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/projects/dev/sdk/me", e.token("lou"), nil, nil); r.status != 200 {
		t.Errorf("1h token: %d %s", r.status, r.body)
	}
	stringExp := e.tokenWith("lou", map[string]any{"exp": "9999999999", "iat": nil})
	if r := e.do("GET", "/projects/dev/sdk/me", stringExp, nil, nil); r.status != 401 || !strings.Contains(r.body, "exp is a JSON string") {
		t.Errorf("exp \"9999999999\": %d %s", r.status, r.body)
	}
	// The operator can allow longer tokens, or any.
	for _, max := range []time.Duration{72 * time.Hour, -1} {
		e := startProxyEnvWith(t, func(c *Config) { c.MaxUserTokenLifetime = max })
		long, _ := usertoken.Mint(e.signer, e.kid, "dev", "lou", 48*time.Hour, time.Now())
		if r := e.do("GET", "/projects/dev/sdk/me", long, nil, nil); r.status != 200 {
			t.Errorf("max %s: 48h token: %d %s", max, r.status, r.body)
		}
	}
}
