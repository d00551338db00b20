package gateway

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/manifest"
)

// testWorkflowFiles are workflows of the fake integrations.
var testWorkflowFiles = map[string]string{
	"post-leads.workflow.yaml": `id: post-leads
title: Post new leads
description: Posts each new lead to a channel.
integration: fakekey
trigger:
  event: lead.created
settings:
  - {key: channel, label: Channel, type: string, required: true, help: Where to post.}
  - {key: tone, label: Tone, type: string, enum: [calm, loud], default: calm}
  - {key: limit, label: Most leads a day, type: number, default: 10}
  - {key: mention, label: Mention the owner, type: boolean, default: false}
steps:
  - id: post
    request:
      method: POST
      path: /echo
      body: {channel: "=settings.channel", name: "=trigger.payload.name", user: "=user.id"}
    retry: {attempts: 1}
`,
	"greet.workflow.yaml": `id: greet
title: Greet
description: Answers the app with a greeting.
integration: fakekey
enabledByDefault: true
trigger:
  request: {}
steps:
  - id: me
    request: {method: GET, path: /me}
    retry: {attempts: 1}
  - id: answer
    response:
      status: 200
      body: {greeting: "='Hello ' + trigger.body.name", login: "=steps.me.body.login"}
`,
	"nightly.workflow.yaml": `id: nightly
title: Nightly sync
integration: fakeoauth
trigger:
  schedule: {cron: "0 3 * * *"}
steps:
  - id: me
    request: {method: GET, path: /me}
`,
}

// withWorkflowFiles adds workflow files to the gateway's manifest folder.
func withWorkflowFiles(t *testing.T, files map[string]string) func(*Config) {
	return func(c *Config) {
		for name, body := range files {
			writeFile(t, filepath.Join(c.ManifestDir, name), body)
		}
	}
}

// workflow returns a workflow of the serving catalog.
func (g *testGateway) workflow(id string) *manifest.Workflow {
	g.t.Helper()
	wf, ok := g.srv.Reloader().Catalog().Workflow(id)
	if !ok {
		g.t.Fatalf("no workflow %q in the catalog", id)
	}
	return wf
}

func decodeJSON[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	return v
}

// sdkMe returns /sdk/me's entry for an integration.
func (e *proxyEnv) sdkMe(user, slug string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/projects/dev/sdk/me", e.token(user), nil, nil)
	me := decodeJSON[map[string]any](e.t, r)
	entry, _ := me["integrations"].(map[string]any)[slug].(map[string]any)
	return entry
}

