package actions

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/routes"
)

// MaxCallBytes caps the body of POST …/sdk/actions.
const MaxCallBytes = 1 << 20

// Register mounts the SDK API's action routes:
//
//	GET  /projects/{pid}/sdk/actions[?integrations=custom.github,slack]
//	POST /projects/{pid}/sdk/actions   {"action": …, "parameters": {…}}
func (s *Service) Register(mux *routes.Table) {
	mux.HandleFunc("GET /projects/{pid}/sdk/actions", s.list)
	mux.HandleFunc("POST /projects/{pid}/sdk/actions", s.run)
}

// FunctionDefinition is a tool in the shape OpenAI's and the hosted
// product's tool lists use ({"type": "function", "function": {…}}); its
// Function is also Anthropic's tool shape with parameters as input_schema.
type FunctionDefinition struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`
}

// Function is a tool's name, description and parameters (JSON Schema).
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// Definition returns t as a function definition.
func (t Tool) Definition() FunctionDefinition {
	return FunctionDefinition{Type: "function", Function: Function{Name: t.Action.Tool, Description: t.Action.Description, Parameters: t.Action.Schema}}
}

// list is GET /projects/{pid}/sdk/actions: the user's actions grouped by
// integration (custom.<id>), as the hosted product's list does.
func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	u, ok := s.Projects.Authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	var only []string
	for _, v := range r.URL.Query()["integrations"] {
		for _, ref := range strings.Split(v, ",") {
			if ref = strings.TrimSpace(ref); ref != "" {
				only = append(only, ref)
			}
		}
	}
	tools, e := s.Available(r.Context(), u.Project.ID, u.ID, only)
	if e != nil {
		apierror.Write(w, e)
		return
	}
	grouped := map[string][]FunctionDefinition{}
	for _, t := range tools {
		grouped[t.Integration.SDKName()] = append(grouped[t.Integration.SDKName()], t.Definition())
	}
	apierror.JSON(w, http.StatusOK, map[string]any{"actions": grouped})
}

// run is POST /projects/{pid}/sdk/actions. A successful answer is the
// API's (its output part when the action names one); the API's errors pass
// through with their status; the gateway's own are apierror JSON.
func (s *Service) run(w http.ResponseWriter, r *http.Request) {
	u, ok := s.Projects.Authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	var body struct {
		Action     string          `json:"action"`
		Tool       string          `json:"tool"` // the hosted product's newer name for action
		Parameters json.RawMessage `json:"parameters"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxCallBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(&body)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data")
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		apierror.Write(w, apierror.New(http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, "The body is larger than the 1 MiB an action call may have."))
		return
	case err != nil:
		apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, `The body must be JSON {"action": "<integration>-<action>", "parameters": {…}}.`))
		return
	}
	name := body.Action
	if name == "" {
		name = body.Tool
	}
	params, err := DecodeParameters(body.Parameters)
	if err != nil {
		apierror.Write(w, apierror.New(http.StatusBadRequest, apierror.BadRequest, `"parameters" must be a JSON object.`))
		return
	}
	t, e := s.Find(name)
	if e != nil {
		apierror.Write(w, e)
		return
	}
	accesslog.SetIntegration(r.Context(), t.Integration.ID)
	out, e := s.Run(r.Context(), u.Project.ID, u.ID, t, params)
	if e != nil {
		apierror.Write(w, e)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if out.Output != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(out.Status)
		_, _ = w.Write(out.Output)
		return
	}
	if out.ContentType != "" {
		w.Header().Set("Content-Type", out.ContentType)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(out.Status)
	_, _ = w.Write(out.Text)
}

// DecodeParameters decodes a call's parameters object, keeping numbers
// exact; absent or null is no parameters.
func DecodeParameters(raw json.RawMessage) (map[string]any, error) {
	params := map[string]any{}
	if len(raw) == 0 || string(raw) == "null" {
		return params, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		return nil, err
	}
	if params == nil {
		params = map[string]any{}
	}
	return params, nil
}
