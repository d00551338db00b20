package gateway

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The console's workflows page: each workflow file with its status and
// located problems, each served workflow drawn; a workflow's texts come
// from files and stay text.
func TestConsoleWorkflows(t *testing.T) {
	e := startProxyEnvWith(t, withWorkflowFiles(t, testWorkflowFiles))
	writeFile(t, filepath.Join(e.srv.cfg.ManifestDir, "evil.workflow.yaml"), `id: evil
title: "</h2><script>alert(1)</script>"
description: "<img src=x onerror=alert(2)>"
integration: fakekey
trigger: {event: lead.created}
steps:
  - id: a
    title: "</text><script>alert(3)</script>"
    request: {method: GET, path: /me}
`)
	writeFile(t, filepath.Join(e.srv.cfg.ManifestDir, "broken.workflow.yaml"), "id: broken\ntitle: Broken\nintegration: nowhere\ntrigger: {event: x}\nsteps: []\n")
	e.srv.Reloader().Reload("test")
	c := e.console()
	c.signIn()
	r := c.get("/admin/workflows")
	if r.status != 200 {
		t.Fatalf("workflows page: %d %s", r.status, r.body)
	}
	for _, want := range []string{
		`<h2 id="workflow-post-leads-title">Post new leads <span class="badge badge-ok">ok</span></h2>`,
		`<dt>Trigger</dt><dd>event lead.created</dd>`, `<dt>Users who never chose</dt><dd>enabled</dd>`,
		`<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram"`, `<title id="wf-greet-title">Greet</title>`,
		`broken.workflow.yaml`, `badge-rejected`, `&lt;/h2&gt;&lt;script&gt;alert(1)&lt;/script&gt;`, `&lt;img src=x onerror=alert(2)&gt;`, `&lt;/text&gt;&lt;script&gt;alert(3)&lt;/script&gt;`,
		`.workflow-diagram .failed rect{`, `aria-current="page">Workflows</a>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	for _, bad := range []string{"<script>", "<img src=x"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("the page contains %s", bad)
		}
	}
	if r := e.console().get("/admin/workflows"); r.status != 401 || strings.Contains(r.body, "workflow-diagram") {
		t.Errorf("signed out: %d", r.status)
	}

	ctx := newChrome(t)
	run(t, ctx, "sign in", chromedp.Navigate(e.base+"/admin/workflows"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), e.admin), chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("revision")),
		chromedp.Click(chromedp.CSS(`nav a[href="/admin/workflows"]`)), chromedp.WaitVisible(chromedp.ID("workflow-greet")))
	// The diagram's stylesheet applies under the page's CSP: a trigger box is filled.
	fill, err := read(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#workflow-greet .trigger rect")).fill`))
	if err != nil || fill != "rgb(246, 248, 250)" {
		t.Errorf("the diagram's trigger box is filled %q (%v): its style did not apply", fill, err)
	}
	screenshot(t, ctx, "console-workflows")
}
