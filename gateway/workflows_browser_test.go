package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/plugboardhq/plugboard/gateway/testfix"
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
	a := startPortalApp(t, withWorkflowFiles(t, testWorkflowFiles))
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
	if got := text(t, ctx, "#wf-post-leads-s-channel-error"); got != "Channel is required" {
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
	if on, settings, err := a.store.UserWorkflow(context.Background(), "dev", "wendy", a.workflow("post-leads")); err != nil || on || settings["channel"] != "#leads" {
		t.Errorf("after disabling: %v %v %v", on, settings, err)
	}
	if got := text(t, ctx, "#back"); got != "Back to Acme CRM" {
		t.Errorf("back link %q", got)
	}
}

// leadSink is an integration's API that records what workflow runs post.
type leadSink struct {
	mu    sync.Mutex
	posts []map[string]any
}

func (s *leadSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	s.posts = append(s.posts, body)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// posted counts the posts of user with name.
func (s *leadSink) posted(user, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.posts {
		if p["user"] == user && p["name"] == name {
			n++
		}
	}
	return n
}

const notifyWorkflowFile = `id: notify-leads
title: Notify new leads
integration: leadsink
trigger:
  event: lead.created
settings:
  - {key: channel, label: Channel, type: string, required: true}
steps:
  - id: notify
    request:
      method: POST
      path: /notify
      body: {user: "=user.id", name: "=trigger.payload.name", channel: "=settings.channel"}
    retry: {attempts: 1}
`

// A user who disables a workflow in the portal no longer triggers it: the
// engine's question (store.UserWorkflow) says so at once, and the app's
// event runs the workflow for a user who has it enabled and not for the
// one who disabled it.
func TestBrowserDisabledWorkflowNoLongerRuns(t *testing.T) {
	sink := &leadSink{}
	up := httptest.NewServer(sink)
	t.Cleanup(up.Close)
	a := startPortalApp(t, withManifests(t, up.URL, map[string]string{"leadsink.yaml": fmt.Sprintf(keyManifest, "leadsink", "Lead Sink"),
		"notify-leads.workflow.yaml": notifyWorkflowFile}))
	wf := a.workflow("notify-leads")
	ctx := a.ctx
	event := func(user, name string) {
		t.Helper()
		r := a.do("POST", "/v2/projects/dev/sdk/events/trigger", a.token(user), strings.NewReader(`{"name":"lead.created","payload":{"name":`+jsString(name)+`}}`),
			map[string]string{"Content-Type": "application/json"})
		if r.status/100 != 2 {
			t.Fatalf("event for %s: %d %s", user, r.status, r.body)
		}
	}

	// Dina connects in the portal and enables the workflow there.
	link := a.link("dina", `{"integrationId":"custom.leadsink"}`)
	run(t, ctx, "connect", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("f-api_key")),
		chromedp.SendKeys(chromedp.ID("f-api_key"), "dina-key\r"), chromedp.WaitVisible(chromedp.ID("workflows-link")),
		chromedp.Click(chromedp.ID("workflows-link")), chromedp.WaitVisible(chromedp.ID("wf-notify-leads-enabled")),
		chromedp.Click(chromedp.ID("wf-notify-leads-enabled")), chromedp.SendKeys(chromedp.ID("wf-notify-leads-s-channel"), "#dina"),
		chromedp.Click(chromedp.ID("wf-notify-leads-save")), chromedp.WaitVisible(chromedp.ID("wf-notify-leads-saved")))
	if on, _, err := a.store.UserWorkflow(context.Background(), "dev", "dina", wf); err != nil || !on {
		t.Fatalf("enabled in the portal, the engine is told %v (%v)", on, err)
	}
	event("dina", "first")
	testfix.Eventually(t, "dina's run to post", func() bool { return sink.posted("dina", "first") == 1 })

	// She disables it in the portal.
	run(t, ctx, "disable", chromedp.Navigate(a.base+"/connect/portal/leadsink/workflows"), chromedp.WaitVisible(chromedp.ID("wf-notify-leads-enabled")),
		chromedp.Click(chromedp.ID("wf-notify-leads-enabled")), chromedp.Click(chromedp.ID("wf-notify-leads-save")),
		chromedp.WaitVisible(chromedp.ID("wf-notify-leads-saved")))
	if got := text(t, ctx, "#wf-notify-leads-saved"); got != "Saved: disabled." {
		t.Fatalf("status %q", got)
	}
	screenshot(t, ctx, "workflows-4-disabled")
	if on, _, err := a.store.UserWorkflow(context.Background(), "dev", "dina", wf); err != nil || on {
		t.Fatalf("disabled in the portal, the engine is told %v (%v)", on, err)
	}
	// Her event runs nothing. Sam, who has it enabled, sends the same
	// event after hers: once his run has posted, hers would have too.
	a.connectKey("sam", "leadsink", "sam-key")
	if r := a.do("POST", "/projects/dev/sdk/workflows/notify-leads", a.token("sam"), strings.NewReader(`{"settings":{"channel":"#sam"}}`),
		map[string]string{"Content-Type": "application/json"}); r.status != 200 {
		t.Fatalf("sam enables: %d %s", r.status, r.body)
	}
	event("dina", "second")
	event("sam", "second")
	testfix.Eventually(t, "sam's run to post", func() bool { return sink.posted("sam", "second") == 1 })
	if n := sink.posted("dina", "second"); n != 0 {
		t.Errorf("dina disabled the workflow and her event still ran it (%d posts)", n)
	}
}
