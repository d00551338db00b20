package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// Error codes of the SDK credential endpoint.
const (
	CodeBadRequest        = "bad_request"
	CodeInvalidInput      = "invalid_input"
	CodeUseConnectFlow    = "use_connect_flow"
	CodeCredentialTest    = "credential_test_failed"
	CodeTokenExchange     = "token_exchange_failed"
	CodeStoreUnavailable  = "store_unavailable"
	maxCredentialBodySize = 64 << 10
)

type createCredentialRequest struct {
	IntegrationID string         `json:"integrationId"`
	Payload       map[string]any `json:"payload"`
}

// credentialView is a connection as the SDK sees it: never its secrets.
type credentialView struct {
	ID            string    `json:"id"`
	IntegrationID string    `json:"integrationId"`
	ProjectID     string    `json:"projectId"`
	Status        string    `json:"status"`
	IsDefault     bool      `json:"isDefault"`
	DateCreated   time.Time `json:"dateCreated"`
	DateUpdated   time.Time `json:"dateUpdated"`
}

func viewOf(c *store.Connection) credentialView {
	status := "VALID"
	if c.Status == store.StatusNeedsReconnect {
		status = "INVALID"
	}
	return credentialView{ID: c.ID, IntegrationID: "custom." + c.IntegrationID, ProjectID: c.ProjectID, Status: status,
		IsDefault: c.IsDefault, DateCreated: c.CreatedAt, DateUpdated: c.UpdatedAt}
}

// createCredential connects an api_key, basic or client credentials
// integration from values the user typed: it checks them, exchanges client
// credentials for a token, calls the test endpoint, and stores the
// connection only if that succeeded.
func (s *Server) createCredential(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	var req createCredentialRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCredentialBodySize))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "body must be JSON {\"integrationId\": \"custom.<id>\", \"payload\": {…}}")
		return
	}
	in, ok := lookup(s.reloader.Catalog(), strings.TrimPrefix(req.IntegrationID, "custom/"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeIntegrationMissing, "no integration "+quoteID(req.IntegrationID))
		return
	}
	if in.Auth.Type == manifest.AuthOAuth2 {
		writeError(w, http.StatusBadRequest, CodeUseConnectFlow, in.Name+" connects with OAuth: send the user through the connect flow")
		return
	}
	values, errs := checkInputs(in, req.Payload)
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": CodeInvalidInput, "message": errs[0].Field + ": " + errs[0].Message, "fields": errs})
		return
	}
	conn := &store.Connection{ProjectID: u.project.ID, UserID: u.id, IntegrationID: in.ID, Status: store.StatusValid}
	inputs := map[string]string{}
	for k, v := range values {
		if k != fieldClientID && k != fieldClientSecret {
			inputs[k] = v
		}
	}
	conn.Credential.Inputs = inputs
	if in.Auth.Type == manifest.AuthClientCredentials {
		tok, err := s.oauth.ClientCredentials(r.Context(), in, values[fieldClientID], values[fieldClientSecret], inputs)
		if err != nil {
			writeError(w, http.StatusBadRequest, CodeTokenExchange, in.Name+" refused the client credentials: "+err.Error())
			return
		}
		cred, exp := oauth.FromToken(tok, inputs, true)
		cred.ClientID, cred.ClientSecret = values[fieldClientID], values[fieldClientSecret]
		conn.Credential, conn.ExpiresAt = cred, exp
	}
	res, err := s.proxy.Test(r.Context(), in, conn)
	if err != nil {
		writeError(w, http.StatusBadGateway, CodeCredentialTest, fmt.Sprintf("could not run the %s test request: %v", in.Name, err))
		return
	}
	if res != nil && !res.OK() {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"code":     CodeCredentialTest,
			"message":  fmt.Sprintf("%s refused the credential: the test request answered %d", in.Name, res.Status),
			"provider": map[string]any{"status": res.Status, "body": res.Excerpt},
		})
		return
	}
	if err := s.store.Create(r.Context(), conn); err != nil {
		s.log.Error("storing a connection failed", "integration", in.ID, "error", err.Error())
		writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "could not store the connection; try again")
		return
	}
	s.creds.Forget(conn.ProjectID, conn.UserID, conn.IntegrationID)
	writeJSON(w, http.StatusCreated, viewOf(conn))
}
