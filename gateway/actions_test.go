package gateway

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// actionsManifest is an integration with actions on the fake provider's
// /api/echo, which answers with everything about the request it got.
const actionsManifest = `id: fakeact
name: Fake Actions
description: Actions on the fake provider.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: {{P}}/api
  authorization:
    type: header
    name: X-Api-Key
    value: "{{inputs.api_key}}"
  testEndpoint: /me
actions:
  - name: create_item
    title: Create an item
    description: Creates an item in a folder.
    method: POST
    path: /echo/folders/{{parameters.folder}}/items
    parameters:
      type: object
      properties:
        folder: {type: string, description: The folder's name.}
        title: {type: string, minLength: 1}
        count: {type: integer, minimum: 1}
        tags: {type: array, items: {type: string}}
        mode: {type: string, enum: [fast, safe]}
      required: [folder, title]
    query:
      mode: "{{parameters.mode}}"
    headers:
      X-Item-Folder: "{{parameters.folder}}"
    body:
      title: "{{parameters.title}}"
      count: "{{parameters.count}}"
      tags: "{{parameters.tags}}"
  - name: item_method
    description: Returns only the method the API saw.
    method: GET
    path: /echo/item
    output: /method
`

func startActionsEnv(t *testing.T) *proxyEnv {
	t.Helper()
	var dir string
	e := startProxyEnvWith(t, func(c *Config) { dir = c.ManifestDir })
	writeFile(t, filepath.Join(dir, "fakeact.yaml"), strings.ReplaceAll(actionsManifest, "{{P}}", e.provider.URL))
	if rep := e.srv.Reloader().Reload("test"); !rep.Success {
		t.Fatalf("fakeact.yaml: %v", rep.Problems)
	}
	return e
}

func TestActionsListsConnectedIntegrationsOnly(t *testing.T) {
	e := startActionsEnv(t)
	e.connectKey("alice", "fakeact", "key-alice")
	var got struct {
		Actions map[string][]struct {
			Type     string `json:"type"`
			Function struct {
				Name        string         `json:"name"`
				Description string         `json:"description"`
				Parameters  map[string]any `json:"parameters"`
			} `json:"function"`
		} `json:"actions"`
	}
	r := e.do("GET", "/projects/dev/sdk/actions", e.token("alice"), nil, nil)
	if r.status != 200 || json.Unmarshal([]byte(r.body), &got) != nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	tools := got.Actions["custom.fakeact"]
	if len(got.Actions) != 1 || len(tools) != 2 || tools[0].Type != "function" || tools[0].Function.Name != "fakeact-create_item" ||
		tools[0].Function.Description != "Creates an item in a folder." || tools[0].Function.Parameters["additionalProperties"] != false {
		t.Errorf("list: %s", r.body)
	}
	for _, tc := range []struct{ user, query, want string }{
		{"bob", "", `"actions": {}`}, // nothing connected
		{"alice", "?integrations=custom.fakeoauth", `"actions": {}`},
		{"alice", "?integrations=fakeoauth,custom.fakeact", `"fakeact-item_method"`},
	} {
		if r := e.do("GET", "/projects/dev/sdk/actions"+tc.query, e.token(tc.user), nil, nil); r.status != 200 || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s %s: %d %s", tc.user, tc.query, r.status, r.body)
		}
	}
	if r := e.do("GET", "/projects/dev/sdk/actions?integrations=nope", e.token("alice"), nil, nil); r.status != 400 || !strings.Contains(r.body, `No integration \"nope\"`) {
		t.Errorf("unknown integration filter: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/projects/dev/sdk/actions", "", nil, nil); r.status != 401 {
		t.Errorf("without a token: %d", r.status)
	}
}

func TestActionsRunThroughTheProxy(t *testing.T) {
	e := startActionsEnv(t)
	e.connectKey("alice", "fakeact", "key-alice")
	run := func(user, body string) response {
		return e.do("POST", "/projects/dev/sdk/actions", e.token(user), strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
	}

	r := run("alice", `{"action": "fakeact-create_item", "parameters": {"folder": "in box", "title": "Hello\nworld", "count": 3, "tags": ["a", "b"]}}`)
	if r.status != 200 || r.header.Get("X-Plugboard-Error") != "" {
		t.Fatalf("run: %d %s", r.status, r.body)
	}
	var echo struct {
		Method, Path, Query, Body string
		Headers                   map[string][]string
	}
	if err := json.Unmarshal([]byte(r.body), &echo); err != nil {
		t.Fatalf("the API's answer is not returned as is: %s", r.body)
	}
	if echo.Method != "POST" || echo.Path != "/api/echo/folders/in%20box/items" || echo.Query != "" {
		t.Errorf("request: %+v", echo)
	}
	if got := echo.Headers["X-Api-Key"]; len(got) != 1 || got[0] != "key-alice" {
		t.Errorf("credential not injected: %v", echo.Headers)
	}
	if got := echo.Headers["X-Item-Folder"]; len(got) != 1 || got[0] != "in box" {
		t.Errorf("action header: %v", echo.Headers)
	}
	if echo.Body != `{"count":3,"tags":["a","b"],"title":"Hello\nworld"}` {
		t.Errorf("body: %s", echo.Body)
	}

	// The output pointer picks the part of the answer the agent gets.
	if r := run("alice", `{"tool": "fakeact-item_method"}`); r.status != 200 || strings.TrimSpace(r.body) != `"GET"` {
		t.Errorf("output pointer: %d %s", r.status, r.body)
	}

	for _, tc := range []struct {
		name, user, body string
		status           int
		want             string
	}{
		{"missing and wrong parameters", "alice", `{"action": "fakeact-create_item", "parameters": {"folder": "x", "count": 0, "mode": "slow", "colour": 1}}`, 400,
			`"code":"invalid_parameters"`},
		{"a newline in a header", "alice", `{"action": "fakeact-create_item", "parameters": {"folder": "a\nb", "title": "t"}}`, 400, `control character`},
		{"a dot segment", "alice", `{"action": "fakeact-create_item", "parameters": {"folder": "..", "title": "t"}}`, 400, `"code":"invalid_parameters"`},
		{"an encoded slash", "alice", `{"action": "fakeact-create_item", "parameters": {"folder": "a/../../admin", "title": "t"}}`, 400, `"code":"path_refused"`},
		{"unknown action", "alice", `{"action": "fakeact-delete_everything"}`, 404, `"code":"action_not_found"`},
		{"not connected", "bob", `{"action": "fakeact-item_method"}`, 404, `"code":"not_connected"`},
		{"unknown field", "alice", `{"action": "fakeact-item_method", "params": {}}`, 400, `"code":"bad_request"`},
	} {
		r := run(tc.user, tc.body)
		if r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: want %d %s, got %d %s", tc.name, tc.status, tc.want, r.status, r.body)
		}
	}
	r = run("alice", `{"action": "fakeact-create_item", "parameters": {"folder": "x", "count": 0, "mode": "slow", "colour": 1}}`)
	for _, want := range []string{`"field":"title","message":"is required"`, `"field":"count"`, `"field":"mode"`, `"field":"colour","message":"is not a parameter of fakeact-create_item"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("invalid parameters: want %s in %s", want, r.body)
		}
	}
}
