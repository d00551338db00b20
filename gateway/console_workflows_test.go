package gateway

import (
	"path/filepath"
	"regexp"
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

	consoleRuns(t, e, c)

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
	run(t, ctx, "a run, step by step", chromedp.Click(chromedp.CSS(`#workflow-greet a.last-run`)), chromedp.WaitVisible(chromedp.ID("steps")))
	if got := text(t, ctx, `#steps tr[data-path="answer"]`); !strings.Contains(got, "succeeded") {
		t.Errorf("the answer step's row: %q", got)
	}
	screenshot(t, ctx, "console-workflow-run")
}

// consoleRuns: the workflows page draws each workflow's
// last run, the runs page lists runs with filters, and a run's page shows
// it step by step.
func consoleRuns(t *testing.T, e *proxyEnv, c *consoleClient) {
	t.Helper()
	e.connectKey("rita", "fakekey", "key-rita")
	if r := e.do("POST", "/projects/dev/sdk/triggers/greet", e.token("rita"), strings.NewReader(`{"name":"Rita"}`),
		map[string]string{"Content-Type": "application/json"}); r.status != 200 || !strings.Contains(r.body, "Hello Rita") {
		t.Fatalf("greet: %d %s", r.status, r.body)
	}
	page := c.get("/admin/workflows").body
	for _, want := range []string{`<g class="n succeeded"><title>me (request): GET /me — succeeded</title>`, `class="last-run"`,
		`<a href="/admin/workflow-runs?workflow=greet">all runs</a>`, `aria-current="page">Workflows</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the workflows page lacks %s", want)
		}
	}
	if !strings.Contains(page, `<g class="n"><title>post (request): POST /echo</title>`) {
		t.Error("a workflow that never ran is not drawn without states")
	}
	list := c.get("/admin/workflow-runs?workflow=greet")
	m := regexp.MustCompile(`<tr data-id="([^"]+)">`).FindStringSubmatch(list.body)
	if list.status != 200 || m == nil || !strings.Contains(list.body, `badge-succeeded`) || !strings.Contains(list.body, "dev / rita") {
		t.Fatalf("runs page: %d %s", list.status, list.body)
	}
	if r := c.get("/admin/workflow-runs?status=failed"); r.status != 200 || strings.Contains(r.body, m[1]) {
		t.Errorf("filtered by failed: %d, lists the succeeded run: %v", r.status, strings.Contains(r.body, m[1]))
	}
	if r := c.get("/admin/workflow-runs?status=sideways"); r.status != 400 || !strings.Contains(r.body, "must be queued, running, succeeded or failed") {
		t.Errorf("a bad status filter: %d", r.status)
	}
	run := c.get("/admin/workflow-runs/" + m[1])
	for _, want := range []string{`<tr data-path="me">`, `<tr data-path="answer">`, `Hello Rita`, `class="workflow-diagram"`,
		`<g class="n succeeded"><title>answer (response): respond 200 — succeeded</title>`} {
		if !strings.Contains(run.body, want) {
			t.Errorf("the run page lacks %s", want)
		}
	}
	if strings.Contains(run.body, "key-rita") {
		t.Error("the run page shows the user's API key")
	}
	if r := c.get("/admin/workflow-runs/no-such-run"); r.status != 404 {
		t.Errorf("an unknown run: %d", r.status)
	}
}
