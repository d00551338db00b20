package main

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Operations → actions: names in the schema's form, parameters as the
// JSON Schema subset manifests accept, local $refs resolved.

// maxSchemaDepth bounds how deep nested objects are described; deeper
// levels keep their type only (any object / any array). Every level can
// multiply a schema's size, and a manifest is at most 256 KiB.
const maxSchemaDepth = 4

// operation is one operation of the document, in document order.
type operation struct {
	method, path string
	id           string     // operationId, may be empty
	node         *yaml.Node // the operation object
	pathItem     *yaml.Node
	tags         []string
	security     *yaml.Node // the operation's own security, nil when it inherits
}

func (o *operation) label() string {
	l := strings.ToUpper(o.method) + " " + o.path
	if o.id != "" {
		l += " (" + o.id + ")"
	}
	return l
}

// operations lists the document's operations in document order.
func (im *importer) operations() []*operation {
	var ops []*operation
	for _, p := range pairs(field(im.d.root, "paths")) {
		item, err := im.d.deref(p.value)
		if err != nil {
			im.notef(p.keyN, "path %s skipped: %v", p.key, err)
			continue
		}
		for _, m := range pairs(item) {
			switch m.key {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
			default:
				continue
			}
			op := &operation{method: m.key, path: p.key, node: m.value, pathItem: item, id: text(m.value, "operationId"), tags: scalars(field(m.value, "tags"))}
			if s := field(m.value, "security"); s != nil {
				op.security = s
			}
			ops = append(ops, op)
		}
	}
	return ops
}

// action is an action about to be written.
type action struct {
	name, title, description, method, path string
	params                                 *pschema // type object
	query, headers                         []nameValue
	body                                   *yaml.Node // nil: none
	source                                 *operation
}

type nameValue struct{ name, value string }

// skipError says why an operation is not imported.
type skipError struct{ why string }

func (e *skipError) Error() string { return e.why }

func skipf(format string, args ...any) error {
	return &skipError{fmt.Sprintf(format, args...)}
}

// paramNameRE is the schema's pattern for action parameter names.
var paramNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// headerNameRE is the schema's pattern for header and query names.
var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")

// Headers an action cannot set (the gateway's, hop-by-hop, the credential).
var actionForbiddenHeaders = map[string]bool{
	"authorization": true, "host": true, "content-length": true, "transfer-encoding": true, "connection": true,
	"keep-alive": true, "upgrade": true, "te": true, "trailer": true, "proxy-authorization": true,
	"proxy-authenticate": true, "proxy-connection": true, "cookie": true, "set-cookie": true, "content-type": true, "accept": true,
}

// toAction converts one operation; a *skipError says why it cannot be.
func (im *importer) toAction(op *operation, names map[string]bool) (*action, error) {
	method := strings.ToUpper(op.method)
	switch method {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		return nil, skipf("actions are GET, POST, PUT, PATCH or DELETE, not %s", method)
	}
	a := &action{method: method, source: op, params: &pschema{Type: "object", topLevel: true}}
	a.name = uniqueName(actionName(op, im.maxNameLen()), names)
	a.title = truncate(oneLine(text(op.node, "summary")), 200)
	a.description = actionDescription(op)

	used := map[string]bool{} // parameter names taken
	paramNames := map[string]string{}
	params, err := im.parameters(op)
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		pname := uniqueParam(paramName(p.name), used)
		required := p.required || p.in == "path"
		s := p.schema
		if p.description != "" {
			s.Description = truncate(p.description, 4096)
		}
		switch p.in {
		case "path":
			paramNames[p.name] = pname
		case "query":
			a.query = append(a.query, nameValue{p.name, "{{parameters." + pname + "}}"})
		case "header":
			if actionForbiddenHeaders[strings.ToLower(p.name)] || strings.EqualFold(p.name, im.credentialHeader) || !headerNameRE.MatchString(p.name) {
				if required {
					return nil, skipf("it requires the header %s, which an action cannot set", p.name)
				}
				continue
			}
			a.headers = append(a.headers, nameValue{p.name, "{{parameters." + pname + "}}"})
		case "cookie":
			if required {
				return nil, skipf("it requires the cookie %s; actions send no cookies", p.name)
			}
			continue
		default:
			continue
		}
		a.params.add(pname, s, required)
	}
	// The path: every {name} becomes a required parameter.
	path, perr := templatePath(op.path, func(name string) string {
		if pname, ok := paramNames[name]; ok {
			return pname
		}
		pname := uniqueParam(paramName(name), used)
		paramNames[name] = pname
		a.params.add(pname, &pschema{Type: "string", Description: "The " + name + " part of the path (not declared by the document)."}, true)
		return pname
	})
	if perr != nil {
		return nil, perr
	}
	a.path = path
	if err := im.requestBody(op, a, used); err != nil {
		return nil, err
	}
	return a, nil
}

