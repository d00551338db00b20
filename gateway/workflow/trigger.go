package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
	"github.com/riverqueue/river"
)

// RunHeader names the run a trigger started, on every answer that has one.
const RunHeader = "X-Plugboard-Run"

// CredentialHeader is the SDK's choice of one of the user's connections
// (its credential id): a run a trigger starts with it calls the API with
// that connection, not the user's default one.
const CredentialHeader = connection.CredentialHeader

// chosenCredential reads CredentialHeader: "" when absent, else the id of
// a connection of the user for integrationID (any of the user's
// connections when integrationID is "", for events). An id the user has
// no such connection with is 404 credential_not_found, as for a connect
// link's credentialId.
func (e *Engine) chosenCredential(r *http.Request, projectID, userID, integrationID string) (*connection.Connection, *apierror.Error) {
	id := r.Header.Get(CredentialHeader)
	if id == "" {
		return nil, nil
	}
	c, err := e.cfg.Connections.Get(r.Context(), projectID, userID, id)
	if errors.Is(err, connection.ErrNotFound) || (err == nil && integrationID != "" && c.IntegrationID != integrationID) {
		name := integrationID
		if in, ok := e.catalog().Lookup(integrationID); ok {
			name = in.Name
		}
		return nil, apierror.NoCredential(id, name)
	}
	if err != nil {
		return nil, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "could not read the user's connections; try again")
	}
	return c, nil
}

// Start creates the given runs (skipping those whose DedupKey is taken)
// and enqueues them; it returns those created.
func (e *Engine) Start(ctx context.Context, runs []*store.WorkflowRun) ([]*store.WorkflowRun, error) {
	return e.start(ctx, runs, 0)
}

// startTriggered is Start for runs a user's request or event asked for:
// when their user would have more than Limits.MaxQueuedPerUser runs
// waiting, none is created and the error is a 429 workflow_queue_full
// (not a 401 or 403: the SDK signs the user out on those).
func (e *Engine) startTriggered(ctx context.Context, runs []*store.WorkflowRun) ([]*store.WorkflowRun, error) {
	created, err := e.start(ctx, runs, e.cfg.Limits.MaxQueuedPerUser)
	var full *store.QueueFullError
	if errors.As(err, &full) {
		return nil, apierror.New(http.StatusTooManyRequests, apierror.WorkflowQueueFull,
			fmt.Sprintf("the user already has %d workflow runs waiting to start, the most they may have (--workflow-queued-per-user); try again once some have run", full.Queued))
	}
	return created, err
}

func (e *Engine) start(ctx context.Context, runs []*store.WorkflowRun, maxQueuedPerUser int) ([]*store.WorkflowRun, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	return e.cfg.Runs.CreateRuns(ctx, runs, maxQueuedPerUser, func(ctx context.Context, tx store.Tx, created []*store.WorkflowRun) error {
		params := make([]river.InsertManyParams, len(created))
		for i, r := range created {
			params[i] = river.InsertManyParams{Args: startArgs{RunID: r.ID}}
		}
		return e.insertTx(ctx, tx, params)
	})
}

// NewRun is a run of wf for a user, started by trigger (what expressions
// see as trigger), not yet created.
func NewRun(wf *manifest.Workflow, projectID, userID string, trigger map[string]any, settings map[string]any) (*store.WorkflowRun, error) {
	t, err := json.Marshal(trigger)
	if err != nil {
		return nil, fmt.Errorf("workflow %s: the trigger is not JSON: %w", wf.ID, err)
	}
	if settings == nil {
		settings = map[string]any{}
	}
	s, err := json.Marshal(settings)
	if err != nil {
		return nil, fmt.Errorf("workflow %s: the settings are not JSON: %w", wf.ID, err)
	}
	return &store.WorkflowRun{ID: uuid.NewString(), ProjectID: projectID, UserID: userID, WorkflowID: wf.ID, WorkflowHash: wf.Hash,
		TriggerType: string(wf.Trigger.Type), Trigger: t, Settings: s, Status: store.RunQueued}, nil
}

// eligible reports whether the user may run wf: they have its integration
// connected and the workflow enabled; it returns their settings.
func (e *Engine) eligible(ctx context.Context, projectID, userID string, wf *manifest.Workflow) (bool, map[string]any, *apierror.Error) {
	n, err := e.cfg.Connections.Count(ctx, projectID, userID, wf.Integration)
	if err != nil {
		return false, nil, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "could not read the user's connections; try again")
	}
	if n == 0 {
		name := wf.Integration
		if in, ok := e.catalog().Lookup(wf.Integration); ok {
			name = in.Name
		}
		return false, nil, apierror.New(http.StatusNotFound, apierror.NotConnected, fmt.Sprintf("the user has not connected %s, which workflow %s runs on", name, wf.ID))
	}
	enabled, settings, err := e.cfg.Settings.UserWorkflow(ctx, projectID, userID, wf)
	if err != nil {
		return false, nil, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "could not read the user's workflow settings; try again")
	}
	if !enabled {
		// 409, not 403: the SDK signs the user out on a 401 or 403 from
		// any route but the proxy's.
		return false, nil, apierror.New(http.StatusConflict, apierror.WorkflowDisabled, fmt.Sprintf("the user has not enabled workflow %s", wf.ID))
	}
	return true, settings, nil
}

