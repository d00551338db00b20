// Package userworkflows is the end users' side of workflows: which of an
// integration's workflows a user has enabled, with what settings. The SDK's
// API and the Connect Portal save through the same Service, so that a
// choice made in one shows in the other and is checked the same way.
package userworkflows

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// Service reads and saves users' choices. Every field is required.
type Service struct {
	Store store.WorkflowSettings
	// Connections counts the user's connections: a workflow is enabled
	// only for a user who has its integration connected.
	Connections interface {
		Count(ctx context.Context, projectID, userID, integrationID string) (int, error)
	}
	Integrations *integration.Directory
	// Workflows returns the serving catalog's workflows (read once per
	// call, like the catalog itself).
	Workflows func() []*manifest.Workflow
}

// State is a user's effective choice about one workflow.
type State struct {
	Workflow *manifest.Workflow
	Enabled  bool           // as chosen, else the workflow's enabledByDefault
	Settings map[string]any // saved values, then the workflow's defaults
	// Saved is what the user filled in, without defaults (nil: never
	// chose): a form shows it, and an empty field stays empty.
	Saved map[string]any
}

// ForIntegration returns the workflows of an integration, in catalog order.
func (s *Service) ForIntegration(integrationID string) []*manifest.Workflow {
	var out []*manifest.Workflow
	for _, wf := range s.Workflows() {
		if wf.Integration == integrationID {
			out = append(out, wf)
		}
	}
	return out
}

// Lookup finds a workflow by id.
func (s *Service) Lookup(id string) (*manifest.Workflow, bool) {
	for _, wf := range s.Workflows() {
		if wf.ID == id {
			return wf, true
		}
	}
	return nil, false
}

// States returns the user's choice about every workflow of the
// integrations for which want returns true (nil: all), in catalog
// order, from one read of the store.
func (s *Service) States(ctx context.Context, projectID, userID string, want func(integrationID string) bool) ([]State, error) {
	choices, err := s.Store.ListWorkflows(ctx, projectID, userID)
	if err != nil {
		return nil, err
	}
	byID := map[string]*store.WorkflowChoice{}
	for i := range choices {
		byID[choices[i].WorkflowID] = &choices[i]
	}
	var out []State
	for _, wf := range s.Workflows() {
		if want != nil && !want(wf.Integration) {
			continue
		}
		out = append(out, stateOf(wf, byID[wf.ID]))
	}
	return out, nil
}

func stateOf(wf *manifest.Workflow, c *store.WorkflowChoice) State {
	enabled, settings := store.EffectiveWorkflow(wf, c)
	st := State{Workflow: wf, Enabled: enabled, Settings: settings}
	if c != nil {
		st.Saved = c.Settings
	}
	return st
}

// Save records a user's choice: enabled or not, and settings (nil: keep
// the saved ones). Enabling needs a connection of the workflow's
// integration (404 not_connected). Invalid settings are a 400
// invalid_input whose Fields name each setting and what it expects.
func (s *Service) Save(ctx context.Context, projectID, userID string, wf *manifest.Workflow, enabled bool, settings map[string]any) (State, *apierror.Error) {
	out, fail := s.SaveAll(ctx, projectID, userID, []store.WorkflowChange{{Workflow: wf, Enabled: enabled, Settings: settings}})
	if fail != nil {
		return State{}, fail
	}
	return out[0], nil
}

// SaveAll records several choices as Save does each, all or none: every
// one is checked (connections, then settings in one store transaction)
// before any is kept. The states come back in the order given.
func (s *Service) SaveAll(ctx context.Context, projectID, userID string, changes []store.WorkflowChange) ([]State, *apierror.Error) {
	for _, c := range changes {
		if fail := s.checkConnected(ctx, projectID, userID, c); fail != nil {
			return nil, fail
		}
	}
	saved, err := s.Store.SetWorkflows(ctx, projectID, userID, changes)
	var se *store.SettingsError
	switch {
	case errors.As(err, &se):
		for _, c := range changes {
			if c.Workflow.ID == se.WorkflowID {
				return nil, settingsProblem(c, se)
			}
		}
		return nil, settingsProblem(changes[0], se)
	case err != nil:
		return nil, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "Could not save the workflow's settings; try again.")
	}
	out := make([]State, len(saved))
	for i := range saved {
		out[i] = stateOf(changes[i].Workflow, &saved[i])
	}
	return out, nil
}

// checkConnected refuses to enable a workflow for a user without a
// connection of its integration.
func (s *Service) checkConnected(ctx context.Context, projectID, userID string, c store.WorkflowChange) *apierror.Error {
	if !c.Enabled {
		return nil
	}
	wf := c.Workflow
	n, err := s.Connections.Count(ctx, projectID, userID, wf.Integration)
	if err != nil {
		return apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "Could not read the user's connections; try again.")
	}
	if n == 0 {
		name := wf.Integration
		if in, ok := s.Integrations.Lookup(wf.Integration); ok {
			name = in.Name
		}
		return apierror.New(http.StatusNotFound, apierror.NotConnected,
			"Connect "+name+" before enabling the workflow "+apierror.Quote(wf.ID)+".")
	}
	return nil
}

// settingsProblem is a 400 invalid_input naming each refused setting of
// c's workflow. The message names every problem too: the SDK shows only
// a message (its Error), not fields.
func settingsProblem(c store.WorkflowChange, se *store.SettingsError) *apierror.Error {
	problems := make([]string, len(se.Fields))
	for i, f := range se.Fields {
		problems[i] = f.Message
	}
	what := "cannot be saved"
	if c.Enabled {
		what = "cannot be enabled"
	}
	e := apierror.New(http.StatusBadRequest, apierror.InvalidInput,
		apierror.Quote(c.Workflow.Title)+" "+what+": "+strings.Join(problems, "; ")+".")
	for _, f := range se.Fields {
		e.Fields = append(e.Fields, apierror.FieldError{Field: f.Key, Message: f.Message})
	}
	return e
}

// SDKSettings is a configuration's workflowSettings as the SDK reads it
// (/sdk/me): {"<workflow id>": {"enabled": bool, "settings": {…}}}.
func SDKSettings(states []State, integrationID string) map[string]any {
	out := map[string]any{}
	for _, st := range states {
		if st.Workflow.Integration == integrationID {
			out[st.Workflow.ID] = map[string]any{"enabled": st.Enabled, "settings": st.Settings}
		}
	}
	return out
}
