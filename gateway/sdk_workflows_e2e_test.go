package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// The unmodified @useparagon/connect SDK in Chromium and the workflows of
// an integration: getIntegrationConfig lists them, enableWorkflow,
// updateWorkflowUserSettings and disableWorkflow save the user's choices
// (what the Connect Portal saves too), workflow() gets a run's response and event() starts the workflows that
// listen for it.
func TestSDKWorkflowsUnmodified(t *testing.T) {
	a := startSDKAppWith(t, withWorkflowFiles(t, testWorkflowFiles))
	e := a.proxyEnv
	e.connectKey("sdk-wf", "fakekey", "key-sdk-wf")
	tok := a.token("sdk-wf")
	if got := eval[string](a, `paragon.authenticate("dev", "`+tok+`").then(() => "ok")`); got != "ok" {
		t.Fatalf("authenticate: %s", got)
	}
	conf := eval[map[string]any](a, `paragon.getIntegrationConfig("custom.fakekey")`)
	if got := jsonOf(conf["availableWorkflows"]); !strings.Contains(got, `"description":"Post new leads","id":"post-leads"`) ||
		!strings.Contains(got, `"id":"greet"`) || !strings.Contains(got, `"key":"channel"`) {
		t.Errorf("getIntegrationConfig().availableWorkflows: %s", got)
	}
	settingsOf := func(id string) string {
		return jsonOf(eval[map[string]any](a, `paragon.getUser().integrations["custom.fakekey"].allCredentials[0].configurations[0].workflowSettings[`+jsString(id)+`] || {}`))
	}
	if got := settingsOf("greet"); got != `{"enabled":true,"settings":{}}` {
		t.Errorf("greet (enabled by default) in the SDK's state: %s", got)
	}

	// enableWorkflow without the required setting: the gateway says which.
	if got := a.evalErr(`paragon.enableWorkflow("post-leads")`); !strings.Contains(got, `\"Post new leads\" cannot be enabled: Channel is required.`) {
		t.Errorf("enableWorkflow without its channel: %q", got)
	}
	if got := eval[string](a, `paragon.updateWorkflowUserSettings("custom.fakekey", "post-leads", {channel: "#sdk"}).then(r => r.errors.length + " errors")`); got != "0 errors" {
		t.Errorf("updateWorkflowUserSettings: %s", got)
	}
	if got := eval[string](a, `paragon.enableWorkflow("post-leads").then(() => "ok")`); got != "ok" {
		t.Fatalf("enableWorkflow: %s", got)
	}
	if got := settingsOf("post-leads"); got != `{"enabled":true,"settings":{"channel":"#sdk","limit":10,"mention":false,"tone":"calm"}}` {
		t.Errorf("post-leads in the SDK's state: %s", got)
	}
	if got := eval[string](a, `paragon.disableWorkflow("greet").then(() => "ok")`); got != "ok" {
		t.Fatalf("disableWorkflow: %s", got)
	}
	if on, settings, err := e.store.UserWorkflow(context.Background(), "dev", "sdk-wf", e.workflow("post-leads")); err != nil || !on || settings["channel"] != "#sdk" {
		t.Errorf("the store after enableWorkflow: %v %v %v", on, settings, err)
	}
	if on, _, _ := e.store.UserWorkflow(context.Background(), "dev", "sdk-wf", e.workflow("greet")); on {
		t.Error("the store after disableWorkflow: greet still enabled")
	}
	// A new authenticate reads the same from /sdk/me.
	_ = eval[string](a, `paragon.authenticate("dev", "`+tok+`").then(() => "ok")`)
	if got := jsonOf(eval[map[string]any](a, `paragon.getUser().integrations["custom.fakekey"].workflowSettings`)); got !=
		`{"greet":{"enabled":false,"settings":{}},"post-leads":{"enabled":true,"settings":{"channel":"#sdk","limit":10,"mention":false,"tone":"calm"}}}` {
		t.Errorf("workflowSettings after authenticate: %s", got)
	}

	// The Connect Portal in the SDK's iframe: a connected integration lists
	// its workflows; the user changes a setting and switches one on.
	_ = eval[string](a, `(window.connectWF = paragon.connect("custom.fakekey", {}), "started")`)
	in := chromedp.FromNode(a.frameNode())
	run(t, a.ctx, "workflows in the portal", chromedp.WaitVisible(chromedp.ID("pb-wf-post-leads-enabled"), in))
	if got, _ := chromedp.Run(a.ctx, chromedp.Text(chromedp.ID("pb-wf-heading"), in)); got != "Workflows" {
		t.Errorf("heading %q", got)
	}
	if v, _ := chromedp.Run(a.ctx, chromedp.Value(chromedp.ID("pb-wf-post-leads-s-channel"), in)); v != "#sdk" {
		t.Errorf("the channel field shows %q", v)
	}
	run(t, a.ctx, "change the channel", chromedp.SetValue(chromedp.ID("pb-wf-post-leads-s-channel"), "#iframe", in),
		chromedp.Click(chromedp.ID("pb-wf-post-leads-save"), in))
	testfix.Eventually(t, "the save", func() bool {
		s, _ := chromedp.Run(a.ctx, chromedp.Text(chromedp.ID("pb-wf-post-leads-status"), in))
		return s == "Saved: enabled."
	})
	// Switch greet on with the keyboard.
	run(t, a.ctx, "enable greet", chromedp.Focus(chromedp.ID("pb-wf-greet-enabled"), in), chromedp.KeyEvent(" "),
		chromedp.Click(chromedp.ID("pb-wf-greet-save"), in))
	testfix.Eventually(t, "greet saved", func() bool {
		s, _ := chromedp.Run(a.ctx, chromedp.Text(chromedp.ID("pb-wf-greet-status"), in))
		return s == "Saved: enabled."
	})
	screenshot(t, a.ctx, "sdk-workflows-iframe")
	if on, settings, err := e.store.UserWorkflow(context.Background(), "dev", "sdk-wf", e.workflow("post-leads")); err != nil || !on || settings["channel"] != "#iframe" {
		t.Errorf("the store after the portal's save: %v %v %v", on, settings, err)
	}
	if on, _, _ := e.store.UserWorkflow(context.Background(), "dev", "sdk-wf", e.workflow("greet")); !on {
		t.Error("greet switched on in the portal is off in the store")
	}
	// Emptying the required channel of an enabled workflow is refused, with why.
	// (chromedp cannot set an empty value; the portal trims the field.)
	run(t, a.ctx, "empty the channel", chromedp.SetValue(chromedp.ID("pb-wf-post-leads-s-channel"), " ", in))
	run(t, a.ctx, "save it", chromedp.Click(chromedp.ID("pb-wf-post-leads-save"), in))
	run(t, a.ctx, "refused", chromedp.WaitVisible(chromedp.ID("pb-wf-post-leads-error"), in))
	if got, _ := chromedp.Run(a.ctx, chromedp.Text(chromedp.ID("pb-wf-post-leads-error"), in)); !strings.Contains(got, "Channel is required") {
		t.Errorf("the refusal says %q", got)
	}
	run(t, a.ctx, "close the portal", chromedp.Click(chromedp.ID("pb-done"), in))

	// workflow(): the run's response step answers. A disabled workflow is refused.
	_ = eval[string](a, `paragon.disableWorkflow("greet").then(() => "ok")`)
	if got := a.evalErr(`paragon.workflow("greet", {body: {name: "Ada"}})`); !strings.Contains(got, "workflow_disabled") && !strings.Contains(got, "not enabled") {
		t.Errorf("workflow() of a disabled workflow: %s", got)
	}
	// The refusal is not a 401 or 403, after which the SDK would sign the user out.
	if !eval[bool](a, `paragon.getUser().authenticated`) {
		t.Error("the SDK signed the user out after a disabled workflow's refusal")
	}
	_ = eval[string](a, `paragon.enableWorkflow("greet").then(() => "ok")`)
	got := eval[map[string]any](a, `paragon.workflow("greet", {body: {name: "Ada"}})`)
	if got["greeting"] != "Hello Ada" || got["login"] != "octo" {
		t.Errorf("workflow(greet) resolved with %v", got)
	}
	// event(): post-leads listens for lead.created; its run posts to the provider.
	if got := eval[string](a, `paragon.event("lead.created", {name: "Grace"}).then(() => "ok")`); got != "ok" {
		t.Fatalf("event: %s", got)
	}
	testfix.Eventually(t, "the event's run to succeed", func() bool {
		r := e.do("GET", "/admin/v1/workflow-runs?workflow=post-leads", e.admin, nil, nil)
		return r.status == 200 && strings.Contains(r.body, "succeeded")
	})
}