// templatePath turns /pets/{petId} into /pets/{{parameters.petId}}.
func templatePath(path string, param func(string) string) (string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", skipf("its path %q does not start with /", path)
	}
	if strings.Contains(path, "?") || strings.Contains(path, "#") {
		return "", skipf("its path %q has a query or fragment", path)
	}
	var b strings.Builder
	for rest := path; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", skipf("its path %q has an unclosed {", path)
		}
		b.WriteString(rest[:i])
		b.WriteString("{{parameters." + param(rest[i+1:i+j]) + "}}")
		rest = rest[i+j+1:]
	}
	return b.String(), nil
}

// oaParam is an OpenAPI parameter, resolved.
type oaParam struct {
	name, in, description string
	required              bool
	schema                *pschema
}

// parameters merges path-level and operation-level parameters (the
// operation's win) and converts their schemas.
func (im *importer) parameters(op *operation) ([]oaParam, error) {
	var out []oaParam
	index := map[string]int{}
	for _, list := range []*yaml.Node{field(op.pathItem, "parameters"), field(op.node, "parameters")} {
		for _, raw := range items(list) {
			p, err := im.d.deref(raw)
			if err != nil {
				return nil, skipf("a parameter's %v", err)
			}
			op := oaParam{name: text(p, "name"), in: text(p, "in"), description: text(p, "description"), required: isTrue(p, "required")}
			if op.name == "" {
				continue
			}
			schemaNode := field(p, "schema")
			if schemaNode == nil { // content: {media type: {schema}}
				for _, mt := range pairs(field(p, "content")) {
					schemaNode = field(mt.value, "schema")
					break
				}
			}
			im.schemaSteps = 0
			s, err := im.convertSchema(schemaNode, "string", false, 0, nil)
			if err != nil {
				return nil, skipf("parameter %s: %v", op.name, err)
			}
			op.schema = s
			key := op.in + " " + op.name
			if i, dup := index[key]; dup {
				out[i] = op
				continue
			}
			index[key] = len(out)
			out = append(out, op)
		}
	}
	return out, nil
}

// requestBody adds the JSON request body: an object's properties become
// parameters (the body sends each under its own name), anything else one
// parameter named body.
func (im *importer) requestBody(op *operation, a *action, used map[string]bool) error {
	raw := field(op.node, "requestBody")
	if raw == nil {
		return nil
	}
	rb, err := im.d.deref(raw)
	if err != nil {
		return skipf("its request body: %v", err)
	}
	required := isTrue(rb, "required")
	var schemaNode *yaml.Node
	var types []string
	found := false
	for _, mt := range pairs(field(rb, "content")) {
		types = append(types, mt.key)
		if isJSONMediaType(mt.key) && !found {
			schemaNode, found = field(mt.value, "schema"), true
		}
	}
	switch {
	case !found && required:
		return skipf("its request body is %s; actions send JSON", strings.Join(types, ", "))
	case !found:
		im.notef(rb, "%s: its optional request body is %s; the action sends none (actions send JSON)", op.label(), strings.Join(types, ", "))
		return nil
	case a.method == "GET" || a.method == "DELETE":
		if required {
			return skipf("a %s with a request body cannot be an action", a.method)
		}
		im.notef(rb, "%s: its optional request body is left out (a %s action has none)", op.label(), a.method)
		return nil
	}
	im.schemaSteps = 0
	s, err := im.convertSchema(schemaNode, "object", true, 0, nil)
	if err != nil {
		return skipf("its request body: %v", err)
	}
	body := &yaml.Node{Kind: yaml.MappingNode}
	if s.Type == "object" && len(s.Properties) > 0 {
		req := map[string]bool{}
		for _, r := range s.Required {
			req[r] = true
		}
		for _, p := range s.Properties {
			pname := paramName(p.name)
			if used[pname] {
				pname = "body_" + pname
			}
			pname = uniqueParam(pname, used)
			a.params.add(pname, p.schema, required && req[p.name])
			body.Content = append(body.Content, ystr(p.name), ystr("{{parameters."+pname+"}}"))
		}
		a.body = body
		return nil
	}
	pname := uniqueParam("body", used)
	if s.Description == "" {
		s.Description = "The request body."
	}
	a.params.add(pname, s, required)
	a.body = ystr("{{parameters." + pname + "}}")
	return nil
}

