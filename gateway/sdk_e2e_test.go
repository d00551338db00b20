package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// The unmodified @useparagon/connect package (installed by `npm ci` in
// examples/sdk-app, as .ci/run does) driven in headless Chromium against the
// gateway and the fake provider: authenticate, metadata, request in every
// shape, installIntegration through the popup (API key and OAuth), connect()
// through the Connect Portal iframe, and uninstall.

const sdkBundle = "../examples/sdk-app/node_modules/@useparagon/connect/dist/src/index.js"

// sdkHarness is the app's page: the SDK bundle as a plain script, pointed
// at the gateway.
const sdkHarness = `<!doctype html><html><head><meta charset="utf-8"><title>SDK app</title>
<script>var module = { exports: {} };</script>
<script src="/sdk.js"></script>
<script>
window.paragon = module.exports.paragon;
paragon.configureGlobal({ host: "plugboard" }, {
  ZEUS_PUBLIC_URL: "%[1]s", WORKER_PROXY_PUBLIC_URL: "%[1]s",
  CONNECT_PUBLIC_URL: "%[1]s/connect", HERMES_PUBLIC_URL: "%[1]s/events" });
window.events = [];
window.track = function (name) { return function (e) { window.events.push(name + ":" + (e && (e.integrationType || e.message) || "")); }; };
</script></head><body><h1>SDK app</h1></body></html>`

// sdkAppName is the project's display name in these tests.
const sdkAppName = "SDK Test App"

type sdkApp struct {
	*proxyEnv
	app string
	ctx context.Context
	t   *testing.T
}

func startSDKApp(t *testing.T) *sdkApp { return startSDKAppWith(t, nil) }

// startSDKAppWith is startSDKApp with a chance to adjust the gateway's config.
func startSDKAppWith(t *testing.T, adjust func(*Config)) *sdkApp {
	if _, err := os.Stat(sdkBundle); err != nil {
		t.Skip("@useparagon/connect is not installed: run `npm ci` in examples/sdk-app (.ci/run does) — skipping the SDK tests")
	}
	ctx := newChrome(t)
	var gw string
	var mu sync.Mutex
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sdk.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, sdkBundle)
		default:
			mu.Lock()
			defer mu.Unlock()
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, sdkHarness, gw)
		}
	}))
	t.Cleanup(appSrv.Close)
	e := startProxyEnvWith(t, func(c *Config) {
		c.AllowedOrigins = []string{appSrv.URL}
		c.Projects[0].Name = sdkAppName
		if adjust != nil {
			adjust(c)
		}
	})
	mu.Lock()
	gw = e.base
	mu.Unlock()
	a := &sdkApp{proxyEnv: e, app: appSrv.URL, ctx: ctx, t: t}
	run(t, ctx, "open the app", chromedp.Navigate(appSrv.URL), chromedp.WaitVisible(chromedp.CSS("h1")))
	return a
}

func userGesture(p *runtime.EvaluateParams) { yes := true; p.UserGesture = &yes }

