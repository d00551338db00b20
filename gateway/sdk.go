package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/apierror"
)

// Error codes of the SDK credential endpoint.
const (
	CodeBadRequest        = "bad_request"
	CodeInvalidInput      = "invalid_input"
	CodeUseConnectFlow    = "use_connect_flow"
	CodeCredentialTest    = "credential_test_failed"
	CodeTokenExchange     = "token_exchange_failed"
	CodeStoreUnavailable  = "store_unavailable"
	CodeCredentialMissing = "credential_not_found"
	CodeEgressRefused     = string(apierror.EgressRefused) // the provider's address is in a range the egress guard refuses
	maxCredentialBodySize = 64 << 10
)

// createCredentialRequest is what the SDK's _oauthCallback sends; config and
// installOptions are accepted and not used.
type createCredentialRequest struct {
	IntegrationID  string         `json:"integrationId"`
	Payload        map[string]any `json:"payload"`
	Config         map[string]any `json:"config"`
	InstallOptions map[string]any `json:"installOptions"`
}

// createCredential connects an api_key, basic or client credentials
// integration from values the user typed: it checks them, exchanges client
// credentials for a token, calls the test endpoint, and stores the
// connection only if that succeeded.
func (s *Server) createCredential(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticate(w, r, r.PathValue("pid"))
	if !ok || !s.allowUser(w, r, u.project.ID, u.id, false) {
		return
	}
	var req createCredentialRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCredentialBodySize))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "body must be JSON {\"integrationId\": \"custom.<id>\", \"payload\": {…}}")
		return
	}
	in, ok := s.resolveIntegration(u.project.ID, req.IntegrationID)
	if !ok {
		writeError(w, http.StatusNotFound, CodeIntegrationMissing, "no integration "+quoteID(req.IntegrationID))
		return
	}
	delete(req.Payload, "skipPostOAuthInputs") // sent by the SDK's headless install flow
	conn, fail := s.connectWithValues(r.Context(), in, u.project.ID, u.id, req.Payload, "")
	if fail != nil {
		writeFailure(w, fail)
		return
	}
	writeJSON(w, http.StatusCreated, s.sdkCredentialOf(conn))
}

// writeFailure answers a failed connection attempt as JSON.
func writeFailure(w http.ResponseWriter, f *connectFailure) {
	body := map[string]any{"code": f.code, "message": f.message}
	if len(f.fields) > 0 {
		body["fields"] = f.fields
	}
	if f.provider != nil {
		body["provider"] = f.provider
	}
	w.Header().Set("X-Plugboard-Error", f.code)
	writeJSON(w, f.status, body)
}
