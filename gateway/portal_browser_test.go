package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// The Connect Portal's result pages, disclosures and the SDK modal's
// keyboard handling, in Chromium.

// startPortalApp is a gateway with an app page on an allowed origin (a
// tab in Chromium on that page), without the SDK.
func startPortalApp(t *testing.T, adjust func(*Config)) *sdkApp {
	ctx := newChrome(t)
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Acme CRM</title></head><body><h1 id="app-page">Acme CRM %s</h1>
<script>window.messages = []; window.addEventListener("message", function (e) { window.messages.push(e.data); });</script></body></html>`, r.URL.Path)
	}))
	t.Cleanup(appSrv.Close)
	e := startProxyEnvWith(t, func(c *Config) {
		c.AllowedOrigins = []string{appSrv.URL}
		c.Projects[0].Name = "Acme CRM"
		if adjust != nil {
			adjust(c)
		}
	})
	a := &sdkApp{proxyEnv: e, app: appSrv.URL, ctx: ctx, t: t}
	run(t, ctx, "open the app", chromedp.Navigate(appSrv.URL), chromedp.WaitVisible(chromedp.ID("app-page")))
	return a
}

func (a *sdkApp) link(user, body string) string {
	a.t.Helper()
	return linkURL(a.t, a.linkWith(user, body))
}

// In a tab, the result page links back to the app's return URL; in the
// OAuth flow the return URL travels through the state to the callback.
// A refusal's provider answer sits behind a Details disclosure.
func TestBrowserResultPageBackToAppInATab(t *testing.T) {
	a := startPortalApp(t, nil)
	ctx := a.ctx
	back := a.app + "/settings/integrations?tab=all"
	link := a.link("tina", `{"integrationId":"custom.fakeoauth","returnUrl":`+jsString(back)+`}`)
	run(t, ctx, "open link", chromedp.Navigate(link), chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "octo"), chromedp.SendKeys(chromedp.ID("password"), "hunter2"),
		chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("back")))
	if got := text(t, ctx, "#back"); got != "Back to Acme CRM" {
		t.Errorf("back link says %q", got)
	}
	if got := text(t, ctx, "#context p"); got != "Connected Fake OAuth to Acme CRM as tina." {
		t.Errorf("result page names %q", got)
	}
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("close-row").hidden`)); shown {
		t.Error("a tab shows a Close button it cannot honour")
	}
	screenshot(t, ctx, "portal-r1-connected-tab-back-to-app")
	run(t, ctx, "back to the app", chromedp.Click(chromedp.ID("back")), chromedp.WaitVisible(chromedp.ID("app-page")))
	if loc := location(t, ctx); loc != back {
		t.Errorf("back link led to %s, want %s", loc, back)
	}

	// Denied at the provider: a failure page, the provider's words behind "Details".
	link = a.link("tina", `{"integrationId":"custom.fakeoauth","returnUrl":`+jsString(back)+`}`)
	run(t, ctx, "deny", chromedp.Navigate(link), chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("deny")),
		chromedp.Click(chromedp.ID("deny")), chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, ctx, "#result summary"); got != "Details" {
		t.Errorf("disclosure says %q", got)
	}
	if open, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("provider-details").open`)); open {
		t.Error("the provider's answer is open before it is asked for")
	}
	if got := text(t, ctx, "#back"); got != "Back to Acme CRM" {
		t.Errorf("failure page back link %q", got)
	}
	screenshot(t, ctx, "portal-r2-denied-details-closed")
	run(t, ctx, "open details", chromedp.Click(chromedp.CSS("#provider-details summary")), chromedp.WaitVisible(chromedp.CSS("#provider-details p")))
	if got := text(t, ctx, "#provider-details p"); got != "Fake OAuth answered: The user denied access." {
		t.Errorf("details say %q", got)
	}
	screenshot(t, ctx, "portal-r3-denied-details-open")
}

// In a popup (window.opener set), the result page closes itself after a
// success and posts the result to the app; a failure stays with a Close
// button, and no "Back to" link that would load the app inside the popup.
func TestBrowserResultPageClosesItselfInAPopup(t *testing.T) {
	a := startPortalApp(t, nil)
	a.provider.AddAPIKey("popup-key-1")
	body := `{"integrationId":"custom.fakekey","origin":` + jsString(a.app) + `,"returnUrl":` + jsString(a.app+"/back") + `}`
	link := a.link("pia", body)
	pctx := a.popup(func() {
		_ = eval[bool](a, `!!(window.w = window.open(`+jsString(link)+`, "connect", "width=480,height=720"))`)
	})
	run(t, pctx, "popup form", chromedp.WaitVisible(chromedp.ID("f-api_key")))
	screenshot(t, pctx, "portal-p1-popup-form")
	run(t, pctx, "wrong key", chromedp.SendKeys(chromedp.ID("f-api_key"), "wrong\r"), chromedp.WaitVisible(chromedp.ID("notice")))
	if open, _ := chromedp.Run(pctx, chromedp.Evaluate[bool](`document.getElementById("provider-details").open`)); open {
		t.Error("the provider's answer is open before it is asked for")
	}
	run(t, pctx, "open details", chromedp.Click(chromedp.CSS("#provider-details summary")), chromedp.WaitVisible(chromedp.CSS("#provider-details code")))
	if got := text(t, pctx, "#provider-details p"); !strings.Contains(got, "401") || !strings.Contains(got, "Bad credentials") {
		t.Errorf("details say %q", got)
	}
	screenshot(t, pctx, "portal-p2-popup-refused-details")
	run(t, pctx, "right key", chromedp.SendKeys(chromedp.ID("f-api_key"), "popup-key-1"), chromedp.Click(chromedp.ID("submit")))
	testfix.Eventually(t, "the popup to close itself", func() bool { return eval[bool](a, `window.w.closed`) })
	msgs := eval[[]map[string]any](a, `window.messages`)
	if len(msgs) != 1 || msgs[0]["type"] != "plugboard:connected" || msgs[0]["integrationId"] != "custom.fakekey" {
		t.Errorf("the app got %v", msgs)
	}

	// A failure in a popup: Close, no back link, no self-closing.
	link = a.link("pia", `{"integrationId":"custom.fakeoauth","returnUrl":`+jsString(a.app+"/back")+`}`)
	pctx = a.popup(func() {
		_ = eval[bool](a, `!!(window.w = window.open(`+jsString(link)+`, "connect2", "width=480,height=720"))`)
	})
	run(t, pctx, "deny in popup", chromedp.WaitVisible(chromedp.ID("submit")), chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("deny")), chromedp.Click(chromedp.ID("deny")), chromedp.WaitVisible(chromedp.ID("close")))
	if backShown, _ := chromedp.Run(pctx, chromedp.Evaluate[bool](`!document.getElementById("back").parentNode.hidden`)); backShown {
		t.Error("the popup offers a link that would load the app inside it")
	}
	screenshot(t, pctx, "portal-p3-popup-denied-close")
	if eval[bool](a, `window.w.closed`) {
		t.Fatal("a failure closed the popup before the person could read it")
	}
	// The click's own answer may be lost with the window it closes
	// ("target detached"); whether the popup closed is the check.
	_ = chromedp.Do(pctx, chromedp.Click(chromedp.ID("close")))
	testfix.Eventually(t, "Close to close the popup", func() bool { return eval[bool](a, `window.w.closed`) })
}

// Every portal state not covered elsewhere, for the artifacts: an
// unavailable OAuth integration (dev mode, client secret unset) on the
// portal form and in the SDK's popup.
func TestBrowserUnavailableIntegration(t *testing.T) {
	var unset atomic.Bool
	a := startPortalApp(t, func(c *Config) {
		c.Manifest.AllowUnresolvedSecrets = true
		lookup := c.Manifest.Secrets.LookupEnv
		c.Manifest.Secrets.LookupEnv = func(k string) (string, bool) {
			if k == "FAKE_CLIENT_SECRET" && unset.Load() {
				return "", false
			}
			return lookup(k)
		}
	})
	link := a.connectLink("uma", "custom.fakeoauth")
	unset.Store(true)
	reloadWithChange(t, a.proxyEnv, "fakeoauth.yaml")
	run(t, a.ctx, "open", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("unavailable")))
	if n, _ := chromedp.Run(a.ctx, chromedp.Evaluate[int](`document.querySelectorAll("form, #submit").length`)); n != 0 {
		t.Error("an unavailable integration has a form")
	}
	run(t, a.ctx, "details", chromedp.Click(chromedp.CSS("#unavailable-details summary")), chromedp.WaitVisible(chromedp.CSS("#unavailable-details p")))
	if got := text(t, a.ctx, "#unavailable-details p"); !strings.Contains(got, "FAKE_CLIENT_SECRET") {
		t.Errorf("details say %q", got)
	}
	screenshot(t, a.ctx, "portal-u1-unavailable-form")
}

// reloadWithChange touches a manifest's description and reloads, so that
// its secrets are resolved again.
func reloadWithChange(t *testing.T, e *proxyEnv, file string) {
	t.Helper()
	cat := e.adminFiles()
	for _, f := range cat.Files {
		if strings.HasSuffix(f.File, file) {
			b, err := os.ReadFile(f.File)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, f.File, strings.Replace(string(b), "description: ", "description: Reloaded. ", 1))
		}
	}
	if rep := e.srv.Reloader().Reload("test"); !rep.Success {
		t.Fatalf("reload: %+v", rep)
	}
}

// The SDK's connect() modal: it names the app and the account, takes the
// focus when it shows, keeps it on Tab and Shift+Tab, and closes on Esc
// (the SDK then calls the app's onClose, which puts focus back on the
// button that opened it).
func TestSDKModalFocusTrapAndEsc(t *testing.T) {
	var unset atomic.Bool
	unset.Store(true)
	a := startSDKAppWith(t, func(c *Config) {
		c.Manifest.AllowUnresolvedSecrets = true
		lookup := c.Manifest.Secrets.LookupEnv
		c.Manifest.Secrets.LookupEnv = func(k string) (string, bool) {
			if k == "FAKE_CLIENT_SECRET" && unset.Load() {
				return "", false
			}
			return lookup(k)
		}
	})
	ctx := a.ctx
	if got := eval[string](a, `paragon.authenticate("dev", "`+a.tokenWith("ada", map[string]any{"name": "Ada Lovelace"})+`").then(() => "ok")`); got != "ok" {
		t.Fatalf("authenticate: %s", got)
	}
	_ = eval[string](a, `(function () {
		var b = document.createElement("button"); b.id = "opener"; b.textContent = "Connect Fake Key";
		document.body.appendChild(b); b.focus();
		window.onCloseCalls = 0;
		paragon.connect("custom.fakekey", { onClose: function () { window.onCloseCalls++; document.getElementById("opener").focus(); } });
		return "started";
	})()`)
	frame := a.frameNode()
	in := chromedp.FromNode(frame)
	run(t, ctx, "form in the modal", chromedp.WaitVisible(chromedp.ID("pb-f-api_key"), in))
	focused := func() string {
		t.Helper()
		id, err := chromedp.Run(ctx, chromedp.Poll[string](`(document.hasFocus() ? "" : "unfocused:") + ((document.activeElement && (document.activeElement.id || document.activeElement.className || document.activeElement.tagName)) || "none")`,
			chromedp.WithPollingInFrame(frame)))
		if err != nil {
			t.Fatalf("focus in the frame: %v", err)
		}
		return id
	}
	testfix.Eventually(t, "focus in the dialog's first field", func() bool { return focused() == "pb-f-api_key" })
	if got := eval[string](a, `document.activeElement.id`); got != "paragon-connect-frame" {
		t.Errorf("the app's focus is on %q, want the portal frame", got)
	}
	if got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("pb-context"), in)); got != "Connecting Fake Key to "+sdkAppName+" as Ada Lovelace." {
		t.Errorf("the modal says %q", got)
	}
	screenshot(t, ctx, "sdk-modal-1-focus-in-dialog")

	// Tab cycles through the dialog and never leaves it.
	var seen []string
	for i := 0; i < 5; i++ {
		run(t, ctx, "tab", chromedp.KeyEvent(kb.Tab))
		seen = append(seen, focused())
	}
	if want := "pb-submit,close-x,pb-f-api_key,pb-submit,close-x"; strings.Join(seen, ",") != want {
		t.Errorf("Tab went %v, want %s", seen, want)
	}
	run(t, ctx, "shift+tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
	if got := focused(); got != "pb-submit" {
		t.Errorf("Shift+Tab from the first element went to %q, want the last", got)
	}
	if got := eval[string](a, `document.activeElement.id`); got != "paragon-connect-frame" {
		t.Errorf("focus left the modal for the app's %q", got)
	}

	// Esc closes it; the SDK calls onClose, which gives focus back.
	run(t, ctx, "esc", chromedp.KeyEvent(kb.Escape))
	testfix.Eventually(t, "the frame to hide", func() bool { return a.frameDisplay() == "none" })
	testfix.Eventually(t, "onClose", func() bool { return eval[int](a, `window.onCloseCalls`) == 1 })
	if got := eval[string](a, `document.activeElement.id`); got != "opener" {
		t.Errorf("after Esc the app's focus is on %q, want the button that opened the modal", got)
	}

	// An unavailable OAuth integration says so in the modal, with the
	// operator's details, instead of a button that fails.
	_ = eval[string](a, `(paragon.connect("custom.fakeoauth", {}), "started")`)
	frame = a.frameNode()
	in = chromedp.FromNode(frame)
	run(t, ctx, "unavailable", chromedp.WaitVisible(chromedp.ID("pb-unavailable"), in))
	if n, _ := chromedp.Run(ctx, chromedp.Nodes(chromedp.ID("pb-connect"), in, chromedp.AtLeast(0))); len(n) != 0 {
		t.Error("the modal offers a Connect button for an unavailable integration")
	}
	run(t, ctx, "details", chromedp.Click(chromedp.CSS("#pb-unavailable summary"), in))
	screenshot(t, ctx, "sdk-modal-2-unavailable")
	if got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#pb-unavailable details p"), in)); !strings.Contains(got, "FAKE_CLIENT_SECRET") {
		t.Errorf("details say %q", got)
	}
	run(t, ctx, "esc", chromedp.KeyEvent(kb.Escape))
	testfix.Eventually(t, "the frame to hide", func() bool { return a.frameDisplay() == "none" })

	// The SDK lists every integration with an icon URL it can load.
	icons := eval[[]string](a, `paragon.getIntegrationMetadata().map(m => m.icon)`)
	for _, icon := range icons {
		if !strings.HasPrefix(icon, a.base+"/v1/integrations/") {
			t.Errorf("icon %q is not served by the gateway", icon)
		}
	}
	raw, _ := json.Marshal(icons)
	if w := eval[float64](a, `new Promise(r => { const i = new Image(); i.onload = () => r(i.naturalWidth); i.onerror = () => r(0); i.src = `+jsString(a.base+"/v1/integrations/fakekey/icon.svg")+`; })`); w == 0 {
		t.Errorf("the generated icon does not load as an image (%s)", raw)
	}
}
