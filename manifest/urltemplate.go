package manifest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// urlShape is what a URL template looks like once parsed: the parts that
// decide where a request goes.
type urlShape struct {
	scheme   string
	hostSrc  string // scheme://host[:port] as written, references included
	hostname string // with references replaced by markers
	hostRefs []Ref  // references inside the host
	path     string
}

func marker(i int) string { return "pbref" + strconv.Itoa(i) + "z" }

func skeleton(t *Template) string {
	var b strings.Builder
	for i, p := range t.parts {
		if p.ref != nil {
			b.WriteString(marker(i))
		} else {
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// unskeleton puts the references back into text derived from the skeleton,
// so that messages show what the manifest says.
func unskeleton(t *Template, s string) string {
	for i, p := range t.parts {
		if p.ref != nil {
			s = strings.ReplaceAll(s, marker(i), "{{"+p.ref.String()+"}}")
		}
	}
	return s
}

// compileURL checks that an absolute URL template has a shape that cannot be
// turned elsewhere by the values it is rendered with, and sets how each
// reference is escaped.
func compileURL(t *Template) (urlShape, error) {
	var shape urlShape
	sk := skeleton(t)
	if strings.ContainsAny(sk, " \t\r\n\\") {
		return shape, errors.New("URL contains whitespace or a backslash")
	}
	u, err := url.Parse(sk)
	if err != nil {
		msg := unwrapURLError(err).Error()
		if strings.HasPrefix(msg, "invalid port") && strings.Contains(msg, "pbref") {
			return shape, errors.New("the port cannot come from a template")
		}
		return shape, fmt.Errorf("not a valid URL: %s", unskeleton(t, msg))
	}
	if strings.Contains(u.Scheme, "pbref") {
		return shape, errors.New("the URL scheme cannot come from a template")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		if u.Scheme == "" {
			return shape, errors.New("must be an absolute URL starting with https://")
		}
		return shape, fmt.Errorf("scheme %q is not allowed; use https", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return shape, errors.New("must be an absolute URL with a host, e.g. https://api.example.com")
	}
	if u.User != nil {
		return shape, errors.New("user information (user:password@) is not allowed in a URL; use api.authorization")
	}
	if u.Fragment != "" || strings.Contains(sk, "#") {
		return shape, errors.New("a URL fragment (#…) is not allowed")
	}
	shape.scheme = u.Scheme
	shape.hostname = u.Hostname()
	shape.path = u.Path
	shape.hostSrc = hostPrefix(t.src)
	lastInHost := -1
	for i := range t.parts {
		p := &t.parts[i]
		if p.ref == nil {
			continue
		}
		m := marker(i)
		switch {
		case strings.Contains(u.Host, m):
			p.esc = escHost
			shape.hostRefs = append(shape.hostRefs, *p.ref)
			lastInHost = strings.Index(shape.hostname, m) + len(m)
		case strings.Contains(u.Path, m):
			p.esc = escPath
		case strings.Contains(u.RawQuery, m):
			p.esc = escQuery
		default:
			return shape, fmt.Errorf("reference {{%s}} is in a part of the URL where references are not allowed", p.ref)
		}
	}
	if lastInHost >= 0 {
		suffix := shape.hostname[lastInHost:]
		labels := strings.Split(strings.TrimPrefix(suffix, "."), ".")
		tld := labels[len(labels)-1]
		if !strings.HasPrefix(suffix, ".") || len(labels) < 2 || strings.Contains(suffix, "..") || strings.Contains(suffix, "pbref") || tld == "" || strings.Trim(tld, "0123456789") == "" {
			return shape, errors.New("a reference in the host must be followed by a fixed domain of at least two labels, e.g. https://{{inputs.subdomain}}.example.com")
		}
	}
	if err := checkDotSegments(u.Path); err != nil {
		return shape, err
	}
	return shape, nil
}

// compilePath checks a path template (starting with /, optionally with a
// query) that is appended to a base URL.
func compilePath(t *Template) error {
	sk := skeleton(t)
	if !strings.HasPrefix(sk, "/") || strings.HasPrefix(sk, "//") {
		return errors.New("must be a path starting with a single / or an absolute URL")
	}
	if strings.ContainsAny(sk, " \t\r\n\\#") {
		return errors.New("path contains whitespace, a backslash or a fragment")
	}
	u, err := url.Parse(sk)
	if err != nil {
		return fmt.Errorf("not a valid path: %s", unskeleton(t, unwrapURLError(err).Error()))
	}
	if u.Scheme != "" || u.Host != "" {
		return errors.New("must be a path starting with a single / or an absolute URL")
	}
	for i := range t.parts {
		p := &t.parts[i]
		if p.ref == nil {
			continue
		}
		if strings.Contains(u.Path, marker(i)) {
			p.esc = escPath
		} else {
			p.esc = escQuery
		}
	}
	return checkDotSegments(u.Path)
}

func checkDotSegments(path string) error {
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("dot segments (. or ..) are not allowed in a path")
		}
	}
	return nil
}

// hostPrefix returns scheme://host[:port] of a URL template as written.
func hostPrefix(src string) string {
	i := strings.Index(src, "://")
	if i < 0 {
		return ""
	}
	rest := src[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	return strings.ToLower(src[:i+3] + rest)
}

// LiteralHostPort returns host:port of an absolute URL template whose host
// is written literally (no reference in it), as an HTTP client dials it:
// lower case, the scheme's default port when none is written, IPv6 in
// brackets. ok is false for a templated host and for a path template.
func (t *Template) LiteralHostPort() (hostport string, ok bool) {
	if t == nil {
		return "", false
	}
	hp := hostPrefix(t.src)
	if hp == "" || strings.Contains(hp, "{{") {
		return "", false
	}
	u, err := url.Parse(hp)
	if err != nil || u.Hostname() == "" {
		return "", false
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), true
}

// LiteralHosts lists host:port of every URL the gateway itself calls for
// the integration (API base and test endpoint, token and revocation URLs)
// whose host is written literally. Authorization URLs are left out: the
// user's browser goes there, not the gateway.
func (in *Integration) LiteralHosts() []string {
	urls := []*Template{in.API.BaseURL}
	if !in.API.TestIsPath {
		urls = append(urls, in.API.TestEndpoint)
	}
	if o := in.Auth.OAuth2; o != nil {
		urls = append(urls, o.TokenURL, o.RevocationURL)
	}
	if cc := in.Auth.ClientCredentials; cc != nil {
		urls = append(urls, cc.TokenURL)
	}
	var out []string
	for _, t := range urls {
		if hp, ok := t.LiteralHostPort(); ok {
			out = append(out, hp)
		}
	}
	return out
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
