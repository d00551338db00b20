package gateway

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// These tests drive Debian's headless Chromium through the Connect Portal
// and the fake provider's login page. They skip when Chromium is missing;
// .ci/run installs it, so CI always runs them. Screenshots of every portal
// state go to $PLUGBOARD_ARTIFACTS (default: a plugboard-artifacts folder in
// the system temp folder).

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Skip("headless Chromium not found (install Debian's chromium package, as .ci/run does, or set CHROMIUM) — skipping the browser tests")
	return ""
}

// chrome is the one headless Chromium of this test binary, started by the
// first browser test and stopped by TestMain: starting a browser costs
// seconds, a tab in a fresh BrowserContext costs milliseconds.
var chrome struct {
	once    sync.Once
	browser context.Context // the browser's first tab; every test's tab is its child
	stop    func()
	err     error
}

// TestMain stops the shared Chromium once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if chrome.stop != nil {
		chrome.stop()
	}
	os.Exit(code)
}

// sharedBrowser starts the package's Chromium once and returns its context.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	chrome.once.Do(func() {
		dir, err := os.MkdirTemp("", "plugboard-chromium-")
		if err != nil {
			chrome.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(1000, 900),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		browser, cancelBrowser := chromedp.NewContext(alloc)
		chrome.browser = browser
		chrome.stop = func() { cancelBrowser(); cancelAlloc(); _ = os.RemoveAll(dir) }
		chrome.err = chromedp.Do(browser)
	})
	if chrome.err != nil {
		t.Fatalf("starting Chromium: %v", chrome.err)
	}
	if err := chrome.browser.Err(); err != nil {
		t.Fatalf("the shared Chromium has stopped (an earlier test may have crashed it): %v", err)
	}
	return chrome.browser
}

// newChrome opens a tab in a BrowserContext of its own (own cookies and
// storage, like a separate browser profile) in the shared Chromium, and
// returns the tab's context with a deadline for the test.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	ctx, cancelCtx := chromedp.NewContext(sharedBrowser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancelCtx)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab in Chromium: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return tctx
}

