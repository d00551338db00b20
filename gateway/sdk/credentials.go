package sdk

import (
	"errors"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/integration"
)

const maxCredentialBodySize = 64 << 10

type configuration struct {
	ID                  string         `json:"id"`
	ConnectCredentialID string         `json:"connectCredentialId"`
	IsDefault           bool           `json:"isDefault"`
	WorkflowSettings    map[string]any `json:"workflowSettings"`
	SharedSettings      map[string]any `json:"sharedSettings"`
	ConfigMeta          map[string]any `json:"configMeta"`
}

// Credential is a connection as the SDK knows it, without secrets.
type Credential struct {
	ID             string          `json:"id"`
	IntegrationID  string          `json:"integrationId"`
	ProjectID      string          `json:"projectId"`
	Status         string          `json:"status"`
	ProviderID     string          `json:"providerId"`
	ProviderData   map[string]any  `json:"providerData"`
	IsDefault      bool            `json:"isDefault"`
	DateCreated    string          `json:"dateCreated"`
	DateUpdated    string          `json:"dateUpdated"`
	Configurations []configuration `json:"configurations"`
}

// status is credentialStatus, in the values the SDK knows: INVALID when
// the user must reconnect or the last health check (api.healthCheck)
// failed, VALID otherwise.
func status(c *connection.Connection) string {
	if c.Status == connection.StatusNeedsReconnect || c.CheckFailed() {
		return "INVALID"
	}
	return "VALID"
}

// CredentialOf projects a connection for the SDK, without workflow settings.
func CredentialOf(c *connection.Connection) Credential {
	return credentialWith(c, map[string]any{})
}

// credentialWith projects a connection for the SDK with the user's
// workflowSettings for its integration (userworkflows.SDKSettings), which
// the SDK reads from the credential's configuration.
func credentialWith(c *connection.Connection, workflowSettings map[string]any) Credential {
	return Credential{
		ID: c.ID, IntegrationID: integration.UUID(c.ProjectID, c.IntegrationID), ProjectID: c.ProjectID,
		Status: status(c), ProviderID: c.UserID, ProviderData: map[string]any{}, IsDefault: c.IsDefault,
		DateCreated: c.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), DateUpdated: c.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		Configurations: []configuration{{ID: integration.ConfigurationUUID(c.ID), ConnectCredentialID: c.ID, IsDefault: true,
			WorkflowSettings: workflowSettings, SharedSettings: map[string]any{}, ConfigMeta: map[string]any{}}},
	}
}

// createCredentialRequest is what the SDK's _oauthCallback sends; config and
// installOptions are accepted and not used. Other fields are refused (the
// SDK sends none: shared/paragon-sdk-protocol.md).
type createCredentialRequest struct {
	IntegrationID  string         `json:"integrationId"`
	Payload        map[string]any `json:"payload"`
	Config         map[string]any `json:"config"`
	InstallOptions map[string]any `json:"installOptions"`
}

// createCredential connects an api_key, basic or client credentials
// integration from values the user typed (connect.Flows.ConnectWithValues:
// checked, exchanged, tested, then stored).
func (a *API) createCredential(w http.ResponseWriter, r *http.Request) {
	u, ok := a.user(w, r, true)
	if !ok {
		return
	}
	var req createCredentialRequest
	if !decodeBody(w, r, maxCredentialBodySize, &req, `{"integrationId": "custom.<id>", "payload": {…}, "config"?, "installOptions"?}`) {
		return
	}
	in, ok := a.resolve(r, u.Project.ID, req.IntegrationID)
	if !ok {
		apierror.Write(w, notFound(req.IntegrationID))
		return
	}
	delete(req.Payload, "skipPostOAuthInputs") // sent by the SDK's headless install flow
	conn, fail := a.Flows.ConnectWithValues(r.Context(), in, u.Project.ID, u.ID, req.Payload, "")
	if fail != nil {
		apierror.Write(w, fail)
		return
	}
	cred, err := a.credential(r.Context(), conn)
	if err != nil {
		cred = CredentialOf(conn) // connected all the same; /sdk/me will say the rest
	}
	apierror.JSON(w, http.StatusCreated, cred)
}

// userCredential returns the credential {id} of the request's user, or
// answers why not.
func (a *API) userCredential(w http.ResponseWriter, r *http.Request) (*connection.Connection, bool) {
	u, ok := a.user(w, r, false)
	if !ok {
		return nil, false
	}
	conn, err := a.Connections.Get(r.Context(), u.Project.ID, u.ID, r.PathValue("id"))
	if err != nil {
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.CredentialMissing, "no credential "+apierror.Quote(r.PathValue("id"))))
		return nil, false
	}
	accesslog.SetIntegration(r.Context(), conn.IntegrationID)
	return conn, true
}

// getCredential returns one of the user's credentials, without secrets.
func (a *API) getCredential(w http.ResponseWriter, r *http.Request) {
	conn, ok := a.userCredential(w, r)
	if !ok {
		return
	}
	cred, err := a.credential(r.Context(), conn)
	if err != nil {
		apierror.Write(w, storeUnavailable("could not read the user's workflow settings; try again"))
		return
	}
	apierror.JSON(w, http.StatusOK, cred)
}

// deleteCredential disconnects: it revokes the token at the provider when
// the manifest declares a revocation URL, then deletes the connection.
func (a *API) deleteCredential(w http.ResponseWriter, r *http.Request) {
	conn, ok := a.userCredential(w, r)
	if !ok {
		return
	}
	in, _ := a.Integrations.Lookup(conn.IntegrationID)
	if err := a.Flows.Disconnect(r.Context(), in, conn); err != nil && !errors.Is(err, connection.ErrNotFound) {
		apierror.Write(w, storeUnavailable("could not delete the credential; try again"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
