package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// ParameterError is one parameter a caller passed (or left out) that the
// action's schema refuses.
type ParameterError struct {
	Parameter string `json:"parameter"` // dotted path, e.g. labels[0]; the action's name for the whole
	Message   string `json:"message"`
}

var quotedNameRE = regexp.MustCompile(`'([^']*)'`)

// Check validates parameters (decoded with json.Decoder.UseNumber) against
// the action's schema and names each parameter that is wrong.
func (a *Action) Check(params map[string]any) []ParameterError {
	if params == nil {
		params = map[string]any{}
	}
	if a.schema == nil {
		return []ParameterError{{Parameter: a.Tool, Message: "the action's parameter schema did not compile"}}
	}
	err := a.schema.Validate(params)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []ParameterError{{Parameter: a.Tool, Message: err.Error()}}
	}
	var out []ParameterError
	seen := map[string]bool{}
	add := func(p ParameterError) {
		if k := p.Parameter + "\x00" + p.Message; !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		keyword := e.KeywordLocation[strings.LastIndexByte(e.KeywordLocation, '/')+1:]
		at := jsonPath(e.InstanceLocation)
		prefix := at
		if prefix != "" {
			prefix += "."
		}
		switch keyword {
		case "required":
			for _, m := range quotedNameRE.FindAllStringSubmatch(e.Message, -1) {
				add(ParameterError{Parameter: prefix + m[1], Message: "is required"})
			}
		case "additionalProperties":
			for _, m := range quotedNameRE.FindAllStringSubmatch(e.Message, -1) {
				add(ParameterError{Parameter: prefix + m[1], Message: "is not a parameter of " + a.Tool})
			}
		default:
			if at == "" {
				at = a.Tool
			}
			add(ParameterError{Parameter: at, Message: strings.Replace(e.Message, "expected ", "must be ", 1)})
		}
	}
	walk(ve)
	return out
}

// NameValue is a rendered query parameter or header.
type NameValue struct{ Name, Value string }

// ActionRequest is an action rendered with a call's parameters: what the
// gateway sends through the proxy.
type ActionRequest struct {
	Method  string
	Path    string // escaped, relative to api.baseUrl
	Query   []NameValue
	Headers []NameValue
	Body    []byte // JSON; nil without a body
}

// Render builds the request for parameters that Check accepted. A query
// parameter, header or body member that refers to a parameter the caller
// left out is left out.
func (a *Action) Render(params map[string]any) (*ActionRequest, error) {
	text := make(map[string]string, len(params))
	for k, v := range params {
		s, err := paramText(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		text[k] = s
	}
	vars := Vars{Parameters: text}
	req := &ActionRequest{Method: a.Method}
	var err error
	if req.Path, err = a.Path.Render(vars); err != nil {
		return nil, err
	}
	for _, set := range []struct {
		from []NamedTemplate
		to   *[]NameValue
	}{{a.Query, &req.Query}, {a.Headers, &req.Headers}} {
		for _, nt := range set.from {
			if !allPresent(nt.Value.Refs(), text) {
				continue
			}
			v, err := nt.Value.Render(vars)
			if err != nil {
				return nil, err
			}
			*set.to = append(*set.to, NameValue{nt.Name, v})
		}
	}
	if a.Body != nil {
		v, _, err := a.Body.render(params, vars)
		if err != nil {
			return nil, err
		}
		if req.Body, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	return req, nil
}

func allPresent(refs []Ref, have map[string]string) bool {
	for _, r := range refs {
		if _, ok := have[r.Key]; !ok {
			return false
		}
	}
	return true
}

// render returns the body's value; ok is false when it refers to a
// parameter the caller left out (its member is then omitted).
func (b *BodyTemplate) render(params map[string]any, vars Vars) (v any, ok bool, err error) {
	switch {
	case b.whole != nil:
		v, ok = params[b.whole.Key]
		return v, ok, nil
	case b.text != nil:
		if !allPresent(b.text.Refs(), vars.Parameters) {
			return nil, false, nil
		}
		s, err := b.text.Render(vars)
		return s, err == nil, err
	case b.isObj:
		obj := map[string]any{}
		for _, m := range b.object {
			v, ok, err := m.value.render(params, vars)
			if err != nil {
				return nil, false, err
			}
			if ok {
				obj[m.name] = v
			}
		}
		return obj, true, nil
	case b.isArr:
		arr := []any{}
		for _, item := range b.array {
			v, ok, err := item.render(params, vars)
			if err != nil {
				return nil, false, err
			}
			if ok {
				arr = append(arr, v)
			}
		}
		return arr, true, nil
	}
	return b.literal, true, nil
}

// paramText is a parameter's value where text is needed (path, query,
// header, a string in the body): strings as they are, numbers and booleans
// as JSON writes them, arrays of those comma-separated, anything else as JSON.
func paramText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, item := range v {
			switch item.(type) {
			case map[string]any, []any:
				b, err := json.Marshal(v)
				return string(b), err
			}
			s, err := paramText(item)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}