// Wait waits until run id has finished or ctx ends, and returns it as it
// is then.
func (e *Engine) Wait(ctx context.Context, id string) (*store.WorkflowRun, error) {
	done := make(chan struct{})
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], done)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		ws := e.waiters[id]
		for i, c := range ws {
			if c == done {
				e.waiters[id] = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(e.waiters[id]) == 0 {
			delete(e.waiters, id)
		}
		e.mu.Unlock()
	}()
	// Runs finished here wake the waiter at once; those another replica
	// finished are seen by polling.
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for {
		run, err := e.cfg.Runs.Run(context.WithoutCancel(ctx), id)
		if err != nil || run.Status.Done() || ctx.Err() != nil {
			return run, err
		}
		select {
		case <-done:
		case <-poll.C:
		case <-ctx.Done():
		}
	}
}

// Register mounts the SDK's trigger routes:
//
//	POST /projects/{pid}/sdk/triggers/{workflowId}   body: the request's payload
//	POST /v2/projects/{pid}/sdk/events/trigger       {"name": …, "payload": …}
//
// The SDK sends both to its HERMES_PUBLIC_URL, which apps set to the
// gateway's URL or, as the README shows, to that URL + "/events": both
// are served.
func (e *Engine) Register(mux *routes.Table, projects *project.Registry) {
	request := func(w http.ResponseWriter, r *http.Request) { e.requestTrigger(w, r, projects) }
	event := func(w http.ResponseWriter, r *http.Request) { e.eventTrigger(w, r, projects) }
	for _, prefix := range []string{"", "/events"} {
		mux.HandleFunc("POST "+prefix+"/projects/{pid}/sdk/triggers/{workflowId}", request)
		mux.HandleFunc("POST "+prefix+"/v2/projects/{pid}/sdk/events/trigger", event)
	}
}

// readPayload reads a JSON body within the payload limit; empty is null.
func (e *Engine) readPayload(r *http.Request) (any, *apierror.Error) {
	limit := e.cfg.Limits.MaxPayloadBytes
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, apierror.New(http.StatusBadRequest, apierror.BodyUnreadable, "the request body could not be read")
	}
	if int64(len(b)) > limit {
		return nil, apierror.New(http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, fmt.Sprintf("the payload is larger than %d bytes, the most a workflow trigger takes (--workflow-max-payload)", limit))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, apierror.New(http.StatusBadRequest, apierror.BadRequest, "the body is not JSON: "+err.Error())
	}
	return v, nil
}

// requestTrigger is POST /projects/{pid}/sdk/triggers/{workflowId}: the
// SDK's workflow(). It runs the workflow for the user and answers with
// its response step (status and body), once the run has finished.
func (e *Engine) requestTrigger(w http.ResponseWriter, r *http.Request, projects *project.Registry) {
	u, ok := projects.Authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	id := r.PathValue("workflowId")
	wf, ok := e.catalog().Workflow(id)
	if !ok || wf.Trigger.Type != manifest.TriggerRequest {
		msg := "No workflow " + apierror.Quote(id) + "."
		if ok {
			msg = fmt.Sprintf("Workflow %s is triggered by %s, not by requests (workflow()).", id, wf.Trigger.Type)
		}
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.WorkflowMissing, msg))
		return
	}
	accesslog.SetIntegration(r.Context(), wf.Integration)
	body, fail := e.readPayload(r)
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	_, settings, fail := e.eligible(r.Context(), u.Project.ID, u.ID, wf)
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	chosen, fail := e.chosenCredential(r, u.Project.ID, u.ID, wf.Integration)
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	run, err := NewRun(wf, u.Project.ID, u.ID, map[string]any{"type": "request", "body": body}, settings)
	if err == nil {
		if chosen != nil {
			run.CredentialID = chosen.ID
		}
		_, err = e.startTriggered(r.Context(), []*store.WorkflowRun{run})
	}
	var ae *apierror.Error
	if errors.As(err, &ae) {
		apierror.Write(w, ae)
		return
	}
	if err != nil {
		e.cfg.Log.Error("starting a workflow run failed", "workflow", wf.ID, "error", err.Error())
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "the run could not be started; try again"))
		return
	}
	w.Header().Set(RunHeader, run.ID)
	ctx, cancel := context.WithTimeout(r.Context(), e.cfg.Limits.RequestTimeout)
	defer cancel()
	done, err := e.Wait(ctx, run.ID)
	switch {
	case err != nil:
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "the run's result could not be read; see GET /admin/v1/workflow-runs/"+run.ID))
	case !done.Status.Done():
		apierror.Write(w, apierror.New(http.StatusGatewayTimeout, apierror.WorkflowTimeout,
			fmt.Sprintf("workflow %s had not answered after %s; run %s goes on", wf.ID, e.cfg.Limits.RequestTimeout, run.ID)))
	case done.Status == store.RunFailed:
		apierror.Write(w, apierror.New(http.StatusBadGateway, apierror.WorkflowFailed, fmt.Sprintf("workflow %s failed (run %s): %s", wf.ID, run.ID, done.Error)))
	case done.ResponseStatus == 0:
		apierror.JSON(w, http.StatusOK, map[string]any{"runId": run.ID})
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(done.ResponseStatus)
		if len(done.Response) > 0 {
			_, _ = w.Write(done.Response)
		} else {
			_, _ = w.Write([]byte("null"))
		}
	}
}

