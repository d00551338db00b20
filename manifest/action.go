package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
)

// Action is one compiled entry of a manifest's actions: a named request to
// the API, built from typed parameters. Immutable once built.
type Action struct {
	Name        string // as in the manifest, e.g. create_issue
	Tool        string // <integration id>-<name>: the name agents call it by
	Title       string
	Description string
	Method      string
	Path        *Template // relative to api.baseUrl; parameters only, all required
	Query       []NamedTemplate
	Headers     []NamedTemplate
	Body        *BodyTemplate // nil: no body
	// Output is a JSON pointer into the response ("": all of it).
	Output string
	// Schema is the parameters' JSON Schema as served to agents (with
	// additionalProperties: false on every object that lists properties).
	Schema json.RawMessage

	schema   *jsonschema.Schema
	required map[string]bool
}

// NamedTemplate is a query parameter or header of an action.
type NamedTemplate struct {
	Name  string
	Value *Template
}

// BodyTemplate is an action's JSON body: literal JSON values, templates
// rendered as strings, and whole references replaced by typed values.
type BodyTemplate struct {
	literal any             // a JSON value without strings to render
	text    *Template       // a string with references
	whole   *Ref            // a string that is exactly one reference
	object  []bodyMember    // an object, in manifest order
	array   []*BodyTemplate // an array
	isObj   bool
	isArr   bool
}

type bodyMember struct {
	name  string
	value *BodyTemplate
}

// MaxToolName is the longest tool name OpenAI, Anthropic and MCP clients
// all accept.
const MaxToolName = 64

type rawAction struct {
	Name        string            `yaml:"name"`
	Title       string            `yaml:"title"`
	Description string            `yaml:"description"`
	Method      string            `yaml:"method"`
	Path        string            `yaml:"path"`
	Parameters  yaml.Node         `yaml:"parameters"`
	Query       map[string]string `yaml:"query"`
	Headers     map[string]string `yaml:"headers"`
	Body        yaml.Node         `yaml:"body"`
	Output      string            `yaml:"output"`
}

func (c *compiler) actions(integrationID string, raws []rawAction) []*Action {
	var out []*Action
	seen := map[string]bool{}
	for i, r := range raws {
		ptr := "/actions/" + strconv.Itoa(i)
		if seen[r.Name] {
			c.errorf(ptr+"/name", "action names must be unique within the manifest", "action %q is declared twice", r.Name)
			continue
		}
		seen[r.Name] = true
		if a := c.action(ptr, integrationID, &r); a != nil {
			out = append(out, a)
		}
	}
	return out
}

