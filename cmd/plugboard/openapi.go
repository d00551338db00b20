package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The OpenAPI reader: the subset of OpenAPI 3.0 and 3.1 that `import
// openapi` needs, read through yaml.Node (JSON is YAML too) so that every
// problem names file:line:col, with local $refs resolved on demand.

// maxOpenAPIBytes caps the document read; the largest public descriptions
// (GitHub's, Stripe's) are under 20 MiB.
const maxOpenAPIBytes = 64 << 20

// maxRefHops bounds a chain of $refs ($ref to a $ref …).
const maxRefHops = 32

// specError is a problem with the document, located in it.
type specError struct {
	file      string
	line, col int
	msg       string
}

func (e *specError) Error() string {
	if e.line == 0 {
		return e.file + ": " + e.msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.file, e.line, e.col, e.msg)
}

// specErrors are all the problems found at once (broken $refs).
type specErrors []*specError

func (es specErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// openapiDoc is a parsed OpenAPI 3 document.
type openapiDoc struct {
	file    string
	root    *yaml.Node // the top-level mapping
	version string     // the openapi field, e.g. 3.0.2
}

// readOpenAPI reads and checks an OpenAPI 3.0/3.1 document: YAML or JSON
// syntax, the openapi version (Swagger 2.0 is refused with a hint), and
// every local $ref (all broken ones are reported together).
func readOpenAPI(file string) (*openapiDoc, error) {
	data, err := readSpecFile(file)
	if err != nil {
		return nil, err
	}
	var top yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		line, msg := yamlErrorLine(err)
		return nil, &specError{file: file, line: line, col: min(line, 1), msg: "not a YAML or JSON document: " + msg}
	}
	if top.Kind == 0 || len(top.Content) == 0 {
		return nil, &specError{file: file, msg: "the file is empty; want an OpenAPI 3 document"}
	}
	root := resolveAlias(top.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, &specError{file: file, line: root.Line, col: root.Column, msg: "not an OpenAPI document: the top level is not a mapping (want openapi: 3.x, info, paths …)"}
	}
	d := &openapiDoc{file: file, root: root}
	v := field(root, "openapi")
	if v == nil {
		if sw := field(root, "swagger"); sw != nil {
			return nil, d.errAt(sw, "this is a Swagger %s document; import openapi reads OpenAPI 3.0 and 3.1 (convert it first, e.g. with swagger2openapi or editor.swagger.io)", sw.Value)
		}
		return nil, d.errAt(root, "not an OpenAPI document: it has no openapi field (want openapi: 3.0.x or 3.1.x at the top)")
	}
	d.version = v.Value
	if !strings.HasPrefix(d.version, "3.0") && !strings.HasPrefix(d.version, "3.1") && !strings.HasPrefix(d.version, "3.2") {
		return nil, d.errAt(v, "openapi version %q is not supported; import openapi reads 3.0.x and 3.1.x", d.version)
	}
	if errs := d.checkRefs(); len(errs) > 0 {
		return nil, errs
	}
	return d, nil
}

func readSpecFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a folder; want an OpenAPI document (a .yaml or .json file)", file)
	}
	if fi.Size() > maxOpenAPIBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d MiB import openapi reads", file, fi.Size(), maxOpenAPIBytes>>20)
	}
	return io.ReadAll(io.LimitReader(f, maxOpenAPIBytes+1))
}

// yamlErrorLine extracts the line from a yaml.v3 error ("yaml: line 3: …").
func yamlErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				return n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return 0, msg
}

func (d *openapiDoc) errAt(n *yaml.Node, format string, args ...any) *specError {
	e := &specError{file: d.file, msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.line, e.col = n.Line, n.Column
	}
	return e
}

// at says where n is, for notes: file:line:col.
func (d *openapiDoc) at(n *yaml.Node) string {
	if n == nil || n.Line == 0 {
		return d.file
	}
	return fmt.Sprintf("%s:%d:%d", d.file, n.Line, n.Column)
}

