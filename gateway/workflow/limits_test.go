package workflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/manifest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// holdWorkflow's step waits at the fake CRM until the test releases it.
func holdWorkflow(t testing.TB) *manifest.Workflow {
	return newWorkflow("hold", manifest.Trigger{Type: manifest.TriggerEvent, Event: "hold"},
		requestStep(t, "wait", "POST", "='/echo/hold/' + trigger.payload.n", manifest.Retry{Attempts: 1}))
}

// holder blocks the fake CRM's /api/echo/hold/* answers until released.
type holder struct {
	arrived chan string
	release chan struct{}
	once    sync.Once
}

func hold(crm *fakeCRM) *holder {
	h := &holder{arrived: make(chan string, 10), release: make(chan struct{})}
	crm.setOnCall(func(r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/echo/hold/") {
			h.arrived <- r.URL.Path
			<-h.release
		}
	})
	return h
}

func (h *holder) free() { h.once.Do(func() { close(h.release) }) }

func TestRunsPerUserWaitTheirTurn(t *testing.T) {
	e := newEnv(t, envOptions{workflows: []*manifest.Workflow{holdWorkflow(t)}, limits: workflow.Limits{MaxRunsPerUser: 1}})
	h := hold(e.crm)
	defer h.free()
	e.connect("alice")
	ctx := context.Background()
	first, err := e.engine.TriggerEvent(ctx, "dev", "alice", "hold", map[string]any{"n": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-h.arrived; got != "/api/echo/hold/1" {
		t.Fatalf("first call: %s", got)
	}
	second, err := e.engine.TriggerEvent(ctx, "dev", "alice", "hold", map[string]any{"n": "2"})
	if err != nil {
		t.Fatal(err)
	}
	// While the first run holds alice's only slot, the second is queued;
	// the start job looks again every second.
	waitFor(t, "the second run's start job to have waited (snoozed) twice", func() bool {
		var snoozes int
		_ = e.st.(*store.SQLite).DB().QueryRowContext(ctx, `SELECT COALESCE(json_extract(metadata, '$.snoozes'), 0) FROM river_job
			WHERE kind = 'plugboard_workflow_start' AND json_extract(args, '$.run_id') = ?`, second[0].ID).Scan(&snoozes)
		return snoozes >= 2
	})
	if r, _ := e.engine.Run(ctx, second[0].ID); r.Status != store.RunQueued || len(r.Steps) != 0 {
		t.Fatalf("second run %s with %d steps while the first runs", r.Status, len(r.Steps))
	}
	h.free()
	if d := e.wait(first[0].ID); d.Status != store.RunSucceeded {
		t.Errorf("first: %s %s", d.Status, d.Error)
	}
	if d := e.wait(second[0].ID); d.Status != store.RunSucceeded || !d.StartedAt.After(d.CreatedAt) {
		t.Errorf("second: %s %s", d.Status, d.Error)
	}
}

// TestQueuedRunsPerUserAreCapped: a user whose runs wait (their one
// slot taken) may queue MaxQueuedPerUser of them; a request or event
// trigger beyond answers 429 workflow_queue_full and starts nothing;
// other users are not held up, and the queue takes runs again once it
// drains.
func TestQueuedRunsPerUserAreCapped(t *testing.T) {
	e := newEnv(t, envOptions{workflows: []*manifest.Workflow{holdWorkflow(t), retryWorkflow(t)},
		limits: workflow.Limits{MaxRunsPerUser: 1, MaxQueuedPerUser: 2}})
	h := hold(e.crm)
	defer h.free()
	e.connect("alice")
	e.connect("bob")
	event := func(user, n string) (int, string) {
		t.Helper()
		status, _, body := e.post("/v2/projects/dev/sdk/events/trigger", user, `{"name": "hold", "payload": {"n": "`+n+`"}}`)
		return status, body
	}
	if status, body := event("alice", "1"); status != 200 {
		t.Fatalf("first event: %d %s", status, body)
	}
	<-h.arrived // alice's first run holds her only slot
	for _, n := range []string{"2", "3"} {
		if status, body := event("alice", n); status != 200 {
			t.Fatalf("event %s, queued: %d %s", n, status, body)
		}
	}
	status, body := event("alice", "4")
	if status != http.StatusTooManyRequests || !strings.Contains(body, `"code":"workflow_queue_full"`) ||
		!strings.Contains(body, "already has 2 workflow runs waiting to start") {
		t.Fatalf("event over the queue cap: %d %s", status, body)
	}
	status, runID, body := e.post("/projects/dev/sdk/triggers/new-lead", "alice", `{"name": "Ada"}`)
	if status != http.StatusTooManyRequests || runID != "" || !strings.Contains(body, `"code":"workflow_queue_full"`) {
		t.Fatalf("request trigger over the queue cap: %d %q %s", status, runID, body)
	}
	if n := e.crm.count("POST /api/leads"); n != 0 {
		t.Errorf("a refused trigger ran: %d leads created", n)
	}
	page, err := e.st.ListRuns(context.Background(), store.RunFilter{UserID: "alice"})
	if err != nil || len(page.Runs) != 3 {
		t.Fatalf("alice's runs: %d (%v), want 3: the refused triggers created none", len(page.Runs), err)
	}
	if status, body := event("bob", "1"); status != 200 {
		t.Errorf("another user's event: %d %s", status, body)
	}
	h.free()
	for _, r := range page.Runs {
		if d := e.wait(r.ID); d.Status != store.RunSucceeded {
			t.Errorf("run %s: %s %s", r.ID, d.Status, d.Error)
		}
	}
	if status, body := event("alice", "5"); status != 200 {
		t.Errorf("an event once the queue drained: %d %s", status, body)
	}
}

func TestRunLongerThanItsMaximumFails(t *testing.T) {
	e := newEnv(t, envOptions{workflows: []*manifest.Workflow{holdWorkflow(t)}, limits: workflow.Limits{MaxRunDuration: time.Second}})
	h := hold(e.crm)
	defer h.free()
	e.connect("alice")
	runs, err := e.engine.TriggerEvent(context.Background(), "dev", "alice", "hold", map[string]any{"n": "1"})
	if err != nil {
		t.Fatal(err)
	}
	d := e.wait(runs[0].ID)
	if d.Status != store.RunFailed || !strings.Contains(d.Error, "the run took longer than its maximum duration, 1s (step wait was cut short") {
		t.Fatalf("run %s %q", d.Status, d.Error)
	}
	if s := stepsByPath(d)["wait"]; s == nil || s.Status != store.StepFailed {
		t.Errorf("wait: %+v", s)
	}
}

// The admin API lists workflows and runs (filtered, paged) and shows one
// run step by step; the metrics count runs and steps.
func TestAdminAPIAndMetrics(t *testing.T) {
	wf := retryWorkflow(t)
	e := newEnv(t, envOptions{workflows: []*manifest.Workflow{wf, holdWorkflow(t)}})
	e.connect("alice")
	e.connect("bob")
	var ids []string
	for _, user := range []string{"alice", "bob", "alice"} {
		status, id, body := e.post("/projects/dev/sdk/triggers/new-lead", user, `{"name": "x"}`)
		if status != 201 {
			t.Fatalf("%d %s", status, body)
		}
		ids = append(ids, id)
	}
	mux := routes.New()
	(&admin.Ops{Token: "admin-token-0123456789", Workflows: e.engine, Metrics: metrics.New()}).RegisterAdmin(mux)
	srv := httptest.NewServer(mux.Mux())
	defer srv.Close()
	get := func(path string, v any) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer admin-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}
	var wfs struct{ Workflows []workflow.Info }
	if get("/admin/v1/workflows", &wfs) != 200 || len(wfs.Workflows) != 2 || wfs.Workflows[1].ID != "new-lead" || wfs.Workflows[1].Trigger != "request" {
		t.Errorf("workflows: %+v", wfs)
	}
	type page struct {
		Runs       []store.WorkflowRun
		NextCursor string
	}
	var p page
	if get("/admin/v1/workflow-runs?user=alice&limit=1", &p) != 200 || len(p.Runs) != 1 || p.Runs[0].ID != ids[2] || p.NextCursor == "" {
		t.Fatalf("page 1: %+v", p)
	}
	cursor := p.NextCursor
	p = page{}
	if get("/admin/v1/workflow-runs?user=alice&limit=1&cursor="+cursor, &p) != 200 || len(p.Runs) != 1 || p.Runs[0].ID != ids[0] || p.NextCursor != "" {
		t.Fatalf("page 2: %+v", p)
	}
	p = page{}
	if get("/admin/v1/workflow-runs?project=dev&workflow=new-lead&status=succeeded", &p) != 200 || len(p.Runs) != 3 {
		t.Errorf("succeeded runs: %d", len(p.Runs))
	}
	var bad map[string]any
	if get("/admin/v1/workflow-runs?status=done", &bad) != 400 || get("/admin/v1/workflow-runs?cursor=xyz", &bad) != 400 {
		t.Errorf("bad parameters: %v", bad)
	}
	var d struct {
		ID     string
		Status string
		Steps  []store.WorkflowStep
	}
	if get("/admin/v1/workflow-runs/"+ids[1], &d) != 200 || d.Status != "succeeded" || len(d.Steps) != 3 || d.Steps[2].StepID != "answer" {
		t.Errorf("run: %+v", d)
	}
	if get("/admin/v1/workflow-runs/no-such-run", &bad) != 404 {
		t.Errorf("unknown run: %v", bad)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/v1/workflow-runs", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("without the admin token: %v %v", resp.StatusCode, err)
	}

	if n := counterValue(t, e, "plugboard_workflow_runs_total", map[string]string{"workflow": "new-lead", "result": "succeeded"}); n != 3 {
		t.Errorf("runs_total{new-lead, succeeded} = %v", n)
	}
	out, err := testutil.GatherAndCount(e.registry, "plugboard_workflow_step_duration_seconds")
	if err != nil || out == 0 {
		t.Errorf("step durations: %d series (%v)", out, err)
	}
	if err := testutil.GatherAndCompare(e.registry, strings.NewReader(""), "plugboard_workflow_runs_pending"); err != nil {
		t.Errorf("nothing pending: %v", err)
	}
}

func counterValue(t *testing.T, e *env, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