func (c *compiler) action(ptr, integrationID string, r *rawAction) *Action {
	a := &Action{Name: r.Name, Tool: integrationID + "-" + r.Name, Title: orDefault(r.Title, r.Name),
		Description: r.Description, Method: r.Method, Output: r.Output}
	before := len(c.probs.Errors())
	if len(a.Tool) > MaxToolName {
		c.errorf(ptr+"/name", fmt.Sprintf("shorten the name to at most %d characters", MaxToolName-len(integrationID)-1),
			"the tool name %q is longer than %d characters", a.Tool, MaxToolName)
	}
	a.Schema, a.schema, a.required = c.parameters(ptr + "/parameters")
	c.actionParams = a.required
	defer func() { c.actionParams = nil }()

	if t := c.template(ptr+"/path", r.Path, false); t != nil {
		switch err := compilePath(t); {
		case err != nil:
			msg := strings.TrimSuffix(err.Error(), " or an absolute URL") // actions take paths only
			c.errorf(ptr+"/path", "a path relative to api.baseUrl, e.g. /repos/{{parameters.owner}}/issues", "%s", msg)
		case strings.ContainsAny(skeleton(t), "?"):
			c.errorf(ptr+"/path", "put query parameters under query", "an action's path has no query")
		default:
			for _, ref := range t.Refs() {
				if ref.Namespace == NSParameters && !a.required[ref.Key] {
					c.errorf(ptr+"/path", "add "+ref.Key+" to parameters.required", "path parameter %q must be required", ref.Key)
				}
			}
			a.Path = t
		}
	}
	for _, name := range sortedStringKeys(r.Query) {
		vp := ptr + "/query/" + escapePointer(name)
		if t := c.template(vp, r.Query[name], false); t != nil {
			t.setEscaping(escRaw) // encoded as a query component when sent
			a.Query = append(a.Query, NamedTemplate{Name: name, Value: t})
		}
	}
	for _, name := range sortedStringKeys(r.Headers) {
		hp := ptr + "/headers/" + escapePointer(name)
		if lower := strings.ToLower(name); managedHeaders[lower] || lower == "authorization" {
			c.keyErrorf(hp, "the gateway sets it; the credential comes from api.authorization", "header %q cannot be set by an action", name)
			continue
		}
		c.checkText(hp, r.Headers[name])
		if t := c.template(hp, r.Headers[name], false); t != nil {
			a.Headers = append(a.Headers, NamedTemplate{Name: name, Value: t})
		}
	}
	if r.Body.Kind != 0 {
		if r.Method == "GET" || r.Method == "DELETE" {
			c.keyErrorf(ptr+"/body", "send parameters of a "+r.Method+" in query", "a %s action has no body", r.Method)
		} else {
			a.Body = c.body(ptr+"/body", valueAt(c.d.value, ptr+"/body"))
		}
	}
	if len(c.probs.Errors()) > before {
		return nil
	}
	return a
}

// parameters checks an action's parameter schema beyond what the manifest
// schema says (declared required names, keywords that fit the type) and
// compiles the schema served to agents.
func (c *compiler) parameters(ptr string) (json.RawMessage, *jsonschema.Schema, map[string]bool) {
	root, _ := valueAt(c.d.value, ptr).(map[string]any)
	if root == nil {
		root = map[string]any{"type": "object", "properties": map[string]any{}}
	}
	ok := c.checkParameter(ptr, root)
	required := map[string]bool{}
	props, _ := root["properties"].(map[string]any)
	for name := range props {
		required[name] = false
	}
	for _, v := range asSlice(root["required"]) {
		if s, isStr := v.(string); isStr {
			required[s] = true
		}
	}
	served, _ := json.Marshal(closeObjects(root))
	if !ok {
		return served, nil, required
	}
	comp := jsonschema.NewCompiler()
	comp.Draft = jsonschema.Draft2020
	url := "https://plugboard.invalid/action-parameters.json"
	var schema *jsonschema.Schema
	err := comp.AddResource(url, bytes.NewReader(served))
	if err == nil {
		schema, err = comp.Compile(url)
	}
	if err != nil {
		c.errorf(ptr, "", "the parameters are not a valid JSON Schema: %v", err)
		return served, nil, required
	}
	return served, schema, required
}

var jsonTypeOf = map[string]func(any) bool{
	"string":  func(v any) bool { _, ok := v.(string); return ok },
	"boolean": func(v any) bool { _, ok := v.(bool); return ok },
	"number":  func(v any) bool { _, ok := v.(json.Number); return ok },
	"integer": func(v any) bool {
		n, ok := v.(json.Number)
		_, err := strconv.ParseInt(string(n), 10, 64)
		return ok && err == nil
	},
}