// checkRefs resolves every local $ref in the document and reports those
// that point nowhere. Examples and extensions (x-…) are not looked into:
// they are free-form. References to other files are left for the places
// that use them to report.
func (d *openapiDoc) checkRefs() specErrors {
	var errs specErrors
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, n.Content[i+1]
				if k == "example" || k == "examples" || strings.HasPrefix(k, "x-") {
					continue
				}
				if k == "$ref" && v.Kind == yaml.ScalarNode && strings.HasPrefix(v.Value, "#") {
					if _, err := d.pointer(v.Value); err != nil {
						errs = append(errs, d.errAt(v, "%v", err))
					}
					continue
				}
				walk(v)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	walk(d.root)
	return errs
}

// pointer finds the node a local reference ("#/components/schemas/Pet")
// names.
func (d *openapiDoc) pointer(ref string) (*yaml.Node, error) {
	frag, err := url.PathUnescape(strings.TrimPrefix(ref, "#"))
	if err != nil {
		return nil, fmt.Errorf("$ref %q is not a valid URI fragment", ref)
	}
	if frag == "" {
		return d.root, nil
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, fmt.Errorf("$ref %q is not a JSON pointer (want #/components/…)", ref)
	}
	n := d.root
	walked := "#"
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		n = resolveAlias(n)
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			next = field(n, tok)
			if next == nil {
				msg := fmt.Sprintf("$ref %q not found: %s has no %q", ref, walked, tok)
				if s := suggest(tok, keys(n)); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				return nil, errors.New(msg)
			}
		case yaml.SequenceNode:
			i, convErr := strconv.Atoi(tok)
			if convErr != nil || i < 0 || i >= len(n.Content) {
				return nil, fmt.Errorf("$ref %q not found: %s has no item %q", ref, walked, tok)
			}
			next = n.Content[i]
		default:
			return nil, fmt.Errorf("$ref %q not found: %s is not an object", ref, walked)
		}
		walked += "/" + tok
		n = next
	}
	return n, nil
}

// errExternalRef marks a $ref to another file, which import openapi does
// not follow.
var errExternalRef = errors.New("points into another file")

// deref follows n's $ref (and the $ref that names, …) to the node it stands
// for. A node without $ref is returned as is.
func (d *openapiDoc) deref(n *yaml.Node) (*yaml.Node, error) {
	for hops := 0; n != nil; hops++ {
		n = resolveAlias(n)
		ref := field(n, "$ref")
		if ref == nil {
			return n, nil
		}
		if hops == maxRefHops {
			return nil, d.errAt(ref, "$ref chain longer than %d (a loop?)", maxRefHops)
		}
		if !strings.HasPrefix(ref.Value, "#") {
			return nil, fmt.Errorf("$ref %q %w, which import does not follow", ref.Value, errExternalRef)
		}
		target, err := d.pointer(ref.Value)
		if err != nil {
			return nil, d.errAt(ref, "%v", err)
		}
		n = target
	}
	return nil, nil
}

// field returns the value of key in mapping n, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolveAlias(n.Content[i+1])
		}
	}
	return nil
}

// text returns the string value of key in mapping n ("" when absent or not
// a scalar).
func text(n *yaml.Node, key string) string {
	v := field(n, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

func isTrue(n *yaml.Node, key string) bool {
	return text(n, key) == "true"
}

// pairs returns mapping n's entries in document order.
func pairs(n *yaml.Node) []nodePair {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]nodePair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, nodePair{n.Content[i].Value, n.Content[i], resolveAlias(n.Content[i+1])})
	}
	return out
}

type nodePair struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

func keys(n *yaml.Node) []string {
	var out []string
	for _, p := range pairs(n) {
		out = append(out, p.key)
	}
	return out
}

func items(n *yaml.Node) []*yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolveAlias(c)
	}
	return out
}

// strings of a sequence of scalars.
func scalars(n *yaml.Node) []string {
	var out []string
	for _, c := range items(n) {
		if c.Kind == yaml.ScalarNode {
			out = append(out, c.Value)
		}
	}
	return out
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}
