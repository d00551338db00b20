// Package actions runs the named operations manifests declare (actions:)
// for a user: it lists those of the user's connected integrations as tool
// definitions, validates a call's parameters, and sends the request
// through the proxy, so that the credential is injected, refreshed and
// never shown to the caller. The SDK API (api.go) and the MCP server
// (package mcp) are its two front ends.
package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/manifest"
)

// DefaultMaxResultBytes is Service.MaxResultBytes's default.
const DefaultMaxResultBytes = 4 << 20

// Connections lists a user's connections: store.Connections.
type Connections interface {
	List(ctx context.Context, projectID, userID string) ([]*connection.Connection, error)
}

// Service runs actions. Every field is required but MaxResultBytes and Log.
type Service struct {
	Integrations *integration.Directory
	Connections  Connections
	Projects     *project.Registry
	Proxy        *proxy.Handler
	// MaxResultBytes caps the API answer kept for a result; a longer one is
	// refused with 502 (an agent cannot use half a JSON document).
	// Default DefaultMaxResultBytes.
	MaxResultBytes int64
	Log            *slog.Logger
}

// Tool is one action as agents see it.
type Tool struct {
	Integration *manifest.Integration
	Action      *manifest.Action
}

// Available lists the actions of the integrations the user has connected,
// sorted by tool name; only, when not empty, keeps those integrations
// (ids or custom.<id>). An unknown name in only is an error.
func (s *Service) Available(ctx context.Context, projectID, userID string, only []string) ([]Tool, *apierror.Error) {
	keep := map[string]bool{}
	for _, ref := range only {
		in, ok := s.Integrations.Resolve(projectID, ref)
		if !ok {
			return nil, apierror.New(http.StatusBadRequest, apierror.BadRequest, "No integration "+apierror.Quote(ref)+" (integrations= takes ids or custom.<id>, comma-separated).")
		}
		keep[in.ID] = true
	}
	conns, err := s.Connections.List(ctx, projectID, userID)
	if err != nil {
		return nil, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "could not read the user's connections; try again")
	}
	connected := map[string]bool{}
	for _, c := range conns {
		connected[c.IntegrationID] = true
	}
	var out []Tool
	for _, in := range s.Integrations.Catalog().Integrations() {
		if !connected[in.ID] || (len(keep) > 0 && !keep[in.ID]) {
			continue
		}
		for _, a := range in.Actions {
			out = append(out, Tool{in, a})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Action.Tool < out[j].Action.Tool })
	return out, nil
}

// Find returns the action a tool name (<integration id>-<action name>)
// names in the current catalog, connected or not.
func (s *Service) Find(name string) (Tool, *apierror.Error) {
	i := strings.LastIndexByte(name, '-')
	if i > 0 {
		if in, ok := s.Integrations.Catalog().Lookup(name[:i]); ok {
			for _, a := range in.Actions {
				if a.Name == name[i+1:] {
					return Tool{in, a}, nil
				}
			}
		}
	}
	return Tool{}, apierror.New(http.StatusNotFound, apierror.ActionMissing, "No action "+apierror.Quote(name)+"; GET /projects/{project}/sdk/actions lists the user's actions.")
}

// Outcome is a successful run's answer or the API's own error answer.
type Outcome struct {
	Status      int             // the API's status
	ContentType string          // the API's
	Output      json.RawMessage // JSON (the output pointer applied); nil when the body is not JSON
	Text        []byte          // the body when it is not JSON
}

// OK reports whether the API accepted the call (2xx).
func (o *Outcome) OK() bool { return o.Status >= 200 && o.Status <= 299 }

// Run validates params (decoded with UseNumber) and runs the action for
// the user. A gateway error (unknown action, invalid parameters, not
// connected, refresh failed …) is returned as *apierror.Error; the API's
// answers, errors included, are an Outcome.
func (s *Service) Run(ctx context.Context, projectID, userID string, t Tool, params map[string]any) (*Outcome, *apierror.Error) {
	if params == nil {
		params = map[string]any{}
	}
	if errs := t.Action.Check(params); len(errs) > 0 {
		e := apierror.New(http.StatusBadRequest, apierror.InvalidParameters, invalidMessage(t.Action.Tool, errs))
		for _, pe := range errs {
			e.Fields = append(e.Fields, apierror.FieldError{Field: pe.Parameter, Message: pe.Message})
		}
		return nil, e
	}
	req, err := t.Action.Render(params)
	if err != nil {
		return nil, apierror.New(http.StatusBadRequest, apierror.InvalidParameters, t.Action.Tool+": "+err.Error())
	}
	call := proxy.Call{Method: req.Method, Path: req.Path, Header: http.Header{"Accept": {"application/json"}}, Body: req.Body}
	q := url.Values{}
	for _, nv := range req.Query {
		q.Add(nv.Name, nv.Value)
	}
	call.Query = q.Encode()
	for _, nv := range req.Headers {
		call.Header.Set(nv.Name, nv.Value)
	}
	if req.Body != nil {
		call.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	limit := s.MaxResultBytes
	if limit <= 0 {
		limit = DefaultMaxResultBytes
	}
	res := s.Proxy.Do(ctx, proxy.Request{ProjectID: projectID, UserID: userID, Integration: t.Integration, Path: req.Path}, call, limit)
	if res.GatewayError {
		var body struct {
			Code    apierror.Code `json:"code"`
			Message string        `json:"message"`
		}
		_ = json.Unmarshal(res.Body, &body)
		return nil, apierror.New(res.Status, body.Code, body.Message)
	}
	if res.Truncated {
		return nil, apierror.New(http.StatusBadGateway, apierror.UpstreamUnreachable, fmt.Sprintf("%s answered with more than %d bytes, the most an action's result may have", t.Integration.Name, limit))
	}
	out := &Outcome{Status: res.Status, ContentType: res.Header.Get("Content-Type")}
	if isJSON(out.ContentType) && json.Valid(res.Body) {
		out.Output = res.Body
		if out.OK() && t.Action.Output != "" {
			if v, ok := pointer(res.Body, t.Action.Output); ok {
				out.Output = v
			}
		}
	} else {
		out.Text = res.Body
	}
	return out, nil
}

func invalidMessage(tool string, errs []manifest.ParameterError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = "parameter " + strconv.Quote(e.Parameter) + " " + e.Message
	}
	return "Invalid parameters for " + tool + ": " + strings.Join(parts, "; ") + "."
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// pointer evaluates a JSON pointer (RFC 6901) in a JSON document.
func pointer(doc []byte, ptr string) (json.RawMessage, bool) {
	cur := json.RawMessage(doc)
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) == nil && obj != nil {
			next, ok := obj[tok]
			if !ok {
				return nil, false
			}
			cur = next
			continue
		}
		var arr []json.RawMessage
		if json.Unmarshal(cur, &arr) != nil {
			return nil, false
		}
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 || i >= len(arr) || (len(tok) > 1 && tok[0] == '0') {
			return nil, false
		}
		cur = arr[i]
	}
	return cur, true
}
