package manifest

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Templates are a closed language: literal text with references in double
// braces, `{{inputs.<key>}}`, `{{credential.<field>}}` or, in actions,
// `{{parameters.<name>}}`. There are no
// functions, conditionals or loops; rendering substitutes values, escaping each
// for where it lands, and never runs code.

// Namespaces a template reference may use.
const (
	NSInputs     = "inputs"
	NSCredential = "credential"
	NSParameters = "parameters"
)

// CredentialFields are the fields a template may read from a stored credential.
var CredentialFields = []string{"access_token", "token_type", "client_id", "client_secret"}

// Ref is one reference in a template, e.g. inputs.subdomain.
type Ref struct {
	Namespace string
	Key       string
}

func (r Ref) String() string { return r.Namespace + "." + r.Key }

// escaping says how a referenced value is written where it lands.
type escaping int

const (
	escText  escaping = iota // header values, form fields: no control characters
	escHost                  // a DNS label: letters, digits, hyphens only
	escPath                  // a path segment: percent-encoded, "/" included
	escQuery                 // a query component: percent-encoded
	escRaw                   // as is: the caller encodes it (action query values, JSON bodies)
)

type part struct {
	lit string
	ref *Ref
	esc escaping
}

// Template is a compiled template string. The zero value renders as "".
type Template struct {
	src   string
	parts []part
}

// Source returns the template as written in the manifest.
func (t *Template) Source() string {
	if t == nil {
		return ""
	}
	return t.src
}

// Refs returns the references the template uses, in order.
func (t *Template) Refs() []Ref {
	if t == nil {
		return nil
	}
	var refs []Ref
	for _, p := range t.parts {
		if p.ref != nil {
			refs = append(refs, *p.ref)
		}
	}
	return refs
}

// Vars are the values templates are rendered with.
type Vars struct {
	Inputs     map[string]string
	Credential map[string]string
	Parameters map[string]string // an action's parameters, as text
}

func (v Vars) lookup(r Ref) (string, bool) {
	var m map[string]string
	switch r.Namespace {
	case NSInputs:
		m = v.Inputs
	case NSCredential:
		m = v.Credential
	case NSParameters:
		m = v.Parameters
	}
	s, ok := m[r.Key]
	return s, ok
}

// RenderError says which reference could not be rendered and why. It never
// contains the value itself, which may be a secret.
type RenderError struct {
	Ref    Ref
	Reason string
}

func (e *RenderError) Error() string { return fmt.Sprintf("{{%s}}: %s", e.Ref, e.Reason) }

var hostLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Render substitutes every reference. A missing value or one that cannot be
// written safely where it lands is an error.
func (t *Template) Render(v Vars) (string, error) {
	if t == nil {
		return "", nil
	}
	if len(t.parts) == 1 && t.parts[0].ref == nil {
		return t.parts[0].lit, nil // a literal: no copy (the proxy renders the base URL on every request)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		val, ok := v.lookup(*p.ref)
		if !ok {
			return "", &RenderError{*p.ref, "no value"}
		}
		switch p.esc {
		case escHost:
			val = strings.ToLower(val)
			if !hostLabelRE.MatchString(val) {
				return "", &RenderError{*p.ref, "value is not a valid host name label (letters, digits and hyphens)"}
			}
			b.WriteString(val)
		case escPath:
			if val == "" || val == "." || val == ".." {
				return "", &RenderError{*p.ref, "value is empty or a dot segment, which cannot be a path segment"}
			}
			b.WriteString(url.PathEscape(val))
		case escQuery:
			b.WriteString(url.QueryEscape(val))
		case escRaw:
			b.WriteString(val)
		default:
			if i := strings.IndexFunc(val, isControl); i >= 0 {
				return "", &RenderError{*p.ref, "value contains a control character (CR, LF, NUL …)"}
			}
			b.WriteString(val)
		}
	}
	return b.String(), nil
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// Keys are lower case but for action parameters, which follow the API's own
// names (threadTs, per_page).
var refRE = regexp.MustCompile(`^([a-z]+)\.([A-Za-z][A-Za-z0-9_]*)$`)

// parseTemplate splits src into literal and reference parts, without yet
// checking that the references are allowed where the template is used.
func parseTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	rest := src
	for rest != "" {
		open := strings.Index(rest, "{{")
		if open < 0 {
			if strings.Contains(rest, "}}") {
				return nil, errors.New(`"}}" without a matching "{{"`)
			}
			t.parts = append(t.parts, part{lit: rest})
			break
		}
		if open > 0 {
			if strings.Contains(rest[:open], "}}") {
				return nil, errors.New(`"}}" without a matching "{{"`)
			}
			t.parts = append(t.parts, part{lit: rest[:open]})
		}
		end := strings.Index(rest[open:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("unclosed %q: a reference is written {{inputs.<key>}}", "{{")
		}
		inner := strings.TrimSpace(rest[open+2 : open+end])
		m := refRE.FindStringSubmatch(inner)
		if m != nil && m[1] != NSParameters && strings.ToLower(m[2]) != m[2] {
			m = nil
		}
		if m == nil {
			if inner == "" {
				return nil, errors.New("empty reference {{}}")
			}
			return nil, fmt.Errorf("%q is not a reference: templates only hold references such as {{inputs.subdomain}}, no expressions", inner)
		}
		t.parts = append(t.parts, part{ref: &Ref{Namespace: m[1], Key: m[2]}})
		rest = rest[open+end+2:]
	}
	return t, nil
}

// IsLiteral reports whether the template has no references.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.ref != nil {
			return false
		}
	}
	return true
}
