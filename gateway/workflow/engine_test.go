package workflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/manifest"
)

// forEachStore runs a test on SQLite and, with PLUGBOARD_TEST_POSTGRES, on
// PostgreSQL.
func forEachStore(t *testing.T, test func(t *testing.T, o envOptions)) {
	t.Run("sqlite", func(t *testing.T) { test(t, envOptions{}) })
	t.Run("postgres", func(t *testing.T) { test(t, envOptions{postgresDSN: freshPostgres(t)}) })
}

// retryWorkflow creates a lead, reads a flaky endpoint (retried), and
// answers with both.
func retryWorkflow(t testing.TB) *manifest.Workflow {
	create := &manifest.Step{ID: "create", Kind: manifest.StepAction, Action: "create_lead",
		Parameters: value(t, map[string]any{"name": "=trigger.body.name"}), Retry: manifest.Retry{Attempts: 1}, Timeout: 10 * time.Second}
	flaky := requestStep(t, "flaky", "GET", "='/echo/flaky/' + steps.create.body.id", manifest.Retry{Attempts: 3, Backoff: 10 * time.Millisecond})
	answer := responseStep(t, "answer", 201, map[string]any{"lead": "=steps.create.body.id", "seen": "=steps.flaky.body.path",
		"owner": "=steps.create.body.owner", "setting": "=settings.user"})
	return newWorkflow("new-lead", manifest.Trigger{Type: manifest.TriggerRequest}, create, flaky, answer)
}

func TestSecondStepFailsTwiceThenSucceeds(t *testing.T) {
	forEachStore(t, func(t *testing.T, o envOptions) {
		o.workflows = []*manifest.Workflow{retryWorkflow(t)}
		e := newEnv(t, o)
		e.connect("alice")
		e.crm.failNext("/api/echo/flaky/lead_1", 2)

		status, runID, body := e.post("/projects/dev/sdk/triggers/new-lead", "alice", `{"name": "Ada"}`)
		if status != 201 {
			t.Fatalf("trigger: %d %s", status, body)
		}
		if got := mustJSON(t, []byte(body)); got["lead"] != "lead_1" || got["seen"] != "/api/echo/flaky/lead_1" || got["owner"] != "alice" || got["setting"] != "alice" {
			t.Errorf("response body = %v", got)
		}
		d := e.wait(runID)
		if d.Status != store.RunSucceeded || d.ResponseStatus != 201 {
			t.Fatalf("run = %s %q (response %d)", d.Status, d.Error, d.ResponseStatus)
		}
		steps := stepsByPath(d)
		if len(d.Steps) != 3 {
			t.Fatalf("steps = %d, want 3", len(d.Steps))
		}
		if s := steps["create"]; s.Attempts != 1 || s.Status != store.StepSucceeded || s.Seq != 0 {
			t.Errorf("create: %+v", s)
		}
		if s := steps["flaky"]; s.Attempts != 3 || s.Status != store.StepSucceeded || s.Seq != 1 || s.Error != "" {
			t.Errorf("flaky: attempts %d, status %s, seq %d, error %q; want 3 attempts, succeeded", s.Attempts, s.Status, s.Seq, s.Error)
		}
		if n := e.crm.count("GET /api/echo/flaky/lead_1"); n != 3 {
			t.Errorf("the flaky endpoint was called %d times, want 3", n)
		}
		if n := e.crm.count("POST /api/leads"); n != 1 {
			t.Errorf("the lead was created %d times, want once", n)
		}
		// The API echoed a credential: the stored output does not keep it.
		out := mustJSON(t, steps["create"].Output)
		if b := out["body"].(map[string]any); b["access_token"] != "<redacted>" || b["id"] != "lead_1" {
			t.Errorf("create's output = %s", steps["create"].Output)
		}
		if strings.Contains(string(steps["create"].Output), "leaked-") {
			t.Errorf("a credential the API echoed was stored: %s", steps["create"].Output)
		}
		for _, s := range d.Steps {
			if s.FinishedAt.Before(s.StartedAt) {
				t.Errorf("%s finished before it started", s.Path)
			}
		}
	})
}

