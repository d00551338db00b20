package manifest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxIconBytes caps an icon, inline or in a file.
const MaxIconBytes = 64 << 10

const svgNS = "http://www.w3.org/2000/svg"

// Elements that can run code, embed other documents or load resources.
var forbiddenElements = map[string]bool{
	"script": true, "foreignobject": true, "iframe": true, "embed": true, "object": true,
	"audio": true, "video": true, "handler": true, "listener": true, "image": true, "feimage": true,
}

// Namespaces editors leave in exported SVGs; their elements carry no behaviour.
var harmlessNamespaces = map[string]bool{
	svgNS:                                  true,
	"http://www.w3.org/1999/xlink":         true,
	"http://www.w3.org/XML/1998/namespace": true,
	"http://www.inkscape.org/namespaces/inkscape":        true,
	"http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd": true,
	"http://www.w3.org/1999/02/22-rdf-syntax-ns#":        true,
	"http://purl.org/dc/elements/1.1/":                   true,
	"http://creativecommons.org/ns#":                     true,
}

// checkSVG accepts only a well-formed SVG document that cannot run script or
// load anything from outside itself. It rejects rather than strips, so that
// what is served is exactly what was reviewed in git.
func checkSVG(data []byte) error {
	if len(data) > MaxIconBytes {
		return fmt.Errorf("icon is %d bytes, more than the %d allowed", len(data), MaxIconBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("icon is empty")
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.Entity = map[string]string{} // no entities beyond XML's five
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("icon is not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("icon contains a DOCTYPE or other directive; entities and DTDs are not allowed")
		case xml.ProcInst:
			if t.Target != "xml" {
				return fmt.Errorf("icon contains the processing instruction <?%s?>", t.Target)
			}
		case xml.StartElement:
			if depth == 0 {
				roots++
				if t.Name.Local != "svg" || t.Name.Space != svgNS {
					return fmt.Errorf("icon's root element is <%s>, not <svg xmlns=%q>", t.Name.Local, svgNS)
				}
			}
			depth++
			if err := checkSVGElement(t); err != nil {
				return err
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return errors.New("icon has text outside the <svg> element")
			}
			if err := checkCSS(string(t)); err != nil {
				return err
			}
		}
	}
	if roots != 1 {
		return errors.New("icon must hold exactly one <svg> element")
	}
	return nil
}

func checkSVGElement(e xml.StartElement) error {
	name := strings.ToLower(e.Name.Local)
	if !harmlessNamespaces[e.Name.Space] {
		return fmt.Errorf("icon contains <%s> from namespace %q; only SVG is allowed", e.Name.Local, e.Name.Space)
	}
	if forbiddenElements[name] {
		return fmt.Errorf("icon contains a <%s> element, which can run script or load external content", e.Name.Local)
	}
	for _, a := range e.Attr {
		an := strings.ToLower(a.Name.Local)
		val := strings.ToLower(strings.Join(strings.Fields(a.Value), ""))
		switch {
		case strings.HasPrefix(an, "on"):
			return fmt.Errorf("icon's <%s> has the event handler attribute %q", e.Name.Local, a.Name.Local)
		case an == "href" || an == "src":
			if !strings.HasPrefix(strings.TrimSpace(a.Value), "#") {
				return fmt.Errorf("icon's <%s> refers to %q; only references inside the icon (#id) are allowed", e.Name.Local, a.Value)
			}
		case (name == "set" || strings.HasPrefix(name, "animate")) && an == "attributename" && (strings.HasSuffix(val, "href") || strings.HasPrefix(val, "on")):
			return fmt.Errorf("icon's <%s> animates %q, which can inject a link or script", e.Name.Local, a.Value)
		}
		if strings.Contains(val, "javascript:") || strings.Contains(val, "vbscript:") || strings.Contains(val, "data:text/html") {
			return fmt.Errorf("icon's <%s> attribute %q contains a script URL", e.Name.Local, a.Name.Local)
		}
		if err := checkCSS(a.Value); err != nil {
			return fmt.Errorf("icon's <%s> attribute %q: %v", e.Name.Local, a.Name.Local, err)
		}
	}
	return nil
}

// checkCSS rejects style text (a style attribute, a <style> element or a
// presentation attribute) that loads anything: url() outside the document,
// @import, or legacy script expressions.
func checkCSS(s string) error {
	l := strings.ToLower(strings.Join(strings.Fields(s), ""))
	if strings.Contains(l, "\\") {
		return errors.New("CSS escapes (\\) are not allowed in an icon")
	}
	if strings.Contains(l, "@import") {
		return errors.New("CSS @import is not allowed in an icon")
	}
	if strings.Contains(l, "expression(") || strings.Contains(l, "javascript:") {
		return errors.New("script in CSS is not allowed in an icon")
	}
	for rest := l; ; {
		i := strings.Index(rest, "url(")
		if i < 0 {
			return nil
		}
		rest = strings.TrimLeft(rest[i+4:], `"'`)
		if !strings.HasPrefix(rest, "#") {
			return errors.New("url(…) pointing outside the icon is not allowed; use url(#id)")
		}
	}
}
