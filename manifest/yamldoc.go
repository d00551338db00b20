package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits on one manifest file. They keep a hostile or broken file from
// costing more than a normal one: real manifests are a few KB.
const (
	MaxManifestBytes = 256 << 10 // one manifest file
	maxNodes         = 20000     // YAML nodes after alias expansion (alias bombs)
	maxDepth         = 64        // nesting
)

// document is a parsed manifest: the generic value the JSON Schema checks,
// and an index from JSON pointers back to YAML positions.
type document struct {
	file  string
	root  *yaml.Node
	value any
	nodes map[string]*yaml.Node // pointer → value node
	keys  map[string]*yaml.Node // pointer → key node of a mapping entry
}

// pos returns the line and column of the value at pointer, walking up to the
// nearest ancestor that exists (a missing field is reported on its parent).
func (d *document) pos(pointer string) (int, int) {
	for {
		if n, ok := d.nodes[pointer]; ok {
			return n.Line, n.Column
		}
		if pointer == "" {
			return 1, 1
		}
		pointer = pointer[:strings.LastIndexByte(pointer, '/')]
	}
}

// keyPos is like pos but prefers the position of the key of a mapping entry.
func (d *document) keyPos(pointer string) (int, int) {
	if n, ok := d.keys[pointer]; ok {
		return n.Line, n.Column
	}
	return d.pos(pointer)
}

func (d *document) problem(pointer, msg, hint string) Problem {
	line, col := d.pos(pointer)
	return Problem{File: d.file, Line: line, Column: col, Path: jsonPath(pointer), Message: msg, Hint: hint, Severity: Error}
}

func (d *document) keyProblem(pointer, msg, hint string) Problem {
	p := d.problem(pointer, msg, hint)
	p.Line, p.Column = d.keyPos(pointer)
	return p
}

var yamlLineRE = regexp.MustCompile(`(?s)^(?:yaml: )?(?:line (\d+): )?(.*)$`)

// yamlParserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner), whose line numbers it reports counted from 0.
var yamlParserProblems = []string{
	"did not find expected ',' or", "did not find expected '-' indicator", "did not find expected <",
	"did not find expected key", "did not find expected node content", "found duplicate %",
	"found incompatible YAML document", "found undefined tag handle",
}

// parseDocument decodes exactly one YAML document into a document. Every
// failure is returned as a located problem.
func parseDocument(file string, data []byte) (*document, Problems) {
	fail := func(line, col int, msg, hint string) (*document, Problems) {
		return nil, Problems{{File: file, Line: line, Column: col, Message: msg, Hint: hint, Severity: Error}}
	}
	if len(data) > MaxManifestBytes {
		return fail(0, 0, fmt.Sprintf("file is %d bytes, more than the %d allowed for a manifest", len(data), MaxManifestBytes), "move large icons to their own .svg file")
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		start := bytes.LastIndexByte(data[:i], '\n') + 1
		line := bytes.Count(data[:start], []byte("\n")) + 1
		return fail(line, utf8.RuneCount(data[start:i])+1, "file contains a NUL byte; manifests are UTF-8 text", "")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(1, 1, "file is empty", "a manifest needs at least id, name, auth and api")
		}
		line, msg := yamlError(err)
		return fail(line, 1, "invalid YAML: "+msg, "")
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fail(extra.Line, extra.Column, "file holds more than one YAML document", "put each integration in its own file")
	} else if !errors.Is(err, io.EOF) {
		line, msg := yamlError(err)
		return fail(line, 1, "invalid YAML after the first document: "+msg, "put each integration in its own file")
	}
	d := &document{file: file, root: &root, nodes: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	c := converter{doc: d}
	body := &root
	if body.Kind == yaml.DocumentNode && len(body.Content) == 1 {
		body = body.Content[0]
	}
	d.value = c.convert(body, "", 0)
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return d, nil
}

func yamlError(err error) (int, string) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	m := yamlLineRE.FindStringSubmatch(msg)
	line, _ := strconv.Atoi(m[1])
	for _, p := range yamlParserProblems {
		if strings.HasPrefix(m[2], p) {
			line++
			break
		}
	}
	// yaml.v3 leaves out "line 1".
	return max(line, 1), m[2]
}

type converter struct {
	doc      *document
	count    int
	problems Problems
	// The outermost alias being expanded and its pointer: an expansion that
	// grows too large is reported there, not deep inside the anchored value.
	alias    *yaml.Node
	aliasPtr string
}

func (c *converter) fail(n *yaml.Node, pointer, msg, hint string) any {
	c.problems = append(c.problems, Problem{File: c.doc.file, Line: n.Line, Column: n.Column, Path: jsonPath(pointer), Message: msg, Hint: hint, Severity: Error})
	return nil
}

// convert turns a YAML node into the value encoding/json would produce,
// expanding aliases under a node budget and recording positions.
func (c *converter) convert(n *yaml.Node, pointer string, depth int) any {
	if len(c.problems) > 0 {
		return nil
	}
	at, atPtr := n, pointer
	if c.alias != nil {
		at, atPtr = c.alias, c.aliasPtr
	}
	c.count++
	if c.count > maxNodes {
		return c.fail(at, atPtr, fmt.Sprintf("document expands to more than %d nodes", maxNodes), "YAML aliases that expand exponentially are refused")
	}
	if depth > maxDepth {
		return c.fail(at, atPtr, fmt.Sprintf("document is nested more than %d levels deep", maxDepth), "")
	}
	if _, seen := c.doc.nodes[pointer]; !seen {
		c.doc.nodes[pointer] = n
	}
	switch n.Kind {
	case yaml.AliasNode:
		if c.alias == nil {
			c.alias, c.aliasPtr = n, pointer
			defer func() { c.alias = nil }()
		}
		return c.convert(n.Alias, pointer, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			// Checked first: a merge key is not a plain string either.
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				return c.fail(k, pointer, "YAML merge keys (<<) are not supported", "write the fields out")
			}
			if k.Kind != yaml.ScalarNode || (k.ShortTag() != "!!str" && k.ShortTag() != "!!int" && k.ShortTag() != "!!bool") {
				return c.fail(k, pointer, "mapping keys must be plain strings", "")
			}
			if _, dup := m[k.Value]; dup {
				return c.fail(k, pointer+"/"+escapePointer(k.Value), fmt.Sprintf("duplicate key %q", k.Value), "each key may appear once in a mapping")
			}
			child := pointer + "/" + escapePointer(k.Value)
			c.doc.keys[child] = k
			m[k.Value] = c.convert(v, child, depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			s = append(s, c.convert(item, pointer+"/"+strconv.Itoa(i), depth+1))
		}
		return s
	case yaml.ScalarNode:
		return c.scalar(n, pointer)
	}
	return c.fail(n, pointer, "unsupported YAML node", "")
}

func (c *converter) scalar(n *yaml.Node, pointer string) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return c.fail(n, pointer, "invalid boolean "+strconv.Quote(n.Value), "")
		}
		return b
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return c.fail(n, pointer, "invalid integer "+strconv.Quote(n.Value), "")
		}
		return json.Number(strconv.FormatInt(i, 10))
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return c.fail(n, pointer, "invalid number "+strconv.Quote(n.Value), "")
		}
		return f
	case "!!str", "!!timestamp":
		return n.Value
	case "!!merge":
		return c.fail(n, pointer, "YAML merge keys (<<) are not supported", "write the fields out")
	}
	return c.fail(n, pointer, "unsupported YAML tag "+n.Tag, "use plain strings, numbers, booleans, lists and mappings")
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
