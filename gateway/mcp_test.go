package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

// notesManifest is an integration on a fake notes API (notesAPI), which
// does not echo the request: what an agent gets back is the API's answer.
const notesManifest = `id: notes
name: Notes
description: A fake notes API.
auth:
  type: api_key
  inputs:
    - key: api_key
      label: API key
      secret: true
api:
  baseUrl: {{U}}/v1
  authorization:
    type: header
    name: X-Api-Key
    value: "{{inputs.api_key}}"
actions:
  - name: get_note
    title: Get a note
    description: Reads one note by its id.
    method: GET
    path: /notes/{{parameters.id}}
    parameters:
      type: object
      properties:
        id: {type: string, description: The note's id.}
      required: [id]
`

const notesSecondAction = `  - name: list_notes
    description: Lists the notes.
    method: GET
    path: /notes
`

// notesAPI is the fake notes API on 127.0.0.1; it keeps the API keys it was sent.
type notesAPI struct {
	*httptest.Server
	mu   sync.Mutex
	keys []string
}

func startNotesAPI(t *testing.T) *notesAPI {
	n := &notesAPI{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		n.keys = append(n.keys, r.Header.Get("X-Api-Key"))
		n.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		id := strings.TrimPrefix(r.URL.Path, "/v1/notes/")
		_, _ = w.Write([]byte(`{"id":"` + id + `","text":"buy milk"}`))
	}))
	t.Cleanup(n.Close)
	return n
}

func (n *notesAPI) seen() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.keys...)
}

// startMCPEnv is the actions environment plus the notes integration.
func startMCPEnv(t *testing.T) (*proxyEnv, *notesAPI, string) {
	t.Helper()
	e := startActionsEnv(t)
	api := startNotesAPI(t)
	path := filepath.Join(e.srv.Reloader().Dir, "notes.yaml")
	writeFile(t, path, strings.ReplaceAll(notesManifest, "{{U}}", api.URL))
	if rep := e.srv.Reloader().Reload("test"); !rep.Success {
		t.Fatalf("notes.yaml: %v", rep.Problems)
	}
	return e, api, path
}