// checkParameter checks one schema node of the supported subset (the
// manifest schema has checked its keywords and their types).
func (c *compiler) checkParameter(ptr string, node map[string]any) bool {
	ok := true
	typ, _ := node["type"].(string)
	only := func(keyword string, types ...string) {
		if _, set := node[keyword]; set && !contains(types, typ) {
			c.keyErrorf(ptr+"/"+keyword, "it applies to type "+strings.Join(types, " or "), "%q does not apply to type %s", keyword, typ)
			ok = false
		}
	}
	only("items", "array")
	only("minItems", "array")
	only("maxItems", "array")
	only("properties", "object")
	only("required", "object")
	only("minimum", "number", "integer")
	only("maximum", "number", "integer")
	only("minLength", "string")
	only("maxLength", "string")
	only("pattern", "string")
	if is := jsonTypeOf[typ]; is != nil {
		for i, v := range asSlice(node["enum"]) {
			if !is(v) {
				c.errorf(ptr+"/enum/"+strconv.Itoa(i), "", "enum value %v is not of type %s", v, typ)
				ok = false
			}
		}
		if d, set := node["default"]; set && !is(d) {
			c.errorf(ptr+"/default", "", "default %v is not of type %s", d, typ)
			ok = false
		}
	}
	if p, isStr := node["pattern"].(string); isStr {
		if _, err := syntax.Parse(p, syntax.Perl); err != nil {
			c.errorf(ptr+"/pattern", "patterns use RE2 syntax (no lookaround or backreferences)", "invalid regular expression: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			ok = false
		}
	}
	props, _ := node["properties"].(map[string]any)
	for i, v := range asSlice(node["required"]) {
		if name, isStr := v.(string); isStr {
			if _, declared := props[name]; !declared {
				hint := didYouMean(name, sortedKeys(props))
				if hint == "" {
					hint = "declare it under properties"
				}
				c.errorf(ptr+"/required/"+strconv.Itoa(i), hint, "required parameter %q is not declared", name)
				ok = false
			}
		}
	}
	for _, name := range sortedKeys(props) {
		if sub, isMap := props[name].(map[string]any); isMap {
			ok = c.checkParameter(ptr+"/properties/"+escapePointer(name), sub) && ok
		}
	}
	if items, isMap := node["items"].(map[string]any); isMap {
		ok = c.checkParameter(ptr+"/items", items) && ok
	}
	return ok
}

// closeObjects returns a copy of a schema node in which every object that
// lists properties refuses others: agents see exactly what is accepted.
func closeObjects(node map[string]any) map[string]any {
	out := make(map[string]any, len(node)+1)
	for k, v := range node {
		out[k] = v
	}
	if props, ok := node["properties"].(map[string]any); ok {
		closed := make(map[string]any, len(props))
		for name, sub := range props {
			if m, isMap := sub.(map[string]any); isMap {
				closed[name] = closeObjects(m)
			} else {
				closed[name] = sub
			}
		}
		out["properties"] = closed
		out["additionalProperties"] = false
	}
	if items, ok := node["items"].(map[string]any); ok {
		out["items"] = closeObjects(items)
	}
	return out
}

// body compiles an action's body from its JSON value.
func (c *compiler) body(ptr string, v any) *BodyTemplate {
	switch v := v.(type) {
	case map[string]any:
		b := &BodyTemplate{isObj: true}
		names := make([]string, 0, len(v))
		for name := range v {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if sub := c.body(ptr+"/"+escapePointer(name), v[name]); sub != nil {
				b.object = append(b.object, bodyMember{name, sub})
			}
		}
		return b
	case []any:
		b := &BodyTemplate{isArr: true}
		for i, item := range v {
			if sub := c.body(ptr+"/"+strconv.Itoa(i), item); sub != nil {
				b.array = append(b.array, sub)
			}
		}
		return b
	case string:
		t := c.template(ptr, v, false)
		switch {
		case t == nil:
			return nil
		case t.IsLiteral():
			return &BodyTemplate{literal: v}
		case len(t.parts) == 1:
			return &BodyTemplate{whole: t.parts[0].ref}
		}
		t.setEscaping(escRaw) // JSON-encoded when sent
		return &BodyTemplate{text: t}
	}
	return &BodyTemplate{literal: v}
}

// setEscaping sets how every reference of t is written.
func (t *Template) setEscaping(e escaping) {
	for i := range t.parts {
		t.parts[i].esc = e
	}
}

func sortedBoolKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