// eval runs JavaScript in the app page, awaiting a promise, and decodes the result.
func eval[T any](a *sdkApp, js string) T {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise, userGesture))
	if err != nil {
		a.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// evalErr runs JavaScript that must reject and returns the error message.
func (a *sdkApp) evalErr(js string) string {
	a.t.Helper()
	return eval[string](a, "("+js+").then(() => 'RESOLVED', e => String(e && e.message || JSON.stringify(e)))")
}

// popup waits for the window the SDK opens and returns a context attached to it.
func (a *sdkApp) popup(open func()) context.Context {
	a.t.Helper()
	ch := chromedp.WaitNewTarget(a.ctx, func(i *target.Info) bool { return i.Type == "page" })
	open()
	select {
	case id, ok := <-ch:
		if !ok {
			a.t.Fatal("no popup target")
		}
		pctx, cancel := chromedp.NewContext(a.ctx, chromedp.WithTargetID(id))
		a.t.Cleanup(cancel)
		return pctx
	case <-time.After(15 * time.Second):
		a.t.Fatal("the SDK opened no popup")
	}
	return nil
}

// continueToProvider checks that the popup's portal page names the
// integration, the app and the account before anything happens, and
// presses "Continue to <Provider>". The popup gets there through two
// navigations (the nonce page, then the SDK's redirect to the connect
// link), so reads retry across a navigation.
func (a *sdkApp) continueToProvider(pctx context.Context, integration, account string) {
	a.t.Helper()
	run(a.t, pctx, "popup portal page", chromedp.WaitVisible(chromedp.ID("submit")))
	screenshot(a.t, pctx, "sdk-oauth-popup-continue")
	want := "Connecting " + integration + " to " + sdkAppName + " as " + account + "."
	if got := text(a.t, pctx, "#context p"); got != want {
		a.t.Fatalf("the popup's page says %q before continuing, want %q", got, want)
	}
	if got := text(a.t, pctx, "#submit"); got != "Continue to "+integration {
		a.t.Fatalf("the popup's button says %q", got)
	}
	run(a.t, pctx, "continue to the provider", chromedp.Click(chromedp.ID("submit")))
}

// signIn fills the fake provider's login form in the popup and allows.
// Under load a navigation can land while the test acts on the page, so
// the step is retried on a fresh page.
func (a *sdkApp) signIn(pctx context.Context) {
	a.t.Helper()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = chromedp.Do(pctx, chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("username").value = "octo";
				document.getElementById("password").value = "hunter2";
				document.getElementById("allow").click();`))
		if err == nil || !strings.Contains(err.Error(), "navigated or closed") {
			break
		}
		// Our own click may have navigated away (or the popup closed):
		// only a popup still on the login page is tried again.
		if loc, lerr := chromedp.Run(pctx, chromedp.Location()); lerr != nil || !strings.Contains(loc, "/oauth/authorize") {
			err = nil
			break
		}
	}
	if err != nil {
		a.t.Fatalf("signing in at the provider in the popup: %v", err)
	}
}

// frameNode returns the Connect Portal iframe's node once it is shown.
func (a *sdkApp) frameNode() *chromedp.Node {
	a.t.Helper()
	run(a.t, a.ctx, "portal iframe shown", chromedp.WaitVisible(chromedp.ID("paragon-connect-frame")))
	nodes, err := chromedp.Run(a.ctx, chromedp.Nodes(chromedp.ID("paragon-connect-frame")))
	if err != nil || len(nodes) == 0 {
		a.t.Fatalf("iframe node: %v", err)
	}
	return nodes[0]
}

func (a *sdkApp) frameDisplay() string {
	return eval[string](a, `document.getElementById("paragon-connect-frame").style.display`)
}

func TestSDKUnmodifiedAgainstPlugboard(t *testing.T) {
	a := startSDKApp(t)
	uuid := func(id string) string { return integration.UUID("dev", id) }

	// authenticate, getUser, getIntegrationMetadata
	tok := a.token("sdk-user")
	if got := eval[string](a, `paragon.authenticate("dev", "`+tok+`").then(() => "ok")`); got != "ok" {
		t.Fatalf("authenticate: %s", got)
	}
	user := eval[map[string]any](a, `paragon.getUser()`)
	if user["authenticated"] != true || user["userId"] != "sdk-user" {
		t.Fatalf("getUser: %v", user)
	}
	integrations := user["integrations"].(map[string]any)
	for _, slug := range []string{"custom.fakeoauth", "custom.fakekey", "custom.fakecc"} {
		st, ok := integrations[slug].(map[string]any)
		if !ok || st["enabled"] != false {
			t.Errorf("getUser().integrations[%s] = %v", slug, integrations[slug])
		}
	}
	if all := eval[[]map[string]any](a, `paragon.getIntegrationMetadata()`); len(all) != 7 {
		t.Errorf("getIntegrationMetadata() lists %d integrations, want 7", len(all))
	}
	fo := eval[map[string]any](a, `paragon.getIntegrationMetadata("custom.fakeoauth")`)
	if fo["name"] != "Fake OAuth" || fo["brandColor"] != "#0E7C66" || !strings.HasSuffix(fmt.Sprint(fo["icon"]), "/v1/integrations/fakeoauth/icon.svg") {
		t.Errorf("getIntegrationMetadata: %v", fo)
	}

	// installIntegration, API key: the popup shows the portal form.
	e := a.proxyEnv
	e.provider.AddAPIKey("sdk-right-key")
	pctx := a.popup(func() {
		_ = eval[string](a, `(window.installKey = paragon.installIntegration("custom.fakekey", {onSuccess: track("install")}), "started")`)
	})
	run(t, pctx, "popup portal form", chromedp.WaitVisible(chromedp.ID("f-api_key")))
	if got := text(t, pctx, "#context p"); got != "Connecting Fake Key to "+sdkAppName+" as sdk-user." {
		t.Errorf("the API key form says %q", got)
	}
	screenshot(t, pctx, "sdk-1-install-apikey-popup")
	run(t, pctx, "type key", chromedp.SendKeys(chromedp.ID("f-api_key"), "sdk-right-key"), chromedp.Click(chromedp.ID("submit")))
	installed := eval[map[string]any](a, `window.installKey`)
	if installed["integrationId"] != uuid("fakekey") || installed["integrationType"] != "custom.fakekey" || len(fmt.Sprint(installed["credentialId"])) != 36 {
		t.Fatalf("installIntegration(api key) resolved with %v", installed)
	}

	// installIntegration, OAuth: the popup signs in at the provider.
	pctx = a.popup(func() {
		_ = eval[string](a, `(window.installOAuth = paragon.installIntegration("custom.fakeoauth", {}), "started")`)
	})
	a.continueToProvider(pctx, "Fake OAuth", "sdk-user")
	a.signIn(pctx)
	installed = eval[map[string]any](a, `window.installOAuth`)
	if installed["integrationType"] != "custom.fakeoauth" || installed["credential"] == nil {
		t.Fatalf("installIntegration(oauth) resolved with %v", installed)
	}
	if st := eval[bool](a, `paragon.getUser().integrations["custom.fakeoauth"].enabled`); !st {
		t.Error("getUser does not show the OAuth integration enabled")
	}

	// request: both name forms, every verb, JSON bodies, Content-Type auto, errors.
	if got := eval[map[string]any](a, `paragon.request("custom.fakeoauth", "/me", {method: "GET"})`); got["login"] != "octo" {
		t.Errorf("request custom.fakeoauth GET: %v", got)
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		got := eval[map[string]any](a, `paragon.request("custom/`+uuid("fakekey")+`", "echo?x=1", {method: "`+m+`", body: {title: "hi"}})`)
		hdr, _ := got["headers"].(map[string]any)
		if got["method"] != m || got["body"] != `{"title":"hi"}` || got["query"] != "x=1" || fmt.Sprint(hdr["Content-Type"]) != "[application/json]" || fmt.Sprint(hdr["X-Api-Key"]) != "[sdk-right-key]" {
			t.Errorf("request %s via custom/<uuid>: %v", m, got)
		}
		if strings.Contains(fmt.Sprint(hdr), tok) {
			t.Error("the user token reached the provider")
		}
	}
	if got := eval[string](a, `paragon.request("custom.fakekey", "/text")`); got != "plain text" {
		t.Errorf("text response: %q", got)
	}
	if got := a.evalErr(`paragon.request("custom.fakekey", "/status?code=422")`); got != "status 422" {
		t.Errorf("upstream error surfaces as %q", got)
	}
	if got := a.evalErr(`paragon.request("custom.fakekey", "/a%2fb")`); !strings.Contains(got, "path refused") {
		t.Errorf("gateway error surfaces as %q", got)
	}

	// connect(): the Connect Portal in the SDK's iframe, client credentials form.
	// connect() settles once: the refused attempt rejects it (SDK behaviour);
	// the later success still reaches onSuccess.
	_ = eval[string](a, `(window.connectCC = paragon.connect("custom.fakecc", {onSuccess: track("cc-success"), onOpen: track("cc-open"), onClose: track("cc-close"), onError: track("cc-error")}).catch(e => ({rejected: e.message})), "started")`)
	frame := a.frameNode()
	in := chromedp.FromNode(frame)
	run(t, a.ctx, "portal form", chromedp.WaitVisible(chromedp.ID("pb-f-client_id"), in))
	screenshot(t, a.ctx, "sdk-2-connect-iframe-form")
	run(t, a.ctx, "bad secret", chromedp.SendKeys(chromedp.ID("pb-f-client_id"), "cid", in), chromedp.SendKeys(chromedp.ID("pb-f-client_secret"), "bad", in),
		chromedp.Click(chromedp.ID("pb-submit"), in), chromedp.WaitVisible(chromedp.ID("pb-error"), in))
	if msg, _ := chromedp.Run(a.ctx, chromedp.Text(chromedp.ID("pb-error"), in)); !strings.Contains(msg, "refused the client credentials") {
		t.Errorf("portal error: %q", msg)
	}
	screenshot(t, a.ctx, "sdk-3-connect-iframe-refused")
	run(t, a.ctx, "good secret", chromedp.SendKeys(chromedp.ID("pb-f-client_secret"), "\b\b\bgood-secret", in),
		chromedp.Click(chromedp.ID("pb-submit"), in), chromedp.WaitVisible(chromedp.ID("pb-connected"), in))
	if got := eval[map[string]any](a, `window.connectCC`); !strings.Contains(fmt.Sprint(got["rejected"]), "refused the client credentials") {
		t.Errorf("connect() after a refused attempt: %v", got)
	}
	screenshot(t, a.ctx, "sdk-4-connect-iframe-connected")
	run(t, a.ctx, "close portal", chromedp.Click(chromedp.ID("pb-done"), in))
	testfix.Eventually(t, "the iframe to hide", func() bool { return a.frameDisplay() == "none" })
	if ev := eval[[]string](a, `window.events`); !containsAll(ev, "cc-open:", "cc-error:", "cc-success:custom.fakecc", "cc-close:") {
		t.Errorf("callbacks fired: %v", ev)
	}

	// uninstallIntegration, then connect() OAuth through the iframe's button.
	if got := eval[string](a, `paragon.uninstallIntegration("custom.fakeoauth").then(() => "ok")`); got != "ok" {
		t.Fatalf("uninstall: %s", got)
	}
	if eval[bool](a, `paragon.getUser().integrations["custom.fakeoauth"].enabled`) {
		t.Error("still enabled after uninstall")
	}
	_ = eval[string](a, `(window.connectOAuth = paragon.connect("custom.fakeoauth", {}), "started")`)
	frame = a.frameNode()
	in = chromedp.FromNode(frame)
	run(t, a.ctx, "oauth button", chromedp.WaitVisible(chromedp.ID("pb-connect"), in))
	screenshot(t, a.ctx, "sdk-5-connect-iframe-oauth")
	pctx = a.popup(func() { run(t, a.ctx, "click connect", chromedp.Click(chromedp.ID("pb-connect"), in)) })
	a.continueToProvider(pctx, "Fake OAuth", "sdk-user")
	a.signIn(pctx)
	if got := eval[map[string]any](a, `window.connectOAuth`); got["integrationType"] != "custom.fakeoauth" {
		t.Errorf("connect(oauth) resolved with %v", got)
	}
	run(t, a.ctx, "connected state", chromedp.WaitVisible(chromedp.ID("pb-connected"), in))
	run(t, a.ctx, "close", chromedp.Click(chromedp.ID("pb-done"), in))

	// After uninstalling through the SDK, a fresh authenticate sees it gone.
	_ = eval[string](a, `paragon.uninstallIntegration("custom.fakekey").then(() => "ok")`)
	_ = eval[string](a, `paragon.authenticate("dev", "`+tok+`").then(() => "ok")`)
	if eval[bool](a, `paragon.getUser().integrations["custom.fakekey"].enabled`) {
		t.Error("/sdk/me still shows the uninstalled integration")
	}
	if list, _ := e.store.List(context.Background(), "dev", "sdk-user"); len(list) != 2 {
		t.Errorf("stored connections: %d, want 2 (oauth, cc)", len(list))
	}
}

// TestSDKRequestAgainstAnAPIThatSendsCORSHeaders: many APIs answer with
// their own CORS headers (GitHub's send Access-Control-Allow-Origin: *).
// The gateway alone decides CORS for its routes, so paragon.request() from
// the app's page still gets the answer.
func TestSDKRequestAgainstAnAPIThatSendsCORSHeaders(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "ETag, Link, X-RateLimit-Remaining")
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Add("Vary", "Accept-Encoding, Origin")
		h.Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"method":%q}`, r.Method)
	}))
	t.Cleanup(up.Close)
	a := startSDKAppWith(t, withManifests(t, up.URL, map[string]string{"corsy.yaml": fmt.Sprintf(keyManifest, "corsy", "CORS API")}))
	a.connectKey("cors-user", "corsy", "key-cors")
	if got := eval[string](a, `paragon.authenticate("dev", "`+a.token("cors-user")+`").then(() => "ok")`); got != "ok" {
		t.Fatalf("authenticate: %s", got)
	}
	for _, m := range []string{"GET", "POST"} {
		got := eval[map[string]any](a, `paragon.request("custom.corsy", "/repos", {method: "`+m+`", body: `+map[bool]string{true: "undefined", false: "{a: 1}"}[m == "GET"]+`})
			.then(r => ({result: r}), e => ({error: String(e && e.message || e)}))`)
		res, _ := got["result"].(map[string]any)
		if res["ok"] != true || res["method"] != m {
			t.Errorf("paragon.request %s against an API that sends CORS headers: %v", m, got)
		}
	}
}