func isJSONMediaType(mt string) bool {
	mt = strings.ToLower(strings.TrimSpace(strings.SplitN(mt, ";", 2)[0]))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// pschema is a parameter schema in the subset manifests accept, in the
// order it is written.
type pschema struct {
	Type        string
	Description string
	Enum        []*yaml.Node
	Default     *yaml.Node
	Minimum     *yaml.Node
	Maximum     *yaml.Node
	MinLength   string
	MaxLength   string
	Pattern     string
	Items       *pschema
	MinItems    string
	MaxItems    string
	Properties  []namedSchema
	Required    []string
	// topLevel marks an action's parameters, which always list properties
	// (the manifest schema requires the key).
	topLevel bool
}

type namedSchema struct {
	name   string
	schema *pschema
}

func (s *pschema) add(name string, sub *pschema, required bool) {
	s.Properties = append(s.Properties, namedSchema{name, sub})
	if required {
		s.Required = append(s.Required, name)
	}
}

// scalarTags are the YAML tags a value of each JSON type may have.
var scalarTags = map[string][]string{
	"string":  {"!!str"},
	"integer": {"!!int"},
	"number":  {"!!int", "!!float"},
	"boolean": {"!!bool"},
}

// maxSchemaSteps bounds the schemas convertSchema visits for one
// parameter or request body.
const maxSchemaSteps = 20_000

// convertSchema converts an OpenAPI schema (3.0 or 3.1) to the subset:
// $refs resolved (a cycle ends in the type alone), allOf merged, the first
// branch of oneOf/anyOf taken, 3.1 type lists reduced to one non-null
// type, read-only properties left out of request bodies, and keywords
// outside the subset dropped. fallback is the type of a schema that names
// none.
func (im *importer) convertSchema(n *yaml.Node, fallback string, body bool, depth int, stack []string) (*pschema, error) {
	if n == nil {
		return &pschema{Type: fallback}, nil
	}
	// Shared $refs and allOf can make a small document's schema
	// exponentially large (A: {allOf: [$ref B, $ref B]}, B: …): past a
	// budget the operation is skipped instead of hanging the import.
	if im.schemaSteps++; im.schemaSteps > maxSchemaSteps {
		return nil, fmt.Errorf("its schema expands to more than %d parts (shared $refs or allOf nest too deeply)", maxSchemaSteps)
	}
	if ref := field(n, "$ref"); ref != nil {
		for _, seen := range stack {
			if seen == ref.Value {
				return &pschema{Type: im.guessType(n, fallback)}, nil
			}
		}
		stack = append(stack, ref.Value)
	}
	n, err := im.d.deref(n)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode { // true/false schemas (3.1)
		return &pschema{Type: fallback}, nil
	}
	if all := items(field(n, "allOf")); len(all) > 0 {
		merged := &pschema{Type: "object"}
		for _, part := range all {
			ps, err := im.convertSchema(part, "object", body, depth, stack)
			if err != nil {
				return nil, err
			}
			if ps.Type != "object" {
				merged = ps
				continue
			}
			merged.Properties = append(merged.Properties, ps.Properties...)
			merged.Required = append(merged.Required, ps.Required...)
			if merged.Description == "" {
				merged.Description = ps.Description
			}
		}
		if d := text(n, "description"); d != "" {
			merged.Description = truncate(d, 4096)
		}
		merged.Required = dedupe(merged.Required)
		return merged, nil
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		var branches []*yaml.Node
		for _, b := range items(field(n, k)) {
			if bb, err := im.d.deref(b); err == nil && typeName(bb) != "null" {
				branches = append(branches, b)
			}
		}
		if len(branches) > 0 {
			ps, err := im.convertSchema(branches[0], fallback, body, depth, stack)
			if err != nil {
				return nil, err
			}
			if d := text(n, "description"); d != "" {
				ps.Description = truncate(d, 4096)
			}
			if len(branches) > 1 {
				ps.Description = strings.TrimSpace(ps.Description + " (The API also accepts other shapes; this is the first it lists.)")
			}
			return ps, nil
		}
	}
	s := &pschema{Type: typeName(n), Description: truncate(text(n, "description"), 4096)}
	if s.Type == "" || s.Type == "null" {
		s.Type = im.guessType(n, fallback)
	}
	if f := text(n, "format"); f != "" && !trivialFormats[f] {
		s.Description = strings.TrimSpace(s.Description + " Format: " + f + ".")
	}
	allowed := scalarTags[s.Type]
	for _, v := range items(field(n, "enum")) {
		if v.Kind == yaml.ScalarNode && tagIn(v, allowed, s.Type) {
			s.Enum = append(s.Enum, scalarCopy(v, s.Type))
		}
	}
	if v := field(n, "default"); v != nil && v.Kind == yaml.ScalarNode && tagIn(v, allowed, s.Type) {
		s.Default = scalarCopy(v, s.Type)
	}
	switch s.Type {
	case "integer", "number":
		for _, k := range []string{"minimum", "maximum"} {
			if v := field(n, k); v != nil && (v.Tag == "!!int" || v.Tag == "!!float") {
				if k == "minimum" {
					s.Minimum = scalarCopy(v, "")
				} else {
					s.Maximum = scalarCopy(v, "")
				}
			}
		}
	case "string":
		s.MinLength, s.MaxLength = nonNegInt(field(n, "minLength")), nonNegInt(field(n, "maxLength"))
		if p := text(n, "pattern"); p != "" && len(p) <= 1024 {
			if _, err := syntax.Parse(p, syntax.Perl); err == nil {
				s.Pattern = p
			}
		}
	case "array":
		s.MinItems, s.MaxItems = nonNegInt(field(n, "minItems")), nonNegInt(field(n, "maxItems"))
		if it := field(n, "items"); it != nil && depth < maxSchemaDepth {
			sub, err := im.convertSchema(it, "string", body, depth+1, stack)
			if err != nil {
				return nil, err
			}
			s.Items = sub
		}
	case "object":
		if depth >= maxSchemaDepth {
			break
		}
		required := map[string]bool{}
		for _, r := range scalars(field(n, "required")) {
			required[r] = true
		}
		var bad []string
		for _, p := range pairs(field(n, "properties")) {
			if !paramNameRE.MatchString(p.key) {
				bad = append(bad, p.key)
				continue
			}
			pn, err := im.d.deref(p.value)
			if err != nil {
				return nil, err
			}
			if body && isTrue(pn, "readOnly") {
				continue // the API sets it; a request does not send it
			}
			sub, err := im.convertSchema(p.value, "object", body, depth+1, stack)
			if err != nil {
				return nil, err
			}
			s.add(p.key, sub, required[p.key])
		}
		if len(bad) > 0 {
			// Names the subset cannot declare: describe the object loosely,
			// so that what the API accepts stays sendable.
			s.Properties, s.Required = nil, nil
			s.Description = strings.TrimSpace(s.Description + " Properties as in the API's documentation (names such as " + strconv.Quote(bad[0]) + " cannot be declared here).")
		}
	}
	return s, nil
}

// guessType is the type of a schema that names none.
func (im *importer) guessType(n *yaml.Node, fallback string) string {
	switch {
	case field(n, "properties") != nil || field(n, "additionalProperties") != nil:
		return "object"
	case field(n, "items") != nil:
		return "array"
	}
	if e := items(field(n, "enum")); len(e) > 0 {
		switch e[0].Tag {
		case "!!int":
			return "integer"
		case "!!float":
			return "number"
		case "!!bool":
			return "boolean"
		case "!!str":
			return "string"
		}
	}
	return fallback
}

// typeName is a schema's type: 3.0's string, or 3.1's list reduced to its
// first type other than null.
func typeName(n *yaml.Node) string {
	t := field(n, "type")
	if t == nil {
		return ""
	}
	if t.Kind == yaml.ScalarNode {
		return checkedType(t.Value)
	}
	for _, v := range scalars(t) {
		if v != "null" {
			return checkedType(v)
		}
	}
	return "null"
}

func checkedType(t string) string {
	switch t {
	case "string", "integer", "number", "boolean", "array", "object", "null":
		return t
	}
	return ""
}

var trivialFormats = map[string]bool{"int32": true, "int64": true, "float": true, "double": true, "string": true}

// tagIn reports whether scalar v fits a type; strings accept any scalar
// but null (an unquoted 12345 in a string enum is still the string).
func tagIn(v *yaml.Node, tags []string, typ string) bool {
	if v.Tag == "!!null" {
		return false
	}
	if typ == "string" {
		return true
	}
	for _, t := range tags {
		if v.Tag == t {
			return true
		}
	}
	return false
}

func scalarCopy(v *yaml.Node, typ string) *yaml.Node {
	c := &yaml.Node{Kind: yaml.ScalarNode, Tag: v.Tag, Value: v.Value}
	if typ == "string" {
		c.Tag = "!!str"
	}
	return c
}

func nonNegInt(v *yaml.Node) string {
	if v == nil || v.Tag != "!!int" {
		return ""
	}
	if n, err := strconv.Atoi(v.Value); err != nil || n < 0 {
		return ""
	}
	return v.Value
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// actionName is the action's name: the operationId in snake case, or the
// method and path ("get_pets_pet_id"), cut to fit the tool name limit.
func actionName(op *operation, maxLen int) string {
	src := op.id
	if src == "" {
		src = op.method + " " + op.path
	}
	name := snakeCase(src)
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "op_" + name
	}
	return strings.TrimRight(truncate(name, maxLen), "_")
}

// snakeCase: "getPetById" → "get_pet_by_id", "list-data-sets" →
// "list_data_sets", "/pets/{petId}" → "pets_pet_id".
func snakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	under := false
	for i, r := range rs {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			upper := unicode.IsUpper(r)
			if upper && i > 0 && b.Len() > 0 && !under {
				prevLower := unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if prevLower || (unicode.IsUpper(rs[i-1]) && nextLower) {
					b.WriteByte('_')
				}
			}
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			under = false
		default:
			under = true
		}
	}
	return b.String()
}