func artifactsDir(t *testing.T) string {
	dir := os.Getenv("PLUGBOARD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "plugboard-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifactsDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
}

// read runs a read-only action, trying again when the page navigated
// under it (pages here redirect themselves: the portal to the provider,
// the provider back to the callback).
func read[T any](ctx context.Context, a chromedp.Action[T]) (T, error) {
	var v T
	var err error
	for i := 0; i < 20; i++ {
		if v, err = chromedp.Run(ctx, a); err == nil || !strings.Contains(err.Error(), "navigated or closed") {
			return v, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return v, err
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := read(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := read(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestBrowserOAuthFlow(t *testing.T) {
	ctx := newChrome(t)
	e := startProxyEnv(t)
	e.provider.RequirePKCE = true
	e.provider.RedirectURI = e.base + "/oauth/callback"
	run(t, ctx, "open connect link", chromedp.Navigate(e.connectLink("paula", "custom.fakeoauth")), chromedp.WaitVisible(chromedp.ID("submit")))
	if got := text(t, ctx, "#submit"); got != "Continue to Fake OAuth" {
		t.Errorf("button says %q", got)
	}
	screenshot(t, ctx, "oauth-1-portal")
	run(t, ctx, "continue to provider", chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("username")))
	if loc := location(t, ctx); !strings.HasPrefix(loc, e.provider.URL+"/oauth/authorize?") {
		t.Fatalf("not at the provider: %s", loc)
	}
	screenshot(t, ctx, "oauth-2-provider-login")
	run(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("username"), "octo"),
		chromedp.SendKeys(chromedp.ID("password"), "hunter2"),
		chromedp.Click(chromedp.ID("allow")),
		chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, ctx, "h1"); got != "Fake OAuth is connected" {
		t.Fatalf("result page says %q", got)
	}
	screenshot(t, ctx, "oauth-3-connected")
	callback := location(t, ctx)
	run(t, ctx, "portal after connecting", chromedp.Navigate(e.base+"/connect/portal/fakeoauth"), chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, ctx, "h1"); got != "Your session has ended" {
		t.Errorf("portal after connecting says %q", got)
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", e.token("paula"), nil, nil); r.status != 200 {
		t.Fatalf("proxied call after connecting: %d %s", r.status, r.body)
	}

	// Replaying the callback (same state, same code) is refused by the
	// gateway before the code is tried again.
	run(t, ctx, "replay callback", chromedp.Navigate(callback), chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, ctx, "h1"); !strings.Contains(got, "expired or was already used") {
		t.Errorf("replayed state: %q", got)
	}
	screenshot(t, ctx, "oauth-4-state-replayed")
	// And the provider itself refuses the used code.
	u, _ := url.Parse(callback)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {e.base + "/oauth/callback"},
		"client_id": {e.provider.ClientID}, "client_secret": {e.provider.ClientSecret}}
	resp, err := e.client.PostForm(e.provider.URL+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("the provider accepted a reused code: %d", resp.StatusCode)
	}
}

func TestBrowserOAuthWrongRedirectURIStoresNothing(t *testing.T) {
	ctx := newChrome(t)
	e := startProxyEnv(t)
	e.provider.RedirectURI = "https://app.example.com/elsewhere"
	run(t, ctx, "start", chromedp.Navigate(e.connectLink("quinn", "custom.fakeoauth")), chromedp.Click(chromedp.ID("submit")))
	testfix.Eventually(t, "the provider's page", func() bool { return strings.HasPrefix(location(t, ctx), e.provider.URL) })
	body, _ := read(ctx, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(body, "redirect_uri does not match") {
		t.Fatalf("provider page: %q", body)
	}
	if list, _ := e.store.List(context.Background(), "dev", "quinn"); len(list) != 0 {
		t.Fatal("a connection was stored")
	}
}

func TestBrowserOAuthStateFromAnotherBrowser(t *testing.T) {
	a := newChrome(t)
	b := newChrome(t)
	e := startProxyEnv(t)
	run(t, a, "browser A starts", chromedp.Navigate(e.connectLink("rita", "custom.fakeoauth")), chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("username")))
	authURL := location(t, a)
	// Browser B (say, an attacker's victim lured to the URL) signs in with A's state.
	run(t, b, "browser B signs in", chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "octo"), chromedp.SendKeys(chromedp.ID("password"), "hunter2"),
		chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, b, "h1"); got != "Sign-in started in another browser" {
		t.Fatalf("browser B sees %q", got)
	}
	screenshot(t, b, "oauth-5-other-browser")
	if list, _ := e.store.List(context.Background(), "dev", "rita"); len(list) != 0 {
		t.Fatal("a connection was stored from another browser")
	}
}

func TestBrowserAPIKeyForm(t *testing.T) {
	ctx := newChrome(t)
	e := startProxyEnv(t)
	e.provider.AddAPIKey("right-key-123")
	run(t, ctx, "open", chromedp.Navigate(e.connectLink("sam", "custom.fakekey")), chromedp.WaitVisible(chromedp.ID("f-api_key")))
	// The first field has the focus; typing and Enter submit the form.
	focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.activeElement.id"))
	if focused != "f-api_key" {
		t.Errorf("focus is on %q, want the first field", focused)
	}
	if typ, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.getElementById('f-api_key').type")); typ != "password" {
		t.Errorf("secret field type %q", typ)
	}
	screenshot(t, ctx, "apikey-1-form")
	run(t, ctx, "submit wrong key", chromedp.SendKeys(chromedp.ID("f-api_key"), "wrong-key\r"), chromedp.WaitVisible(chromedp.ID("notice")))
	notice := text(t, ctx, "#notice")
	// The provider's answer is there, behind a "Details" disclosure.
	answer, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#notice details").textContent`))
	if !strings.Contains(notice, "refused the credential") || !strings.Contains(answer, "401") || !strings.Contains(answer, "Bad credentials") {
		t.Errorf("notice: %q, details %q", notice, answer)
	}
	screenshot(t, ctx, "apikey-2-refused")
	if list, _ := e.store.List(context.Background(), "dev", "sam"); len(list) != 0 {
		t.Fatal("a refused key was stored")
	}
	run(t, ctx, "submit right key", chromedp.SendKeys(chromedp.ID("f-api_key"), "right-key-123"), chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, ctx, "h1"); got != "Fake Key is connected" {
		t.Fatalf("result: %q", got)
	}
	screenshot(t, ctx, "apikey-3-connected")
	// The session ended with the connect: the portal does not take another.
	run(t, ctx, "portal after connecting", chromedp.Navigate(e.base+"/connect/portal/fakekey"), chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, ctx, "h1"); got != "Your session has ended" {
		t.Errorf("portal after connecting says %q", got)
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/me", e.token("sam"), nil, nil); r.status != 200 || r.body != `{"output":{"login":"octo","id":42}}` {
		t.Fatalf("proxied call: %d %s", r.status, r.body)
	}
	// The same form on a phone.
	run(t, ctx, "phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.connectLink("sam", "custom.fakekey")), chromedp.WaitVisible(chromedp.ID("f-api_key")))
	if w, _ := chromedp.Run(ctx, chromedp.Evaluate[float64]("document.documentElement.scrollWidth")); w > 390 {
		t.Errorf("page is %v px wide on a 390 px screen", w)
	}
	screenshot(t, ctx, "apikey-4-phone")
}

func TestBrowserClientCredentialsForm(t *testing.T) {
	ctx := newChrome(t)
	e := startProxyEnv(t)
	run(t, ctx, "open", chromedp.Navigate(e.connectLink("tom", "custom.fakecc")), chromedp.WaitVisible(chromedp.ID("f-client_id")))
	screenshot(t, ctx, "cc-1-form")
	run(t, ctx, "wrong secret", chromedp.SendKeys(chromedp.ID("f-client_id"), "my-client"), chromedp.SendKeys(chromedp.ID("f-client_secret"), "bad"),
		chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("notice")))
	if notice := text(t, ctx, "#notice"); !strings.Contains(notice, "refused the client credentials") {
		t.Errorf("notice: %q", notice)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("f-client_id"))); v != "my-client" {
		t.Errorf("client id not kept after an error: %q", v)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("f-client_secret"))); v != "" {
		t.Error("the secret was sent back into the page")
	}
	screenshot(t, ctx, "cc-2-refused")
	run(t, ctx, "good secret", chromedp.SendKeys(chromedp.ID("f-client_secret"), "good-secret"), chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("result")))
	screenshot(t, ctx, "cc-3-connected")
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakecc/me", e.token("tom"), nil, nil); r.status != 200 {
		t.Fatalf("proxied call: %d %s", r.status, r.body)
	}
}

