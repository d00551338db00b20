package sdk

import (
	"context"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/userworkflows"
	"github.com/plugboardhq/plugboard/manifest"
)

const maxWorkflowBodySize = 32 << 10

// enableWorkflow is POST /projects/{pid}/sdk/workflows/{id} (the SDK's
// enableWorkflow): the user must have the workflow's integration
// connected (404 not_connected). An optional body {"settings": {…}} replaces the saved
// settings; without one they are kept. Every required setting must then
// have a value (400 invalid_input, fields naming each).
func (a *API) enableWorkflow(w http.ResponseWriter, r *http.Request) {
	a.setWorkflow(w, r, true)
}

// disableWorkflow is DELETE /projects/{pid}/sdk/workflows/{id} (the SDK's
// disableWorkflow). The settings are kept for the next enable.
func (a *API) disableWorkflow(w http.ResponseWriter, r *http.Request) {
	a.setWorkflow(w, r, false)
}

func (a *API) setWorkflow(w http.ResponseWriter, r *http.Request, enabled bool) {
	u, ok := a.user(w, r, false)
	if !ok {
		return
	}
	wf, ok := a.workflow(w, r, r.PathValue("id"))
	if !ok {
		return
	}
	var body struct {
		Settings map[string]any `json:"settings"`
	}
	if enabled {
		// The SDK sends no body; an app's own call may carry settings.
		if !decodeOptionalBody(w, r, maxWorkflowBodySize, &body, `{"settings": {…}}`) {
			return
		}
	}
	st, fail := a.Workflows.Save(r.Context(), u.Project.ID, u.ID, wf, enabled, body.Settings)
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	apierror.JSON(w, http.StatusOK, map[string]any{"id": wf.ID, "enabled": st.Enabled, "settings": st.Settings})
}

// workflow finds the workflow id names, or answers 404.
func (a *API) workflow(w http.ResponseWriter, r *http.Request, id string) (*manifest.Workflow, bool) {
	var wf *manifest.Workflow
	ok := false
	if a.Workflows != nil {
		wf, ok = a.Workflows.Lookup(id)
	}
	if !ok {
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.WorkflowMissing, "No workflow "+apierror.Quote(id)+"."))
		return nil, false
	}
	accesslog.SetIntegration(r.Context(), wf.Integration)
	return wf, true
}

// states reads the user's choices about every workflow (none without a
// Workflows service).
func (a *API) states(ctx context.Context, projectID, userID string) ([]userworkflows.State, error) {
	if a.Workflows == nil {
		return nil, nil
	}
	return a.Workflows.States(ctx, projectID, userID, nil)
}

// credential is CredentialOf with the user's workflow settings, which the
// SDK reads from the credential's configuration.
func (a *API) credential(ctx context.Context, c *connection.Connection) (Credential, error) {
	states, err := a.states(ctx, c.ProjectID, c.UserID)
	if err != nil {
		return Credential{}, err
	}
	return credentialWith(c, userworkflows.SDKSettings(states, c.IntegrationID)), nil
}

// updateCredential is PATCH /projects/{pid}/sdk/credentials/{id} (the SDK's
// updateConfig, behind updateWorkflowUserSettings and
// updateWorkflowState): {"config": {"workflowSettings": {"<id>":
// {"enabled", "settings"}}}}. Each workflow named must belong to the
// credential's integration; all are saved or, when one is refused, none.
// sharedSettings are accepted and not kept (integrations declare none).
func (a *API) updateCredential(w http.ResponseWriter, r *http.Request) {
	conn, ok := a.userCredential(w, r)
	if !ok {
		return
	}
	type workflowChoice struct {
		Enabled  *bool          `json:"enabled"`
		Settings map[string]any `json:"settings"`
	}
	var body struct {
		Config struct {
			WorkflowSettings map[string]workflowChoice `json:"workflowSettings"`
			SharedSettings   map[string]any            `json:"sharedSettings"`
		} `json:"config"`
	}
	if !decodeBody(w, r, maxWorkflowBodySize, &body, `{"config": {"workflowSettings": {"<workflow id>": {"enabled": …, "settings": {…}}}}}`) {
		return
	}
	states, err := a.states(r.Context(), conn.ProjectID, conn.UserID)
	if err != nil {
		apierror.Write(w, storeUnavailable("could not read the user's workflow settings; try again"))
		return
	}
	current := map[string]userworkflows.State{}
	for _, st := range states {
		current[st.Workflow.ID] = st
	}
	var changes []store.WorkflowChange
	for id, c := range body.Config.WorkflowSettings {
		st, ok := current[id]
		if !ok || st.Workflow.Integration != conn.IntegrationID {
			apierror.Write(w, apierror.New(http.StatusNotFound, apierror.WorkflowMissing, "No workflow "+apierror.Quote(id)+" of this credential's integration."))
			return
		}
		enabled := st.Enabled
		if c.Enabled != nil {
			enabled = *c.Enabled
		}
		changes = append(changes, store.WorkflowChange{Workflow: st.Workflow, Enabled: enabled, Settings: c.Settings})
	}
	if len(changes) > 0 {
		if _, fail := a.Workflows.SaveAll(r.Context(), conn.ProjectID, conn.UserID, changes); fail != nil {
			apierror.Write(w, fail)
			return
		}
	}
	cred, err := a.credential(r.Context(), conn)
	if err != nil {
		apierror.Write(w, storeUnavailable("could not read the user's workflow settings; try again"))
		return
	}
	apierror.JSON(w, http.StatusOK, cred)
}

// sdkWorkflows is what /sdk/integrations says of an integration's
// workflows: the workflows list (id and description, which the SDK's
// getIntegrationConfig shows as the title) and workflowMeta (what the SDK
// looks workflows up in, with each one's settings as inputs).
func sdkWorkflows(projectID string, wfs []*manifest.Workflow) ([]any, map[string]any) {
	list := []any{}
	meta := map[string]any{}
	for _, wf := range wfs {
		list = append(list, map[string]any{"id": wf.ID, "description": wf.Title, "integrationId": integration.UUID(projectID, wf.Integration),
			"plugboard": map[string]any{"title": wf.Title, "description": wf.Description, "trigger": string(wf.Trigger.Type)}})
		inputs := []any{}
		for _, s := range wf.Settings {
			in := map[string]any{"id": s.Key, "key": s.Key, "title": s.Label, "tooltip": s.Help, "required": s.Required, "type": sdkInputType(s)}
			if s.Default != nil {
				in["defaultValue"] = s.Default
			}
			if len(s.Enum) > 0 {
				in["options"] = s.Enum
			}
			inputs = append(inputs, in)
		}
		meta[wf.ID] = map[string]any{"id": wf.ID, "title": wf.Title, "infoText": wf.Description, "defaultEnabled": wf.EnabledByDefault, "inputs": inputs}
	}
	return list, meta
}

// sdkInputType names a setting's type as the hosted portal's inputs do.
func sdkInputType(s manifest.WorkflowSetting) string {
	switch {
	case s.Type == "boolean":
		return "switch"
	case s.Type == "number":
		return "number"
	case len(s.Enum) > 0:
		return "dropdown"
	}
	return "text"
}
