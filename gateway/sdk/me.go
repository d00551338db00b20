package sdk

import (
	"errors"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/userworkflows"
)

// me is GET /projects/{pid}/sdk/me: the user, the project, and every
// integration of the catalog with the user's credentials.
func (a *API) me(w http.ResponseWriter, r *http.Request) {
	u, ok := a.user(w, r, false)
	if !ok {
		return
	}
	conns, err := a.Connections.List(r.Context(), u.Project.ID, u.ID)
	if err != nil {
		apierror.Write(w, storeUnavailable("could not read the user's connections; try again"))
		return
	}
	states, err := a.states(r.Context(), u.Project.ID, u.ID)
	if err != nil {
		apierror.Write(w, storeUnavailable("could not read the user's workflow settings; try again"))
		return
	}
	byIntegration := map[string][]*connection.Connection{}
	for _, c := range conns {
		byIntegration[c.IntegrationID] = append(byIntegration[c.IntegrationID], c)
	}
	integrations := map[string]any{}
	for _, in := range a.Integrations.Catalog().Integrations() {
		all := []Credential{}
		entry := map[string]any{"enabled": false}
		// Choices are the user's, not a credential's: every configuration
		// shows the same.
		ws := userworkflows.SDKSettings(states, in.ID)
		for _, c := range byIntegration[in.ID] {
			all = append(all, credentialWith(c, ws))
			if c.IsDefault {
				entry["enabled"] = true
				entry["credentialId"] = c.ID
				entry["credentialStatus"] = status(c)
				entry["providerId"] = u.ID
				entry["providerData"] = map[string]any{}
				entry["credentialConfigId"] = integration.ConfigurationUUID(c.ID)
				entry["sharedSettings"] = map[string]any{}
				entry["workflowSettings"] = ws
				entry["configuredWorkflows"] = ws
			}
		}
		entry["allCredentials"] = all
		integrations[in.SDKName()] = entry
	}
	apierror.JSON(w, http.StatusOK, map[string]any{
		"id":        u.ID,
		"meta":      map[string]any{},
		"resources": []any{},
		// The SDK hands project to its Connect Portal iframe as it is (in
		// UI_UPDATE's nextContext): plugboard is how the iframe names the
		// app and the account being connected, as the portal pages do.
		"project": map[string]any{"id": u.Project.ID, "accessibleFeatures": []string{"headless-cp", "user-metadata"},
			"plugboard": map[string]any{"appName": u.Project.Name, "appLogo": string(u.Project.Logo), "account": u.Account}},
		"integrations": integrations,
	})
}

// setMeta is PATCH /projects/{pid}/sdk/me. Plugboard keeps no user
// metadata; the call is accepted so the SDK's authenticate() with metadata works.
func (a *API) setMeta(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.user(w, r, false); !ok {
		return
	}
	var body struct {
		Meta map[string]any `json:"meta"`
	}
	if !decodeBody(w, r, 64<<10, &body, `{"meta": {…}}`) {
		return
	}
	apierror.JSON(w, http.StatusOK, map[string]any{"meta": body.Meta})
}

// integrations is GET /projects/{pid}/sdk/integrations.
func (a *API) integrations(w http.ResponseWriter, r *http.Request) {
	u, ok := a.user(w, r, false)
	if !ok {
		return
	}
	list := []any{}
	for _, in := range a.Integrations.Catalog().Integrations() {
		view := integration.SDKView(a.PublicURL, u.Project.ID, in)
		if a.Workflows != nil {
			if wfs := a.Workflows.ForIntegration(in.ID); len(wfs) > 0 {
				wfList, meta := sdkWorkflows(u.Project.ID, wfs)
				view["workflows"] = wfList
				if configs, ok := view["configs"].([]any); ok && len(configs) > 0 {
					if c, ok := configs[0].(map[string]any); ok {
						if values, ok := c["values"].(map[string]any); ok {
							values["workflowMeta"] = meta
						}
					}
				}
			}
		}
		list = append(list, view)
	}
	apierror.JSON(w, http.StatusOK, list)
}

// uninstall is DELETE /projects/{pid}/sdk/integrations/{integrationId}:
// the credential named by X-Paragon-Credential, or else every credential of
// the user for the integration. If a deletion fails, the answer says so
// (503) and the SDK may try again: what was deleted stays deleted.
func (a *API) uninstall(w http.ResponseWriter, r *http.Request) {
	u, ok := a.user(w, r, false)
	if !ok {
		return
	}
	in, ok := a.resolve(r, u.Project.ID, r.PathValue("integrationId"))
	if !ok {
		apierror.Write(w, notFound(r.PathValue("integrationId")))
		return
	}
	conns, err := a.Connections.List(r.Context(), u.Project.ID, u.ID)
	if err != nil {
		apierror.Write(w, storeUnavailable("could not read the user's connections; try again"))
		return
	}
	only := r.Header.Get("X-Paragon-Credential")
	var failed error
	for _, c := range conns {
		if c.IntegrationID != in.ID || (only != "" && c.ID != only) {
			continue
		}
		if err := a.Flows.Disconnect(r.Context(), in, c); err != nil && !errors.Is(err, connection.ErrNotFound) {
			a.Log.Error("disconnecting failed", "integration", in.ID, "connection", c.ID, "error", err.Error())
			failed = err
		}
	}
	if failed != nil {
		apierror.Write(w, storeUnavailable("could not delete every credential of "+in.Name+"; try again"))
		return
	}
	apierror.JSON(w, http.StatusOK, map[string]any{})
}