// A connect link made for one user and opened by another: before the fix
// the portal showed a bare form, and whoever opened the link connected
// their own credential under the link's user. Now the page names the app
// (display name and logo) and the account — the user token's name and
// email — before anything can be submitted; and a browser that already has
// a session for another account is asked which to go on with.
func TestBrowserConnectLinkNamesTheAccount(t *testing.T) {
	logo := filepath.Join(t.TempDir(), "acme.svg")
	if err := os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20"><rect width="20" height="20" rx="4" fill="#6f42c1"/></svg>`), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startProxyEnvWith(t, func(c *Config) { c.Projects[0].Name = "Acme CRM"; c.Projects[0].Logo = logo })
	ada := e.tokenWith("ada", map[string]any{"name": "Ada Lovelace", "email": "ada@example.com"})
	linkFor := func(token, integration string) string {
		r := e.do("POST", "/projects/dev/sdk/connect-links", token, strings.NewReader(`{"integrationId":"`+integration+`"}`), nil)
		var link struct{ URL string }
		if err := json.Unmarshal([]byte(r.body), &link); err != nil || r.status != 201 {
			t.Fatalf("connect link: %d %s", r.status, r.body)
		}
		return link.URL
	}

	// Bob opens a link made for Ada (forwarded, or sent by an attacker).
	bob := newChrome(t)
	run(t, bob, "open Ada's link", chromedp.Navigate(linkFor(ada, "custom.fakekey")), chromedp.WaitVisible(chromedp.ID("f-api_key")))
	if got := text(t, bob, "#context p"); got != "Connecting Fake Key to Acme CRM as Ada Lovelace (ada@example.com)." {
		t.Errorf("the form says %q before anything is submitted", got)
	}
	if src, _ := chromedp.Run(bob, chromedp.Evaluate[string](`(document.querySelector("#context img.applogo") || {}).src || ""`)); !strings.HasPrefix(src, "data:image/svg+xml;base64,") {
		t.Errorf("app logo: %q", src)
	}
	if w, _ := chromedp.Run(bob, chromedp.Evaluate[float64](`document.querySelector("#context img.applogo").naturalWidth`)); w == 0 {
		t.Error("the app logo did not load (Content-Security-Policy?)")
	}
	screenshot(t, bob, "trust-b1-link-names-account")
	if list, _ := e.store.List(context.Background(), "dev", "ada"); len(list) != 0 {
		t.Fatal("something was stored before a submit")
	}

	// Bob now has Ada's session open; a link of his own does not replace it
	// silently.
	run(t, bob, "open Bob's link", chromedp.Navigate(linkFor(e.token("bob"), "custom.fakecc")), chromedp.WaitVisible(chromedp.ID("switch")))
	if cur, acc := text(t, bob, "#current-account"), text(t, bob, "#account"); cur != "Ada Lovelace (ada@example.com)" || acc != "bob" {
		t.Errorf("switch page names %q (open) and %q (link)", cur, acc)
	}
	screenshot(t, bob, "trust-b2-switch-account")
	run(t, bob, "keep the open session", chromedp.Click(chromedp.ID("keep")), chromedp.WaitVisible(chromedp.ID("f-api_key")))
	if got := text(t, bob, "#account"); got != "Ada Lovelace (ada@example.com)" {
		t.Errorf("kept session is for %q", got)
	}
	// An explicit choice switches.
	run(t, bob, "open Bob's link again", chromedp.Navigate(linkFor(e.token("bob"), "custom.fakecc")), chromedp.WaitVisible(chromedp.ID("switch")),
		chromedp.Click(chromedp.ID("switch")), chromedp.WaitVisible(chromedp.ID("f-client_id")))
	if got := text(t, bob, "#account"); got != "bob" {
		t.Errorf("after switching the form is for %q", got)
	}
}
