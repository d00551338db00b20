package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/plugboardhq/plugboard/schemas"
)

// schemaSet is a compiled JSON Schema with its raw form, from which errors
// take their hints (the field descriptions).
type schemaSet struct {
	compiled *jsonschema.Schema
	raw      map[string]any
}

func lazySchema(url string, data []byte) func() (*schemaSet, error) {
	return sync.OnceValues(func() (*schemaSet, error) {
		set := &schemaSet{}
		if err := json.Unmarshal(data, &set.raw); err != nil {
			return nil, fmt.Errorf("embedded schema %s: %w", url, err)
		}
		c := jsonschema.NewCompiler()
		c.Draft = jsonschema.Draft2020
		if err := c.AddResource(url, bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("embedded schema %s: %w", url, err)
		}
		var err error
		set.compiled, err = c.Compile(url)
		return set, err
	})
}

var (
	integrationSchema = lazySchema(schemas.IntegrationURL, schemas.Integration)
	configSchema      = lazySchema(schemas.ConfigURL, schemas.Config)
)

// checkSchema validates the document against the embedded JSON Schema and
// translates every failing leaf into a located, readable problem.
func checkSchema(d *document, schema func() (*schemaSet, error)) Problems {
	set, err := schema()
	if err != nil {
		return Problems{{File: d.file, Message: err.Error(), Severity: Error}}
	}
	err = set.compiled.Validate(d.value)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return Problems{{File: d.file, Message: err.Error(), Severity: Error}}
	}
	var out Problems
	seen := map[string]bool{}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			for _, p := range translate(d, set, e) {
				key := p.Path + "\x00" + p.Message
				if !seen[key] {
					seen[key] = true
					out = append(out, p)
				}
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

var quotedRE = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)

func translate(d *document, set *schemaSet, e *jsonschema.ValidationError) Problems {
	keyword := e.KeywordLocation[strings.LastIndexByte(e.KeywordLocation, '/')+1:]
	schemaPtr := e.AbsoluteKeywordLocation[strings.IndexByte(e.AbsoluteKeywordLocation, '#')+1:]
	parent := set.at(schemaPtr[:max(strings.LastIndexByte(schemaPtr, '/'), 0)])
	loc := e.InstanceLocation
	switch keyword {
	case "additionalProperties":
		allowed := sortedKeys(parent["properties"])
		var ps Problems
		for _, m := range quotedRE.FindAllStringSubmatch(e.Message, -1) {
			name := m[1]
			hint := didYouMean(name, allowed)
			if hint == "" && len(allowed) > 0 {
				hint = "allowed here: " + strings.Join(allowed, ", ")
			}
			ps = append(ps, d.keyProblem(loc+"/"+escapePointer(name), fmt.Sprintf("unknown field %q", name), hint))
		}
		return ps
	case "required":
		var ps Problems
		for _, m := range quotedRE.FindAllStringSubmatch(e.Message, -1) {
			msg := fmt.Sprintf("missing required field %q", m[1])
			hint := ""
			if strings.Contains(e.KeywordLocation, "/then/") {
				hint = "required by the value of \"type\" here"
			}
			if desc := firstSentence(set.at(schemaPtr[:strings.LastIndexByte(schemaPtr, '/')] + "/properties/" + m[1])); desc != "" && hint == "" {
				hint = desc
			}
			ps = append(ps, d.problem(loc, msg, hint))
		}
		return ps
	case "enum", "const":
		var values []string
		for _, v := range asSlice(parent["enum"]) {
			values = append(values, fmt.Sprint(v))
		}
		got := fmt.Sprint(valueAt(d.value, loc))
		hint := didYouMean(got, values)
		if hint == "" {
			hint = "one of: " + strings.Join(values, ", ")
		}
		return Problems{d.problem(loc, fmt.Sprintf("%q is not an allowed value", got), hint)}
	case "type":
		return Problems{d.problem(loc, strings.Replace(e.Message, "expected ", "must be ", 1), firstSentence(parent))}
	case "pattern":
		if strings.HasSuffix(schemaPtr, "/propertyNames/pattern") {
			name := loc[strings.LastIndexByte(loc, '/')+1:]
			return Problems{d.keyProblem(loc, fmt.Sprintf("invalid name %q", name), "names may contain letters, digits and - _ . ~")}
		}
		hint := patternHints[schemaPtr]
		if hint == "" {
			hint = firstSentence(parent)
		}
		if parent["pattern"] == secretRefPattern {
			// A literal where a secret reference belongs is likely the
			// secret itself: never repeat it.
			return Problems{d.problem(loc, "not a secret reference (the value is not shown)", "use ${ENV_NAME} or ${file:path}")}
		}
		return Problems{d.problem(loc, fmt.Sprintf("value %q has the wrong form", fmt.Sprint(valueAt(d.value, loc))), hint)}
	case "minLength":
		if strings.Contains(e.Message, ">= 1,") {
			return Problems{d.problem(loc, "must not be empty", firstSentence(parent))}
		}
	}
	return Problems{d.problem(loc, e.Message, firstSentence(parent))}
}

// schemaAt navigates the raw schema by a JSON pointer, following a $ref at
// the end so that descriptions and properties of referenced definitions are found.
func (set *schemaSet) at(pointer string) map[string]any {
	var cur any = set.raw
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			if _, ok := c[tok]; !ok {
				if ref, ok := c["$ref"].(string); ok {
					c = set.at(strings.TrimPrefix(ref, "#"))
				}
			}
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	m, _ := cur.(map[string]any)
	if ref, ok := m["$ref"].(string); ok && m["properties"] == nil {
		merged := map[string]any{}
		for k, v := range set.at(strings.TrimPrefix(ref, "#")) {
			merged[k] = v
		}
		for k, v := range m {
			merged[k] = v
		}
		return merged
	}
	return m
}

func valueAt(v any, pointer string) any {
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := v.(type) {
		case map[string]any:
			v = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

func sortedKeys(v any) []string {
	m, _ := v.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// patternHints say what a schema pattern accepts where the first sentence
// of the field's description does not.
var patternHints = map[string]string{
	"/properties/id/pattern":      "lower-case letters, digits and hyphens, starting with a letter or digit, at most 63 characters",
	"/$defs/scopes/items/pattern": "a scope has no spaces; write each scope as its own list item",
}

// firstSentence returns the first sentence of a schema node's description,
// used as the hint of schema errors: the schema is the documentation.
func firstSentence(node map[string]any) string {
	desc, _ := node["description"].(string)
	for from := 0; ; {
		i := strings.Index(desc[from:], ". ")
		if i < 0 {
			break
		}
		end := from + i + 1
		if !strings.HasSuffix(desc[:end], "e.g.") && !strings.HasSuffix(desc[:end], "i.e.") {
			desc = desc[:end]
			break
		}
		from = end
	}
	return strings.ReplaceAll(desc, "`", "")
}

// secretRefPattern is the schemas' pattern of a value that must be a
// secret reference (adminToken, webhooks' secret).
const secretRefPattern = `^\$\{.+\}$`
