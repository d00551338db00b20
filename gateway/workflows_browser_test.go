package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The Connect Portal's workflows page in Chromium: after connecting in a
// tab, the user chooses the integration's workflows with the keyboard,
// and their choice is what the store and the SDK's /sdk/me say.

// pageEval evaluates JavaScript in the page of ctx.
func pageEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := read(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func TestBrowserPortalEnablesAWorkflow(t *testing.T) {
	a := startPortalApp(t, withTestWorkflows(testWorkflows()))
	ctx := a.ctx
	a.provider.AddAPIKey("wf-key-1")
	link := a.link("wendy", `{"integrationId":"custom.fakekey","returnUrl":`+jsString(a.app+"/settings")+`}`)
	run(t, ctx, "connect", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("f-api_key")),
		chromedp.SendKeys(chromedp.ID("f-api_key"), "wf-key-1\r"), chromedp.WaitVisible(chromedp.ID("workflows-link")))
	if got := text(t, ctx, "#workflows-link"); got != "Choose workflows" {
		t.Errorf("the success page's link says %q", got)
	}
	screenshot(t, ctx, "workflows-1-connected")
	// Keyboard only: Enter on the link, Space on the switch.
	run(t, ctx, "open the workflows page", chromedp.Focus(chromedp.ID("workflows-link")), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("wf-post-leads-enabled")))
	if got := text(t, ctx, "h1"); got != "Fake Key workflows" {
		t.Errorf("page title %q", got)
	}
	if got := text(t, ctx, "#wf-greet-title"); got != "Greet" {
		t.Errorf("second workflow %q", got)
	}
	if on := pageEval[bool](t, ctx, `document.getElementById("wf-greet-enabled").checked`); !on {
		t.Error("a workflow enabled by default shows off")
	}
	if on := pageEval[bool](t, ctx, `document.getElementById("wf-post-leads-enabled").checked`); on {
		t.Error("post-leads shows enabled before the user chose")
	}
	if got := pageEval[string](t, ctx, `document.getElementById("wf-post-leads-s-tone").value`); got != "calm" {
		t.Errorf("the tone field shows %q, want its default", got)
	}
	run(t, ctx, "switch on with Space", chromedp.Focus(chromedp.ID("wf-post-leads-enabled")), chromedp.KeyEvent(" "))
	if on := pageEval[bool](t, ctx, `document.getElementById("wf-post-leads-enabled").checked`); !on {
		t.Fatal("Space did not turn the switch on")
	}
	// Saved without its required channel: refused, the notice takes focus.
	run(t, ctx, "save without channel", chromedp.Focus(chromedp.ID("wf-post-leads-save")), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("wf-post-leads-notice")))
	if got := text(t, ctx, "#wf-post-leads-s-channel-error"); got != "required: fill it in to enable the workflow" {
		t.Errorf("channel error %q", got)
	}
	if got := pageEval[string](t, ctx, `document.activeElement.id`); got != "wf-post-leads-notice" {
		t.Errorf("focus is on %q after a refused save, want the notice", got)
	}
	if _, err := a.store.GetWorkflow(context.Background(), "dev", "wendy", "post-leads"); err == nil {
		t.Error("a refused save was stored")
	}
	screenshot(t, ctx, "workflows-2-refused")
	if on := pageEval[bool](t, ctx, `document.getElementById("wf-post-leads-enabled").checked`); !on {
		t.Error("the refused form lost the switch's position")
	}
	run(t, ctx, "fill and save with Enter", chromedp.SetValue(chromedp.ID("wf-post-leads-s-tone"), "loud"),
		chromedp.Focus(chromedp.ID("wf-post-leads-s-mention")), chromedp.KeyEvent(" "),
		chromedp.SendKeys(chromedp.ID("wf-post-leads-s-channel"), "#leads\r"), chromedp.WaitVisible(chromedp.ID("wf-post-leads-saved")))
	if got := text(t, ctx, "#wf-post-leads-saved"); got != "Saved: enabled." {
		t.Errorf("status says %q", got)
	}
	if got := pageEval[string](t, ctx, `document.getElementById("wf-post-leads-s-channel").value`); got != "#leads" {
		t.Errorf("the saved page shows channel %q", got)
	}
	screenshot(t, ctx, "workflows-3-saved")

	c, err := a.store.GetWorkflow(context.Background(), "dev", "wendy", "post-leads")
	if err != nil || !c.Enabled || jsonOf(c.Settings) != `{"channel":"#leads","limit":10,"mention":true,"tone":"loud"}` {
		t.Errorf("stored: %+v %v", c, err)
	}
	if got := jsonOf(a.sdkMe("wendy", "custom.fakekey")["workflowSettings"]); got !=
		`{"greet":{"enabled":true,"settings":{}},"post-leads":{"enabled":true,"settings":{"channel":"#leads","limit":10,"mention":true,"tone":"loud"}}}` {
		t.Errorf("/sdk/me workflowSettings: %s", got)
	}

	// The session now manages workflows only: the connect form is gone, a
	// forged POST without the page's CSRF token is refused.
	run(t, ctx, "the connect page", chromedp.Navigate(a.base+"/connect/portal/fakekey"), chromedp.WaitVisible(chromedp.ID("wf-post-leads-enabled")))
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/connect/portal/fakekey/workflows") {
		t.Errorf("the connect page of a managing session is %s", loc)
	}
	// (The page's CSP allows no fetch: a form it is.)
	_ = pageEval[bool](t, ctx, `(() => { const f = document.createElement("form"); f.method = "post";
		f.action = "/connect/portal/fakekey/workflows/post-leads";
		for (const [k, v] of [["csrf", "forged"], ["s.channel", "#evil"]]) { const i = document.createElement("input"); i.name = k; i.value = v; f.appendChild(i); }
		document.body.appendChild(f); f.submit(); return true; })()`)
	run(t, ctx, "forged post answered", chromedp.WaitVisible(chromedp.ID("result")))
	if got := text(t, ctx, "h1"); got != "This form has expired" {
		t.Errorf("a POST with a forged CSRF token: %q", got)
	}
	if c, _ := a.store.GetWorkflow(context.Background(), "dev", "wendy", "post-leads"); c.Settings["channel"] != "#leads" || !c.Enabled {
		t.Errorf("a forged POST changed the choice: %+v", c)
	}
	// Disabling from the portal keeps the settings.
	run(t, ctx, "disable", chromedp.Navigate(a.base+"/connect/portal/fakekey/workflows"), chromedp.WaitVisible(chromedp.ID("wf-post-leads-enabled")), chromedp.Click(chromedp.ID("wf-post-leads-enabled")), chromedp.Click(chromedp.ID("wf-post-leads-save")),
		chromedp.WaitVisible(chromedp.ID("wf-post-leads-saved")))
	if got := text(t, ctx, "#wf-post-leads-saved"); got != "Saved: disabled." {
		t.Errorf("status says %q", got)
	}
	if on, settings, err := a.store.UserWorkflow(context.Background(), "dev", "wendy", testWorkflows()[0]); err != nil || on || settings["channel"] != "#leads" {
		t.Errorf("after disabling: %v %v %v", on, settings, err)
	}
	if got := text(t, ctx, "#back"); got != "Back to Acme CRM" {
		t.Errorf("back link %q", got)
	}
}

// engineMerged reports whether this gateway serves the workflow engine's
// triggers (wf-engine's branch): until it does, tests check the seam the
// engine asks (store.UserWorkflow) instead of running workflows.
func engineMerged(a *sdkApp) bool {
	return slices.Contains(a.srv.routes, "POST /v2/projects/{pid}/sdk/events/trigger")
}
