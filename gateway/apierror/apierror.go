// Package apierror is the gateway's one error vocabulary: every error the
// gateway itself answers with has a stable Code from this package, and is
// written by Write, as JSON {"code", "message"} with the header
// X-Plugboard-Error (which tells gateway errors from upstream ones; the
// proxy drops that header from upstream answers).
package apierror

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Code is a stable error code: clients may branch on it. The README's
// table of codes lists every one (a test holds them together).
type Code string

// Codes of user-token authentication.
const (
	ProjectNotFound Code = "project_not_found"
	TokenMissing    Code = "token_missing"
	TokenInvalid    Code = "token_invalid"
	TokenExpired    Code = "token_expired"
	// TokenLifetime: exp is further from iat (or from now) than the
	// gateway's --max-user-token-lifetime allows.
	TokenLifetime Code = "token_lifetime_exceeded"
)

// Codes of routing and the operators' API.
const (
	Unauthorized       Code = "unauthorized" // admin API without the admin token
	NotFound           Code = "not_found"
	MethodNotAllowed   Code = "method_not_allowed"
	NotReady           Code = "not_ready"
	AdminDisabled      Code = "admin_disabled"
	IntegrationMissing Code = "integration_not_found"
)

// Codes of the connect flows and the management API.
const (
	BadRequest        Code = "bad_request"
	InvalidInput      Code = "invalid_input" // Fields says which
	UseConnectFlow    Code = "use_connect_flow"
	CredentialTest    Code = "credential_test_failed" // Provider holds the answer
	TokenExchange     Code = "token_exchange_failed"
	StoreUnavailable  Code = "store_unavailable"
	CredentialMissing Code = "credential_not_found"
	// RateLimited: too many attempts from this user or address; RetryAfter
	// says when to try again.
	RateLimited Code = "rate_limited"
	// ConnectionLimit: the user holds as many connections as allowed;
	// reconnecting or deleting an existing one still works.
	ConnectionLimit Code = "connection_limit"
	// IntegrationUnavailable: the integration cannot be connected on this
	// gateway as loaded (dev mode loaded it with its OAuth client id or
	// secret unset); the message names the missing setting.
	IntegrationUnavailable Code = "integration_unavailable"
)

// Codes of actions (GET/POST …/sdk/actions and the MCP server).
const (
	ActionMissing Code = "action_not_found"
	// InvalidParameters: the parameters of an action call do not match its
	// schema; Fields names each parameter with why.
	InvalidParameters Code = "invalid_parameters"
)

// Codes of workflow triggers (POST …/sdk/triggers/{id}, …/sdk/events/trigger).
const (
	WorkflowMissing Code = "workflow_not_found"
	// WorkflowDisabled: the user has not enabled the workflow (or has
	// disabled it) in the Connect Portal.
	WorkflowDisabled Code = "workflow_disabled"
	// WorkflowFailed: the run ended in a failed step; the message names it.
	WorkflowFailed Code = "workflow_failed"
	// WorkflowTimeout: the run did not answer in time (it goes on; the
	// admin API shows how it ends).
	WorkflowTimeout Code = "workflow_timeout"
	// WorkflowQueueFull: the user already has the most runs waiting to
	// start that they may have (--workflow-queued-per-user); a 429.
	WorkflowQueueFull Code = "workflow_queue_full"
)

// Codes of the proxy.
const (
	NotConnected         Code = "not_connected"
	NeedsReconnect       Code = "needs_reconnect"
	PathRefused          Code = "path_refused"
	UpgradeRefused       Code = "upgrade_refused" // h2c, or websocket for an integration that does not declare it
	ConnectionIncomplete Code = "connection_incomplete"
	BodyTooLarge         Code = "body_too_large"
	BodyUnreadable       Code = "body_unreadable"
	UpstreamUnreachable  Code = "upstream_unreachable"
	RefreshFailed        Code = "refresh_failed"
	UpstreamTimeout      Code = "upstream_timeout"
	// EgressRefused: the host resolves to a loopback, private or otherwise
	// special address the operator has not allowed (--egress-allow).
	EgressRefused Code = "egress_refused"
)

// Codes lists every code, in the order of the README's table.
func Codes() []Code {
	return []Code{
		TokenMissing, TokenInvalid, TokenExpired, TokenLifetime, ProjectNotFound, IntegrationMissing,
		NotConnected, NeedsReconnect, PathRefused, UpgradeRefused, ConnectionLimit, RateLimited,
		ConnectionIncomplete, BodyTooLarge, BodyUnreadable, UpstreamUnreachable, RefreshFailed, EgressRefused, UpstreamTimeout,
		ActionMissing, InvalidParameters,
		WorkflowMissing, WorkflowDisabled, WorkflowFailed, WorkflowTimeout, WorkflowQueueFull,
		BadRequest, InvalidInput, UseConnectFlow, IntegrationUnavailable, CredentialTest, TokenExchange, CredentialMissing, StoreUnavailable,
		Unauthorized, AdminDisabled, NotFound, MethodNotAllowed, NotReady,
	}
}

// Error is an error the gateway answers with.
type Error struct {
	Status  int
	Code    Code
	Message string // for the caller; never a secret, an address or a dial error
	// Fields are the invalid values of an invalid_input error.
	Fields []FieldError
	// Provider is what the provider answered, when its answer is the cause.
	Provider *ProviderAnswer
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter time.Duration
	// Cause is the failure behind Message for operators (a DNS, dial or TLS
	// error, the provider's status): logged, shown by `plugboard try`,
	// never written to a response, which would tell callers about the
	// gateway's network.
	Cause error
}

// FieldError is a problem with one value the user typed.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ProviderAnswer is the start of a provider's answer, shown to the person
// connecting (it says why a key was refused).
type ProviderAnswer struct {
	Status int    `json:"status,omitempty"`
	Body   string `json:"body"`
}

// New returns an error with a status, a code and a message.
func New(status int, code Code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// body is the JSON of every gateway-made error. message is what the
// @useparagon/connect SDK surfaces as its Error's message.
type body struct {
	Code     Code            `json:"code"`
	Message  string          `json:"message"`
	Fields   []FieldError    `json:"fields,omitempty"`
	Provider *ProviderAnswer `json:"provider,omitempty"`
}

// Write answers with e: its status, X-Plugboard-Error, Cache-Control:
// no-store (errors may name the user's situation), Retry-After when set,
// and the JSON body.
func Write(w http.ResponseWriter, e *Error) {
	h := w.Header()
	MarkHeader(h, e)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(body{Code: e.Code, Message: e.Message, Fields: e.Fields, Provider: e.Provider})
}

// MarkHeader sets the headers of e on a response whose body is not JSON
// (a portal page that explains the error to a person).
func MarkHeader(h http.Header, e *Error) {
	h.Set("X-Plugboard-Error", string(e.Code))
	h.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(RetryAfterSeconds(e.RetryAfter), 10))
	}
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// JSON answers with a successful JSON body, indented.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// NoCredential is the 404 for a credential id (a connect link's, or the
// SDK's X-Paragon-Credential) that is not one of the user's connections
// of the integration named integrationName ("": of any integration).
func NoCredential(id, integrationName string) *Error {
	msg := "No credential " + Quote(id) + " of this user."
	if integrationName != "" {
		msg = "No credential " + Quote(id) + " of this user for " + integrationName + "."
	}
	return New(http.StatusNotFound, CredentialMissing, msg)
}

// Quote quotes a value from a request (an id, a key) for a message:
// shortened and made printable.
func Quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, s) + `"`
}