func (e *proxyEnv) connectNotes(user, key string) {
	e.t.Helper()
	c := &connection.Connection{ProjectID: "dev", UserID: user, IntegrationID: "notes", Status: connection.StatusValid,
		Credential: connection.Credential{Inputs: map[string]string{"api_key": key}}}
	if err := e.store.Create(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
}

// bearer adds the user token to every request of the MCP client.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpSession connects the SDK's own client to the gateway as user.
func (e *proxyEnv) mcpSession(user string, opts *mcp.ClientOptions) *mcp.ClientSession {
	e.t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: e.base + "/projects/dev/mcp",
		HTTPClient: &http.Client{Transport: bearer{e.token(user)}}}, nil)
	if err != nil {
		e.t.Fatalf("mcp connect as %s: %v", user, err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

func toolNames(t *testing.T, s *mcp.ClientSession) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

func callTool(t *testing.T, s *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	return res, strings.Join(text, "\n")
}

func TestMCPListsAndCallsTheUsersTools(t *testing.T) {
	e, api, _ := startMCPEnv(t)
	const secret = "notes-key-of-alice-0123456789"
	e.connectNotes("alice", secret)
	s := e.mcpSession("alice", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tools) != 1 {
		t.Fatalf("tools: want only notes-get_note (fakeact is not connected), got %d", len(res.Tools))
	}
	tool := res.Tools[0]
	schema, _ := json.Marshal(tool.InputSchema)
	if tool.Name != "notes-get_note" || tool.Title != "Get a note" || tool.Description != "Reads one note by its id." ||
		!strings.Contains(string(schema), `"required":["id"]`) || !strings.Contains(string(schema), `"description":"The note's id."`) {
		t.Errorf("tool: %+v, schema %s", tool, schema)
	}
	if tool.Annotations == nil || !tool.Annotations.ReadOnlyHint {
		t.Errorf("a GET action should be read-only: %+v", tool.Annotations)
	}

	// A call goes through the proxy: the API gets the credential, the
	// agent gets the API's answer and never the credential.
	r, text := callTool(t, s, "notes-get_note", map[string]any{"id": "n1"})
	if r.IsError || text != `{"id":"n1","text":"buy milk"}` {
		t.Errorf("call: isError %v, %s", r.IsError, text)
	}
	if keys := api.seen(); len(keys) != 1 || keys[0] != secret {
		t.Errorf("the API got the keys %q", keys)
	}
	raw, _ := json.Marshal(r)
	if strings.Contains(string(raw), secret) {
		t.Errorf("the tool result holds the credential: %s", raw)
	}

	// Invalid parameters: a tool error naming the parameter; the API is not called.
	r, text = callTool(t, s, "notes-get_note", map[string]any{"ident": "n1"})
	if !r.IsError || !strings.Contains(text, `parameter "id" is required`) || !strings.Contains(text, `"ident"`) || !strings.Contains(text, "invalid_parameters") {
		t.Errorf("invalid parameters: isError %v, %s", r.IsError, text)
	}
	// An integration the user has not connected.
	r, text = callTool(t, s, "fakeact-item_method", nil)
	if !r.IsError || !strings.Contains(text, "not_connected") {
		t.Errorf("not connected: isError %v, %s", r.IsError, text)
	}
	r, text = callTool(t, s, "notes-delete_everything", nil)
	if !r.IsError || !strings.Contains(text, "action_not_found") {
		t.Errorf("unknown tool: isError %v, %s", r.IsError, text)
	}
	if keys := api.seen(); len(keys) != 1 {
		t.Errorf("refused calls reached the API: %q", keys)
	}
	raw, _ = json.Marshal(r)
	if strings.Contains(string(raw), secret) {
		t.Errorf("a tool error holds the credential: %s", raw)
	}
}

func TestMCPNeedsTheUserToken(t *testing.T) {
	e, _, _ := startMCPEnv(t)
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	hdr := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	for _, tok := range []string{"", "not-a-token"} {
		r := e.do("POST", "/projects/dev/mcp", tok, strings.NewReader(init), hdr)
		if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") || !strings.Contains(r.body, `"code"`) {
			t.Errorf("token %q: %d %q %s", tok, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
	if r := e.do("POST", "/projects/nope/mcp", e.token("alice"), strings.NewReader(init), hdr); r.status != 404 {
		t.Errorf("unknown project: %d %s", r.status, r.body)
	}
}

func TestMCPShowsOnlyTheUsersOwnTools(t *testing.T) {
	e, _, _ := startMCPEnv(t)
	e.connectNotes("alice", "key-alice-notes")
	e.connectKey("bob", "fakeact", "key-bob")
	alice := e.mcpSession("alice", nil)
	bob := e.mcpSession("bob", nil)
	if got := strings.Join(toolNames(t, alice), ","); got != "notes-get_note" {
		t.Errorf("alice's tools: %s", got)
	}
	if got := strings.Join(toolNames(t, bob), ","); got != "fakeact-create_item,fakeact-item_method" {
		t.Errorf("bob's tools: %s", got)
	}
	// Bob's token with Alice's session id is refused: the session is
	// Alice's, whatever id the request names.
	list := `{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{}}`
	r := e.do("POST", "/projects/dev/mcp", e.token("bob"), strings.NewReader(list), map[string]string{"Content-Type": "application/json",
		"Accept": "application/json, text/event-stream", "Mcp-Session-Id": alice.ID(), "Mcp-Protocol-Version": alice.InitializeResult().ProtocolVersion})
	if r.status != 403 || strings.Contains(r.body, "notes-get_note") {
		t.Errorf("bob with alice's session: %d %s", r.status, r.body)
	}
}

func TestMCPToolListFollowsReloadsAndConnections(t *testing.T) {
	e, api, path := startMCPEnv(t)
	e.connectNotes("alice", "key-alice-notes")
	changed := make(chan struct{}, 16)
	s := e.mcpSession("alice", &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
		changed <- struct{}{}
	}})
	if got := strings.Join(toolNames(t, s), ","); got != "notes-get_note" {
		t.Fatalf("tools: %s", got)
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no notifications/tools/list_changed", what)
		}
		// A burst of changes is one notification; let it settle.
		time.Sleep(50 * time.Millisecond)
		for len(changed) > 0 {
			<-changed
		}
	}

	// A manifest reload that adds an action.
	writeFile(t, path, strings.ReplaceAll(notesManifest, "{{U}}", api.URL)+notesSecondAction)
	if rep := e.srv.Reloader().Reload("test"); !rep.Success {
		t.Fatalf("reload: %v", rep.Problems)
	}
	wait("reload")
	if got := strings.Join(toolNames(t, s), ","); got != "notes-get_note,notes-list_notes" {
		t.Errorf("after the reload: %s", got)
	}

	// A reload that changes nothing for alice tells her nothing.
	if rep := e.srv.Reloader().Reload("test"); !rep.Success {
		t.Fatal(rep.Problems)
	}
	select {
	case <-changed:
		t.Error("a reload without changes sent tools/list_changed")
	case <-time.After(300 * time.Millisecond):
	}

	// Connecting an integration (through the SDK API) adds its actions.
	e.provider.AddAPIKey("key-alice-act")
	if r := e.postCredential("alice", `{"integrationId":"fakeact","payload":{"api_key":"key-alice-act"}}`); r.status/100 != 2 {
		t.Fatalf("connect: %d %s", r.status, r.body)
	}
	wait("connect")
	if got := strings.Join(toolNames(t, s), ","); got != "fakeact-create_item,fakeact-item_method,notes-get_note,notes-list_notes" {
		t.Errorf("after connecting: %s", got)
	}

	// Disconnecting it takes them away.
	if r := e.do("DELETE", "/projects/dev/sdk/integrations/fakeact", e.token("alice"), nil, nil); r.status/100 != 2 {
		t.Fatalf("disconnect: %d %s", r.status, r.body)
	}
	wait("disconnect")
	if got := strings.Join(toolNames(t, s), ","); got != "notes-get_note,notes-list_notes" {
		t.Errorf("after disconnecting: %s", got)
	}
}