// compact is a JSON body without its indentation.
func compact(body string) string {
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return body
	}
	return jsonOf(v)
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSDKWorkflowSettingsAPI(t *testing.T) {
	e := startProxyEnvWith(t, withWorkflowFiles(t, testWorkflowFiles))
	tok := e.token("wendy")
	jsonHdr := map[string]string{"Content-Type": "application/json"}

	// /sdk/integrations: the workflows list and workflowMeta the SDK looks workflows up in.
	list := decodeJSON[[]map[string]any](t, e.do("GET", "/projects/dev/sdk/integrations", tok, nil, nil))
	var fakekey map[string]any
	for _, in := range list {
		if in["customIntegration"].(map[string]any)["slug"] == "custom.fakekey" {
			fakekey = in
		}
		if in["customIntegration"].(map[string]any)["slug"] == "custom.fakecc" && jsonOf(in["workflows"]) != "[]" {
			t.Errorf("an integration without workflows lists %v", in["workflows"])
		}
	}
	if got := jsonOf(fakekey["workflows"]); got != `[{"description":"Greet","id":"greet","integrationId":"`+integration.UUID("dev", "fakekey")+
		`","plugboard":{"description":"Answers the app with a greeting.","title":"Greet","trigger":"request"}},{"description":"Post new leads","id":"post-leads","integrationId":"`+
		integration.UUID("dev", "fakekey")+`","plugboard":{"description":"Posts each new lead to a channel.","title":"Post new leads","trigger":"event"}}]` {
		t.Errorf("workflows: %s", got)
	}
	meta := fakekey["configs"].([]any)[0].(map[string]any)["values"].(map[string]any)["workflowMeta"].(map[string]any)
	if got := jsonOf(meta["post-leads"]); got != `{"defaultEnabled":false,"id":"post-leads","infoText":"Posts each new lead to a channel.","inputs":[`+
		`{"id":"channel","key":"channel","required":true,"title":"Channel","tooltip":"Where to post.","type":"text"},`+
		`{"defaultValue":"calm","id":"tone","key":"tone","options":["calm","loud"],"required":false,"title":"Tone","tooltip":"","type":"dropdown"},`+
		`{"defaultValue":10,"id":"limit","key":"limit","required":false,"title":"Most leads a day","tooltip":"","type":"number"},`+
		`{"defaultValue":false,"id":"mention","key":"mention","required":false,"title":"Mention the owner","tooltip":"","type":"switch"}],"title":"Post new leads"}` {
		t.Errorf("workflowMeta[post-leads]: %s", got)
	}

	// Enabling needs the integration connected.
	r := e.do("POST", "/projects/dev/sdk/workflows/post-leads", tok, nil, nil)
	if r.status != 404 || !strings.Contains(r.body, `"code":"not_connected"`) || !strings.Contains(r.body, "Connect Fake Key before enabling") {
		t.Errorf("enable before connecting: %d %s", r.status, r.body)
	}
	e.connectKey("wendy", "fakekey", "key-wendy")
	// Without settings (as the SDK's enableWorkflow sends), a required setting is missing.
	r = e.do("POST", "/projects/dev/sdk/workflows/post-leads", tok, nil, nil)
	if r.status != 400 || !strings.Contains(r.body, `"fields":[{"field":"channel","message":"Channel is required"}]`) {
		t.Errorf("enable without the required setting: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"settings":{"channel":"#leads","tone":"shouty","limit":"many"}}`, `"fields":[{"field":"tone","message":"Tone must be one of: calm, loud"},{"field":"limit","message":"Most leads a day must be a number"}]`},
		{`{"settings":{"channel":"#leads","chanel":"#x"}}`, `{"field":"chanel","message":"\"chanel\" is not a setting of this workflow"}`},
		{`{"setting":{}}`, `Unknown field \"setting\"`},
		{`[]`, `"code":"bad_request"`},
	} {
		if r := e.do("POST", "/projects/dev/sdk/workflows/post-leads", tok, strings.NewReader(tc.body), jsonHdr); r.status != 400 || !strings.Contains(r.body, tc.want) {
			t.Errorf("enable with %s: %d %s, want %s", tc.body, r.status, r.body, tc.want)
		}
	}
	if r := e.do("POST", "/projects/dev/sdk/workflows/nope", tok, nil, nil); r.status != 404 || !strings.Contains(r.body, `"code":"workflow_not_found"`) || !strings.Contains(r.body, `No workflow \"nope\"`) {
		t.Errorf("unknown workflow: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/projects/dev/sdk/workflows/post-leads", tok, strings.NewReader(`{"settings":{"channel":"#leads","mention":true}}`), jsonHdr)
	if r.status != 200 || compact(r.body) != `{"enabled":true,"id":"post-leads","settings":{"channel":"#leads","limit":10,"mention":true,"tone":"calm"}}` {
		t.Fatalf("enable with settings: %d %s", r.status, r.body)
	}

	// /sdk/me: per integration and per configuration; greet is enabled by default.
	want := `{"greet":{"enabled":true,"settings":{}},"post-leads":{"enabled":true,"settings":{"channel":"#leads","limit":10,"mention":true,"tone":"calm"}}}`
	entry := e.sdkMe("wendy", "custom.fakekey")
	if got := jsonOf(entry["workflowSettings"]); got != want {
		t.Errorf("/sdk/me workflowSettings: %s", got)
	}
	conf := entry["allCredentials"].([]any)[0].(map[string]any)["configurations"].([]any)[0].(map[string]any)
	if got := jsonOf(conf["workflowSettings"]); got != want {
		t.Errorf("/sdk/me configuration workflowSettings: %s", got)
	}
	if got := jsonOf(e.sdkMe("other-user", "custom.fakekey")["workflowSettings"]); got != "null" {
		t.Errorf("a user without a connection: %s", got)
	}

	// Disable keeps the settings; the engine's question sees it.
	if r := e.do("DELETE", "/projects/dev/sdk/workflows/post-leads", tok, nil, nil); r.status != 200 || !strings.HasPrefix(compact(r.body), `{"enabled":false,"id":"post-leads","settings":{"channel":"#leads"`) {
		t.Errorf("disable: %d %s", r.status, r.body)
	}
	wf := e.workflow("post-leads")
	if on, settings, err := e.store.UserWorkflow(context.Background(), "dev", "wendy", wf); err != nil || on || settings["channel"] != "#leads" {
		t.Errorf("UserWorkflow after disabling: %v %v %v", on, settings, err)
	}

	// PATCH /sdk/credentials/{id}: the SDK's updateWorkflowUserSettings.
	cred := entry["credentialId"].(string)
	r = e.do("PATCH", "/projects/dev/sdk/credentials/"+cred, tok, strings.NewReader(`{"config":{"workflowSettings":{"post-leads":{"enabled":true,"settings":{"channel":"#sales","tone":"loud"}}}}}`), jsonHdr)
	if r.status != 200 || !strings.Contains(compact(r.body), `"workflowSettings":{"greet":{"enabled":true,"settings":{}},"post-leads":{"enabled":true,"settings":{"channel":"#sales","limit":10,"mention":false,"tone":"loud"}}}`) {
		t.Errorf("PATCH credential: %d %s", r.status, r.body)
	}
	r = e.do("PATCH", "/projects/dev/sdk/credentials/"+cred, tok, strings.NewReader(`{"config":{"workflowSettings":{"nightly":{"enabled":true}}}}`), jsonHdr)
	if r.status != 404 || !strings.Contains(r.body, "of this credential's integration") {
		t.Errorf("PATCH with another integration's workflow: %d %s", r.status, r.body)
	}
	// A refused choice leaves every other one of the same PATCH unsaved. The
	// body's order is a JSON object's (none), so the refused one is tried
	// several times to come after the valid one whatever order they are taken in.
	for range 8 {
		r = e.do("PATCH", "/projects/dev/sdk/credentials/"+cred, tok, strings.NewReader(
			`{"config":{"workflowSettings":{"post-leads":{"enabled":false,"settings":{"channel":"#changed"}},"greet":{"enabled":false,"settings":{"nope":1}}}}}`), jsonHdr)
		if r.status != 400 || !strings.Contains(r.body, `"fields":[{"field":"nope","message":"\"nope\" is not a setting of this workflow"}]`) {
			t.Errorf("PATCH with a refused second choice: %d %s", r.status, r.body)
		}
		if c, err := e.store.GetWorkflow(context.Background(), "dev", "wendy", "post-leads"); err != nil || !c.Enabled || c.Settings["channel"] != "#sales" {
			t.Fatalf("a PATCH that was refused saved another choice: %+v %v", c, err)
		}
		if _, err := e.store.GetWorkflow(context.Background(), "dev", "wendy", "greet"); err == nil {
			t.Fatal("a PATCH that was refused saved the refused choice")
		}
	}
	if r := e.do("GET", "/projects/dev/sdk/credentials/"+cred, tok, nil, nil); !strings.Contains(compact(r.body), `"post-leads":{"enabled":true,"settings":{"channel":"#sales"`) {
		t.Errorf("GET credential: %s", r.body)
	}

	// Deleting the last connection keeps the choices; reconnecting finds them.
	if r := e.do("DELETE", "/projects/dev/sdk/credentials/"+cred, tok, nil, nil); r.status != 204 {
		t.Fatalf("delete credential: %d %s", r.status, r.body)
	}
	if on, _, _ := e.store.UserWorkflow(context.Background(), "dev", "wendy", wf); !on {
		t.Error("the choice went with the connection")
	}
	e.connectKey("wendy", "fakekey", "key-wendy-2")
	if got := jsonOf(e.sdkMe("wendy", "custom.fakekey")["workflowSettings"]); !strings.Contains(got, `"post-leads":{"enabled":true,"settings":{"channel":"#sales"`) {
		t.Errorf("after reconnecting: %s", got)
	}
	// Another user's choices are their own.
	e.connectKey("xavier", "fakekey", "key-xavier")
	if got := jsonOf(e.sdkMe("xavier", "custom.fakekey")["workflowSettings"]); !strings.Contains(got, `"post-leads":{"enabled":false,"settings":{"limit":10,"mention":false,"tone":"calm"}}`) {
		t.Errorf("another user: %s", got)
	}
}