// TestNonJSONAnswersAreRedacted: an API that echoes credentials in a form
// or in plain text, in an answer or in an error, has them replaced before
// the step's output and error are stored: form keys named like
// credentials, and the user's own key wherever it occurs.
func TestNonJSONAnswersAreRedacted(t *testing.T) {
	forEachStore(t, func(t *testing.T, o envOptions) {
		form := requestStep(t, "form", "POST", "/token.form", manifest.Retry{Attempts: 1})
		text := requestStep(t, "text", "GET", "/whoami.txt", manifest.Retry{Attempts: 1})
		fails := requestStep(t, "fails", "GET", "/whoami.txt", manifest.Retry{Attempts: 1})
		fails.Query = map[string]*manifest.StepValue{"fail": value(t, "yes")}
		o.workflows = []*manifest.Workflow{
			newWorkflow("echoes", manifest.Trigger{Type: manifest.TriggerRequest}, form, text, responseStep(t, "answer", 200, "=steps.text.body")),
			newWorkflow("echo-fails", manifest.Trigger{Type: manifest.TriggerRequest}, fails),
		}
		e := newEnv(t, o)
		e.connect("alice") // API key "key-alice"

		status, runID, body := e.post("/projects/dev/sdk/triggers/echoes", "alice", `{}`)
		if status != 200 || strings.Contains(body, "key-alice") {
			t.Fatalf("trigger: %d %s", status, body)
		}
		d := e.wait(runID)
		if d.Status != store.RunSucceeded {
			t.Fatalf("run = %s %q", d.Status, d.Error)
		}
		steps := stepsByPath(d)
		if got := mustJSON(t, steps["form"].Output)["body"]; got != "access_token=<redacted>&scope=leads&refresh_token=<redacted>&expires_in=3600" {
			t.Errorf("form output body = %q", got)
		}
		if got := mustJSON(t, steps["text"].Output)["body"]; got != "Hello alice, you called with <redacted> (url-encoded: <redacted>)." {
			t.Errorf("text output body = %q", got)
		}
		if strings.Contains(string(d.Response), "key-alice") {
			t.Errorf("the run's response kept the key: %s", d.Response)
		}

		status, runID, body = e.post("/projects/dev/sdk/triggers/echo-fails", "alice", `{}`)
		if status != http.StatusBadGateway || strings.Contains(body, "key-alice") || !strings.Contains(body, `you called with \u003credacted\u003e`) {
			t.Fatalf("failing trigger: %d %s", status, body)
		}
		d = e.wait(runID)
		s := stepsByPath(d)["fails"]
		if d.Status != store.RunFailed || s.Status != store.StepFailed || !strings.Contains(s.Error, "the API answered 400: Hello alice, you called with <redacted>") {
			t.Fatalf("run %s (%s); fails %+v", d.Status, d.Error, s)
		}
		for what, v := range map[string]string{"run error": d.Error, "step error": s.Error, "step output": string(s.Output)} {
			if strings.Contains(v, "key-alice") {
				t.Errorf("%s kept the key: %s", what, v)
			}
		}
	})
}

func TestStepFailsForGoodAfterItsAttempts(t *testing.T) {
	forEachStore(t, func(t *testing.T, o envOptions) {
		o.workflows = []*manifest.Workflow{retryWorkflow(t)}
		e := newEnv(t, o)
		e.connect("bob")
		e.crm.failNext("/api/echo/flaky/lead_1", 5)
		status, runID, body := e.post("/projects/dev/sdk/triggers/new-lead", "bob", `{"name": "Bea"}`)
		if status != http.StatusBadGateway || !strings.Contains(body, `"workflow_failed"`) || !strings.Contains(body, "step flaky failed") ||
			!strings.Contains(body, "503") || !strings.Contains(body, "after 3 attempts") {
			t.Fatalf("trigger: %d %s", status, body)
		}
		d := e.wait(runID)
		if s := stepsByPath(d)["flaky"]; d.Status != store.RunFailed || s.Attempts != 3 || s.Status != store.StepFailed {
			t.Fatalf("run %s (%s); flaky %+v", d.Status, d.Error, s)
		}
		if _, ok := stepsByPath(d)["answer"]; ok {
			t.Error("the step after the failed one ran")
		}
	})
}