// StartedRun names a run an event started.
type StartedRun struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflowId"`
}

// TriggerEvent starts every workflow listening for the app event name
// that the user has connected and enabled, and returns the runs.
func (e *Engine) TriggerEvent(ctx context.Context, projectID, userID, name string, payload any) ([]StartedRun, error) {
	return e.triggerEvent(ctx, projectID, userID, name, payload, nil)
}

// triggerEvent is TriggerEvent where the runs of chosen's integration use
// chosen (nil: the user's default connections).
func (e *Engine) triggerEvent(ctx context.Context, projectID, userID, name string, payload any, chosen *connection.Connection) ([]StartedRun, error) {
	var runs []*store.WorkflowRun
	for _, wf := range e.catalog().Workflows() {
		if wf.Trigger.Type != manifest.TriggerEvent || wf.Trigger.Event != name {
			continue
		}
		ok, settings, fail := e.eligible(ctx, projectID, userID, wf)
		if fail != nil && fail.Code == apierror.StoreUnavailable {
			return nil, fail
		}
		if !ok {
			continue
		}
		run, err := NewRun(wf, projectID, userID, map[string]any{"type": "event", "name": name, "payload": payload}, settings)
		if err != nil {
			return nil, err
		}
		if chosen != nil && chosen.IntegrationID == wf.Integration {
			run.CredentialID = chosen.ID
		}
		runs = append(runs, run)
	}
	created, err := e.startTriggered(ctx, runs)
	if err != nil {
		return nil, err
	}
	out := make([]StartedRun, len(created))
	for i, r := range created {
		out[i] = StartedRun{ID: r.ID, WorkflowID: r.WorkflowID}
	}
	return out, nil
}

// eventTrigger is POST /v2/projects/{pid}/sdk/events/trigger: the SDK's
// event(name, payload). It answers once the runs are enqueued.
func (e *Engine) eventTrigger(w http.ResponseWriter, r *http.Request, projects *project.Registry) {
	u, ok := projects.Authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	v, fail := e.readPayload(r)
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	body, _ := v.(map[string]any)
	name, _ := body["name"].(string)
	if name == "" {
		apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, `the body must be {"name": "<event name>", "payload": …}`))
		return
	}
	chosen, fail := e.chosenCredential(r, u.Project.ID, u.ID, "")
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	runs, err := e.triggerEvent(r.Context(), u.Project.ID, u.ID, name, body["payload"], chosen)
	if err != nil {
		var ae *apierror.Error
		if !errors.As(err, &ae) {
			e.cfg.Log.Error("starting workflow runs for an event failed", "event", name, "error", err.Error())
			ae = apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "the runs could not be started; try again")
		}
		apierror.Write(w, ae)
		return
	}
	apierror.JSON(w, http.StatusOK, map[string]any{"runs": runs})
}

type eventWorker struct {
	river.WorkerDefaults[eventArgs]
	e *Engine
}

func (w *eventWorker) Timeout(*river.Job[eventArgs]) time.Duration { return time.Minute }

// Work starts the lifecycle workflows of a connection event for its user.
// A run per (event, workflow): a retried job creates none twice.
func (w *eventWorker) Work(ctx context.Context, job *river.Job[eventArgs]) error {
	e, ev := w.e, job.Args.Event
	var data map[string]any
	b, _ := json.Marshal(ev.Data)
	_ = json.Unmarshal(b, &data)
	data["type"], data["eventId"], data["timestamp"] = ev.Type, ev.ID, ev.Timestamp
	var runs []*store.WorkflowRun
	for _, wf := range e.lifecycleWorkflows(ev) {
		enabled, settings, err := e.cfg.Settings.UserWorkflow(ctx, ev.Data.ProjectID, ev.Data.UserID, wf)
		if err != nil {
			return err
		}
		if !enabled {
			continue
		}
		run, err := NewRun(wf, ev.Data.ProjectID, ev.Data.UserID, map[string]any{"type": "lifecycle", "event": data}, settings)
		if err != nil {
			return err
		}
		run.DedupKey = "lifecycle/" + ev.ID + "/" + wf.ID
		runs = append(runs, run)
	}
	_, err := e.Start(ctx, runs)
	return err
}
