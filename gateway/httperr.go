package gateway

import (
	"encoding/json"
	"net/http"
)

// Error codes of errors the gateway itself makes. They are stable: clients
// may branch on them. Every such response also carries the header
// X-Plugboard-Error, which tells gateway errors from upstream ones.
const (
	CodeUnauthorized       = "unauthorized"
	CodeNotFound           = "not_found"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeNotReady           = "not_ready"
	CodeAdminDisabled      = "admin_disabled"
	CodeIntegrationMissing = "integration_not_found"
)

// apiError is the body of every gateway-made error. message is what the
// @useparagon/connect SDK surfaces as its Error's message.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Plugboard-Error", code)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Code: code, Message: message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