// paramName makes a name fit the schema's parameter names.
func paramName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "_")
	if out == "" || !unicode.IsLetter(rune(out[0])) {
		out = "p_" + out
	}
	return truncate(out, 64)
}

func uniqueParam(name string, used map[string]bool) string {
	out := name
	for i := 2; used[out]; i++ {
		suffix := "_" + strconv.Itoa(i)
		out = truncate(name, 64-len(suffix)) + suffix
	}
	used[out] = true
	return out
}

func uniqueName(name string, used map[string]bool) string {
	out := name
	for i := 2; used[out]; i++ {
		suffix := "_" + strconv.Itoa(i)
		out = truncate(name, len(name)-len(suffix)) + suffix
	}
	used[out] = true
	return out
}

// actionDescription is what agents read: the description, else the
// summary, else the method and path.
func actionDescription(op *operation) string {
	d := strings.TrimSpace(text(op.node, "description"))
	if d == "" {
		d = strings.TrimSpace(text(op.node, "summary"))
	}
	if d == "" {
		d = strings.ToUpper(op.method) + " " + op.path
	}
	return truncate(d, 4096)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// node writes the schema in the manifest's order: type first, then what
// documents it, then constraints, then nested schemas. Leaves are written
// in flow style, as hand-written manifests do.
func (s *pschema) node() *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	put := func(k string, v *yaml.Node) { m.Content = append(m.Content, ystr(k), v) }
	put("type", ystr(s.Type))
	if s.Description != "" {
		put("description", ystr(s.Description))
	}
	if len(s.Enum) > 0 {
		put("enum", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: s.Enum})
	}
	if s.Default != nil {
		put("default", s.Default)
	}
	for _, kv := range []struct {
		k string
		v *yaml.Node
	}{{"minimum", s.Minimum}, {"maximum", s.Maximum}} {
		if kv.v != nil {
			put(kv.k, kv.v)
		}
	}
	for _, kv := range []struct{ k, v string }{{"minLength", s.MinLength}, {"maxLength", s.MaxLength}} {
		if kv.v != "" {
			put(kv.k, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: kv.v})
		}
	}
	if s.Pattern != "" {
		put("pattern", ystr(s.Pattern))
	}
	if s.Items != nil {
		put("items", s.Items.node())
	}
	for _, kv := range []struct{ k, v string }{{"minItems", s.MinItems}, {"maxItems", s.MaxItems}} {
		if kv.v != "" {
			put(kv.k, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: kv.v})
		}
	}
	if len(s.Properties) > 0 || s.topLevel {
		props := &yaml.Node{Kind: yaml.MappingNode}
		for _, p := range s.Properties {
			props.Content = append(props.Content, ystr(p.name), p.schema.node())
		}
		put("properties", props)
	}
	if len(s.Required) > 0 {
		req := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, r := range s.Required {
			req.Content = append(req.Content, ystr(r))
		}
		put("required", req)
	}
	if s.Items == nil && len(s.Properties) == 0 && !s.topLevel && len(s.Description) < 100 {
		m.Style = yaml.FlowStyle
	}
	return m
}

func ystr(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}