func containsAll(list []string, want ...string) bool {
	have := strings.Join(list, "\n") + "\n"
	for _, w := range want {
		if !strings.Contains(have, w+"\n") && !strings.Contains(have, w) {
			return false
		}
	}
	return true
}

// tokenWith mints a user token with extra claims (name, email, …), signed
// like the app's backend would.
func (e *proxyEnv) tokenWith(user string, extra map[string]any) string {
	e.t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"sub": user, "aud": []string{"dev"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = e.kid
	s, err := tok.SignedString(e.signer)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// buildOAuth is the SDK's build-oauth call made with token (an attacker
// makes it from their own browser, with their own token).
func (e *proxyEnv) buildOAuth(token, integrationUUID, opener string) string {
	e.t.Helper()
	q := url.Values{"action": {"custom"}, "integrationId": {integrationUUID}, "userToken": {token}, "originForPostMessage": {opener},
		"endUserSuppliedValues": {"{}"}, "parameters": {"{}"}, "isPreviewMode": {"false"}, "installOptions": {"{}"}, "oauthMetaKeyId": {"attacker-key-1"}}
	r := e.do("GET", "/v2/projects/dev/sdk/actions/build-oauth?"+q.Encode(), token, nil, nil)
	var out struct{ RedirectURL string }
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != 200 || out.RedirectURL == "" {
		e.t.Fatalf("build-oauth: %d %s", r.status, r.body)
	}
	return out.RedirectURL
}

// Login CSRF through the SDK's popup. Mallory, a user of the app, has her
// own user token. Her page on another origin opens the SDK's first popup
// page (oauth-nonce) with her token in the victim's browser, then sends
// that popup where her own build-oauth call said. Before the fix the nonce
// page bound the victim's browser to Mallory and build-oauth returned the
// provider's authorization URL: with a provider where the victim is signed
// in and has consented (AutoApprove), the victim's provider account was
// stored under Mallory without the victim seeing a page. Now the nonce page
// refuses a popup not opened by an allowed app page, build-oauth's URL is a
// gateway page that names the account, and the session the victim already
// had open in the browser is not replaced.
func TestSDKPopupLoginCSRFFromAnotherOrigin(t *testing.T) {
	a := startSDKApp(t)
	e := a.proxyEnv
	e.provider.AutoApprove = true
	e.provider.AddAPIKey("victor-key")

	// The victim has a connect page of his own open (an earlier binding).
	victimTab, cancel := chromedp.NewContext(a.ctx)
	defer cancel()
	run(t, victimTab, "victim opens his own connect link", chromedp.Navigate(e.connectLink("victor", "custom.fakekey")),
		chromedp.WaitVisible(chromedp.ID("f-api_key")))

	mallory := e.tokenWith("mallory", map[string]any{"name": "Mallory", "email": "mallory@evil.example"})
	redirect := e.buildOAuth(mallory, integration.UUID("dev", "fakeoauth"), a.app)
	nonce := e.base + "/projects/dev/sdk/actions/oauth-nonce?" + url.Values{"action": {"custom.fakeoauth"},
		"integrationId": {integration.UUID("dev", "fakeoauth")}, "originForPostMessage": {a.app}, "userToken": {mallory}}.Encode()
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>Free stuff</title></head><body><h1>Win a prize</h1></body></html>`)
	}))
	defer evil.Close()
	run(t, a.ctx, "victim visits the attacker's page", chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.CSS("h1")))
	pctx := a.popup(func() {
		_ = eval[bool](a, `!!(window.w = window.open(`+jsString(nonce)+`, "paragon", "width=500,height=700"))`)
	})
	run(t, pctx, "nonce page", chromedp.WaitVisible(chromedp.CSS("h1")))
	if h1 := text(t, pctx, "h1"); h1 != "Cannot connect" {
		t.Errorf("oauth-nonce opened from %s says %q, want it refused", evil.URL, h1)
	} else if msg := text(t, pctx, "#result"); !strings.Contains(msg, "opened from \""+evil.URL+"\", which is not an app allowed") {
		t.Errorf("refusal says %q", msg)
	}
	screenshot(t, pctx, "trust-a1-nonce-from-other-origin")

	// The attacker's page sends the popup on, as the SDK would.
	_ = eval[string](a, `(window.w.location = `+jsString(redirect)+`, "sent")`)
	// It settles on a gateway page, or (before the fix) on the callback's
	// page, which closes the popup at once.
	closed := false
	testfix.Eventually(t, "the popup to settle", func() bool {
		if closed = eval[bool](a, `window.w.closed`); closed {
			return true
		}
		shown, _ := chromedp.Run(pctx, chromedp.Evaluate[bool](`!!document.querySelector("#result, #context, #switch-notice")`))
		return shown
	})
	if list, _ := e.store.List(context.Background(), "dev", "mallory"); len(list) != 0 {
		t.Fatalf("the victim's provider account was stored under the attacker (%d connections)", len(list))
	}
	if n := e.provider.AuthorizeRequests.Load(); n != 0 {
		t.Errorf("the victim's browser reached the provider %d time(s) without a page naming the account first", n)
	}
	// The victim's open session is not silently replaced: the page asks,
	// naming both accounts.
	if closed {
		t.Fatal("the popup closed itself")
	}
	screenshot(t, pctx, "trust-a2-popup-after-redirect")
	if got := text(t, pctx, "#current-account"); got != "victor" {
		t.Errorf("switch page names the open session's account %q", got)
	}
	if got := text(t, pctx, "#account"); got != "Mallory (mallory@evil.example)" {
		t.Errorf("switch page names the link's account %q", got)
	}

	// The victim's earlier binding still works, for him.
	run(t, victimTab, "victim connects in his own tab", chromedp.SendKeys(chromedp.ID("f-api_key"), "victor-key"),
		chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, victimTab, "h1"); got != "Fake Key is connected" {
		t.Fatalf("victim's own connect: %q", got)
	}
	// And a later SDK flow of his own goes through, as him.
	run(t, a.ctx, "back to the app", chromedp.Navigate(a.app), chromedp.WaitVisible(chromedp.CSS("h1")))
	_ = eval[string](a, `paragon.authenticate("dev", "`+e.token("victor")+`").then(() => "ok")`)
	pctx = a.popup(func() {
		_ = eval[string](a, `(window.installOAuth = paragon.installIntegration("custom.fakeoauth", {}), "started")`)
	})
	a.continueToProvider(pctx, "Fake OAuth", "victor")
	if got := eval[map[string]any](a, `window.installOAuth`); got["integrationType"] != "custom.fakeoauth" {
		t.Fatalf("victim's own install resolved with %v", got)
	}
	if list, _ := e.store.List(context.Background(), "dev", "victor"); len(list) != 2 {
		t.Errorf("victim has %d connections, want 2 (key, oauth)", len(list))
	}
	if list, _ := e.store.List(context.Background(), "dev", "mallory"); len(list) != 0 {
		t.Errorf("attacker has %d connections", len(list))
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
