package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// credentialWorkflowFiles call the fake provider's /me with the user's
// connection of fakekey: a request trigger and an event trigger.
var credentialWorkflowFiles = map[string]string{
	"who.workflow.yaml": `id: who
title: Who
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
      body: {login: "=steps.me.body.login"}
`,
	"who-event.workflow.yaml": `id: who-event
title: Who, on an event
integration: fakekey
enabledByDefault: true
trigger:
  event: who.asked
steps:
  - id: me
    request: {method: GET, path: /me}
    retry: {attempts: 1}
`,
}

// connectionWithKey returns the user's connection whose API key is key.
func (e *proxyEnv) connectionWithKey(user, key string) *connection.Connection {
	e.t.Helper()
	conns, err := e.store.List(context.Background(), "dev", user)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range conns {
		if c.Credential.Inputs["api_key"] == key {
			return c
		}
	}
	e.t.Fatalf("user %s has no connection with key %s", user, key)
	return nil
}

// A user with two connections of an integration picks one with the SDK's
// X-Paragon-Credential: the run a trigger starts calls the API with it,
// not with the default one; an id that is not the user's connection of
// the workflow's integration is refused.
func TestWorkflowTriggersUseTheChosenCredential(t *testing.T) {
	e := startProxyEnvWith(t, withWorkflowFiles(t, credentialWorkflowFiles))
	// A run that calls the API with the second connection fails, one that
	// calls with the first succeeds.
	first, second := e.twoKeyConnections("carol")
	trigger := func(credential string) response {
		t.Helper()
		hdr := map[string]string{"Content-Type": "application/json"}
		if credential != "" {
			hdr["X-Paragon-Credential"] = credential
		}
		return e.do("POST", "/projects/dev/sdk/triggers/who", e.token("carol"), strings.NewReader(`{}`), hdr)
	}
	if r := trigger(""); r.status != 200 || !strings.Contains(r.body, `"login":"octo"`) {
		t.Fatalf("without the header (the default connection): %d %s", r.status, r.body)
	}
	if r := trigger(first.ID); r.status != 200 || !strings.Contains(r.body, `"login":"octo"`) {
		t.Errorf("with the first connection: %d %s", r.status, r.body)
	}
	r := trigger(second.ID)
	if r.status != 502 || r.header.Get("X-Plugboard-Error") != "workflow_failed" || !strings.Contains(r.body, "401") {
		t.Errorf("with the second connection (its key refused upstream): %d %s, want 502 workflow_failed with the API's 401", r.status, r.body)
	}
	run, err := e.store.(store.WorkflowRuns).Run(context.Background(), r.header.Get("X-Plugboard-Run"))
	if err != nil || run.CredentialID != second.ID {
		t.Errorf("the run's credential: %+v %v, want %s", run, err, second.ID)
	}

	// Ids that are not carol's connection of fakekey.
	for name, id := range e.notCarolsFakekeyConnections() {
		r := trigger(id)
		if r.status != 404 || r.header.Get("X-Plugboard-Error") != "credential_not_found" ||
			!strings.Contains(r.body, `No credential \"`+id+`\" of this user for Fake Key.`) {
			t.Errorf("%s credential: %d %s", name, r.status, r.body)
		}
	}

	// An event: the runs of the chosen connection's integration use it.
	event := func(credential string) string {
		t.Helper()
		r := e.do("POST", "/v2/projects/dev/sdk/events/trigger", e.token("carol"), strings.NewReader(`{"name":"who.asked","payload":{}}`),
			map[string]string{"Content-Type": "application/json", "X-Paragon-Credential": credential})
		var out struct{ Runs []struct{ ID string } }
		if err := json.Unmarshal([]byte(r.body), &out); r.status != 200 || err != nil || len(out.Runs) != 1 {
			t.Fatalf("event with credential %s: %d %s", credential, r.status, r.body)
		}
		return out.Runs[0].ID
	}
	finished := func(id string) *store.WorkflowRun {
		t.Helper()
		var run *store.WorkflowRun
		testfix.Eventually(t, "run "+id+" finishes", func() bool {
			run, _ = e.store.(store.WorkflowRuns).Run(context.Background(), id)
			return run != nil && run.Status.Done()
		})
		return run
	}
	if run := finished(event(second.ID)); run.Status != store.RunFailed || run.CredentialID != second.ID {
		t.Errorf("event with the second connection: %s %q (credential %s)", run.Status, run.Error, run.CredentialID)
	}
	if run := finished(event(first.ID)); run.Status != store.RunSucceeded || run.CredentialID != first.ID {
		t.Errorf("event with the first connection: %s %q (credential %s)", run.Status, run.Error, run.CredentialID)
	}
	if r := e.do("POST", "/v2/projects/dev/sdk/events/trigger", e.token("carol"), strings.NewReader(`{"name":"who.asked","payload":{}}`),
		map[string]string{"Content-Type": "application/json", "X-Paragon-Credential": e.connectionWithKey("dave", "dave-key").ID}); r.status != 404 ||
		r.header.Get("X-Plugboard-Error") != "credential_not_found" {
		t.Errorf("event with another user's credential: %d %s", r.status, r.body)
	}
}

// twoKeyConnections connects user to fakekey twice, the first connection
// the default, and makes the provider refuse the second one's key.
func (e *proxyEnv) twoKeyConnections(user string) (first, second *connection.Connection) {
	e.t.Helper()
	e.connectKey(user, "fakekey", user+"-key-first")
	e.connectKey(user, "fakekey", user+"-key-second")
	first, second = e.connectionWithKey(user, user+"-key-first"), e.connectionWithKey(user, user+"-key-second")
	if !first.IsDefault || second.IsDefault {
		e.t.Fatalf("want the first connection as the default: first %v, second %v", first.IsDefault, second.IsDefault)
	}
	e.provider.RemoveAPIKey(user + "-key-second")
	return first, second
}

// notCarolsFakekeyConnections are ids that are not carol's connection of
// fakekey: unknown, dave's, and carol's of another integration.
func (e *proxyEnv) notCarolsFakekeyConnections() map[string]string {
	e.connectKey("dave", "fakekey", "dave-key")
	e.connectKey("carol", "fakequery", "carol-query-key")
	return map[string]string{
		"unknown":               "00000000-0000-4000-8000-000000000000",
		"another user's":        e.connectionWithKey("dave", "dave-key").ID,
		"another integration's": e.connectionWithKey("carol", "carol-query-key").ID,
	}
}