func TestRequestTriggerErrors(t *testing.T) {
	wf := retryWorkflow(t)
	ev := newWorkflow("on-event", manifest.Trigger{Type: manifest.TriggerEvent, Event: "x"}, responseStep(t, "r", 200, nil))
	e := newEnv(t, envOptions{workflows: []*manifest.Workflow{wf, ev}, limits: limitsWithPayload(64)})
	e.connect("alice")
	e.settings.disable("carol", "new-lead")
	e.connect("carol")
	for _, c := range []struct {
		path, user, body string
		status           int
		code             string
	}{
		{"/projects/dev/sdk/triggers/nope", "alice", `{}`, 404, "workflow_not_found"},
		{"/projects/dev/sdk/triggers/on-event", "alice", `{}`, 404, "workflow_not_found"},
		{"/projects/dev/sdk/triggers/new-lead", "dave", `{}`, 404, "not_connected"},
		{"/projects/dev/sdk/triggers/new-lead", "carol", `{}`, 409, "workflow_disabled"},
		{"/projects/dev/sdk/triggers/new-lead", "alice", `{"name": "` + strings.Repeat("x", 100) + `"}`, 413, "body_too_large"},
		{"/projects/dev/sdk/triggers/new-lead", "alice", `{"name": `, 400, "bad_request"},
		{"/v2/projects/dev/sdk/events/trigger", "alice", `{"payload": {}}`, 400, "bad_request"},
		// The SDK's HERMES_PUBLIC_URL may end in /events.
		{"/events/projects/dev/sdk/triggers/nope", "alice", `{}`, 404, "workflow_not_found"},
		{"/events/v2/projects/dev/sdk/events/trigger", "alice", `{}`, 400, "bad_request"},
	} {
		status, _, body := e.post(c.path, c.user, c.body)
		if status != c.status || !strings.Contains(body, `"code":"`+c.code+`"`) {
			t.Errorf("POST %s as %s: %d %s; want %d %s", c.path, c.user, status, body, c.status, c.code)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/projects/dev/sdk/triggers/new-lead", strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("without a user token: %d", resp.StatusCode)
	}
}

func limitsWithPayload(n int64) (l workflow.Limits) {
	l.MaxPayloadBytes = n
	return l
}

func TestEventTriggerRunsEnabledWorkflowsOfTheEvent(t *testing.T) {
	forEachStore(t, func(t *testing.T, o envOptions) {
		post := func(id string) *manifest.Workflow {
			return newWorkflow(id, manifest.Trigger{Type: manifest.TriggerEvent, Event: "lead.created"},
				&manifest.Step{ID: "note-" + id, Kind: manifest.StepRequest, Method: "POST", Path: value(t, "/echo/"+id),
					Body:  value(t, map[string]any{"name": "=trigger.payload.name", "event": "=trigger.name", "user": "=user.id"}),
					Retry: manifest.Retry{Attempts: 1}})
		}
		other := newWorkflow("other-event", manifest.Trigger{Type: manifest.TriggerEvent, Event: "lead.deleted"},
			requestStep(t, "x", "GET", "/echo/other", manifest.Retry{Attempts: 1}))
		o.workflows = []*manifest.Workflow{post("notify"), post("archive"), other}
		e := newEnv(t, o)
		e.connect("alice")
		e.settings.disable("alice", "archive")

		status, _, body := e.post("/v2/projects/dev/sdk/events/trigger", "alice", `{"name": "lead.created", "payload": {"name": "Ada"}}`)
		if status != 200 {
			t.Fatalf("event: %d %s", status, body)
		}
		var got struct {
			Runs []struct{ ID, WorkflowID string }
		}
		_ = json.Unmarshal([]byte(body), &got)
		if len(got.Runs) != 1 || got.Runs[0].WorkflowID != "notify" {
			t.Fatalf("runs = %s, want one of notify (archive is disabled, other-event listens for another event)", body)
		}
		d := e.wait(got.Runs[0].ID)
		if d.Status != store.RunSucceeded || d.TriggerType != "event" {
			t.Fatalf("run %s: %s", d.Status, d.Error)
		}
		out := mustJSON(t, d.Steps[0].Output)["body"].(map[string]any)
		if sent := out["body"].(map[string]any); sent["name"] != "Ada" || sent["event"] != "lead.created" || sent["user"] != "alice" || out["user"] != "alice" {
			t.Errorf("the API got %v", out)
		}
		// A user without the connection starts nothing.
		status, _, body = e.post("/v2/projects/dev/sdk/events/trigger", "nobody", `{"name": "lead.created", "payload": {}}`)
		if status != 200 || strings.Join(strings.Fields(body), "") != `{"runs":[]}` {
			t.Errorf("event for a user without the integration: %d %q", status, body)
		}
	})
}

func TestLoopOverTooManyItemsFails(t *testing.T) {
	list := requestStep(t, "list", "GET", "/items", manifest.Retry{Attempts: 1})
	list.Query = map[string]*manifest.StepValue{"n": value(t, "=trigger.body.n")}
	each := &manifest.Step{ID: "each", Kind: manifest.StepLoop, Foreach: expr(t, "steps.list.body.items"), As: "it", MaxItems: 3,
		Do: []*manifest.Step{{ID: "touch", Kind: manifest.StepRequest, Method: "POST", Path: value(t, "='/echo/touch/' + string(int(it.id))", "it", "index"),
			Body: value(t, map[string]any{"index": "=index"}, "it", "index"), Retry: manifest.Retry{Attempts: 1}}}}
	answer := responseStep(t, "answer", 200, map[string]any{"touched": "=steps.each.items.map(i, i.touch.body.path)"})
	wf := newWorkflow("loop", manifest.Trigger{Type: manifest.TriggerRequest}, list, each, answer)
	e := newEnv(t, envOptions{workflows: []*manifest.Workflow{wf}})
	e.connect("alice")

	status, runID, body := e.post("/projects/dev/sdk/triggers/loop", "alice", `{"n": 3}`)
	if status != 200 || body != `{"touched":["/api/echo/touch/1","/api/echo/touch/2","/api/echo/touch/3"]}` {
		t.Fatalf("3 items: %d %s", status, body)
	}
	d := e.wait(runID)
	paths := []string{}
	for _, s := range d.Steps {
		paths = append(paths, s.Path+":"+string(s.Status))
	}
	if strings.Join(paths, " ") != "list:succeeded each:succeeded each/0/touch:succeeded each/1/touch:succeeded each/2/touch:succeeded answer:succeeded" {
		t.Errorf("steps: %v", paths)
	}

	status, runID, body = e.post("/projects/dev/sdk/triggers/loop", "alice", `{"n": 5}`)
	if status != 502 || !strings.Contains(body, "step each failed: foreach: the list has 5 items, more than the loop's maxItems (3)") {
		t.Fatalf("5 items: %d %s", status, body)
	}
	d = e.wait(runID)
	if s := stepsByPath(d)["each"]; d.Status != store.RunFailed || s.Status != store.StepFailed || !strings.Contains(s.Error, "maxItems") {
		t.Errorf("run %s %q, each %+v", d.Status, d.Error, s)
	}
	if n := e.crm.count("POST /api/echo/touch/4"); n != 0 {
		t.Error("the loop ran although its list was too long")
	}
}

func TestExpressionCostLimitFailsTheStep(t *testing.T) {
	// Every pair of 2000 items: four million operations, over the limit.
	heavy := &manifest.Step{ID: "heavy", Kind: manifest.StepCondition,
		If:   expr(t, "trigger.body.items.all(x, trigger.body.items.all(y, x + y >= 0))"),
		Then: []*manifest.Step{responseStep(t, "yes", 200, map[string]any{"ok": true})}}
	wf := newWorkflow("costly", manifest.Trigger{Type: manifest.TriggerRequest}, heavy)
	e := newEnv(t, envOptions{workflows: []*manifest.Workflow{wf}})
	e.connect("alice")
	items := make([]int, 2000)
	b, _ := json.Marshal(map[string]any{"items": items})
	status, runID, body := e.post("/projects/dev/sdk/triggers/costly", "alice", string(b))
	if status != 502 || !strings.Contains(body, "step heavy failed: if: the expression exceeded its cost limit") {
		t.Fatalf("%d %s", status, body)
	}
	if d := e.wait(runID); stepsByPath(d)["heavy"].Status != store.StepFailed {
		t.Errorf("heavy: %+v", stepsByPath(d)["heavy"])
	}
	// A small list is cheap: the same workflow answers.
	status, _, body = e.post("/projects/dev/sdk/triggers/costly", "alice", `{"items": [1, 2, 3]}`)
	if status != 200 || body != `{"ok":true}` {
		t.Errorf("small list: %d %s", status, body)
	}
}

// TestWantsEventsOnlyWithLifecycleWorkflows: the engine wants connection
// events (so that store writes take the outbox) only while a workflow
// with a lifecycle trigger is loaded; a reload that adds one is seen at
// once.
func TestWantsEventsOnlyWithLifecycleWorkflows(t *testing.T) {
	e := newEnv(t, envOptions{workflows: []*manifest.Workflow{retryWorkflow(t)}})
	if e.engine.WantsEvents("dev") {
		t.Error("wants events without a lifecycle workflow")
	}
	e.cat.mu.Lock()
	e.cat.workflows = append(e.cat.workflows, newWorkflow("welcome", manifest.Trigger{Type: manifest.TriggerLifecycle, Lifecycle: []string{"connection.created"}},
		responseStep(t, "r", 200, nil)))
	e.cat.mu.Unlock()
	if !e.engine.WantsEvents("dev") {
		t.Error("does not want events with a lifecycle workflow")
	}
}

func TestLifecycleEventStartsRuns(t *testing.T) {
	forEachStore(t, func(t *testing.T, o envOptions) {
		wf := newWorkflow("welcome", manifest.Trigger{Type: manifest.TriggerLifecycle, Lifecycle: []string{"connection.created"}},
			&manifest.Step{ID: "hello", Kind: manifest.StepRequest, Method: "POST", Path: value(t, "/echo/welcome"),
				Body: value(t, map[string]any{"type": "=trigger.event.type", "user": "=trigger.event.userId"}), Retry: manifest.Retry{Attempts: 1}})
		o.workflows = []*manifest.Workflow{wf}
		e := newEnv(t, o)
		e.connect("alice")
		var runs store.RunPage
		ctx := context.Background()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var err error
			if runs, err = e.engine.Runs(ctx, store.RunFilter{WorkflowID: "welcome"}); err != nil {
				t.Fatal(err)
			}
			if len(runs.Runs) > 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(runs.Runs) != 1 || runs.Runs[0].UserID != "alice" {
			t.Fatalf("runs after connection.created: %+v", runs.Runs)
		}
		d := e.wait(runs.Runs[0].ID)
		sent := mustJSON(t, d.Steps[0].Output)["body"].(map[string]any)["body"].(map[string]any)
		if d.Status != store.RunSucceeded || sent["type"] != "connection.created" || sent["user"] != "alice" {
			t.Errorf("run %s %q; the API got %v", d.Status, d.Error, sent)
		}
	})
}
