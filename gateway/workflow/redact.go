package workflow

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/plugboardhq/plugboard/manifest"
)

// Step outputs and errors are stored, shown to operators and read by
// later steps. The proxy never returns the user's credential, but an API
// may echo one (a token endpoint, a debug route), as JSON, as a form or
// as text. Two nets catch it before anything is stored: values under keys
// named like credentials (JSON objects and form-encoded bodies), and
// every occurrence of the user's own secret values (the ones the proxy
// injects), whatever the content type. A later step that needs such a
// value cannot have it, by design.
const redacted = "<redacted>"

// minSecretLen is the shortest secret value replaced wherever it occurs:
// replacing every "abc" of an answer would garble it and hide little.
const minSecretLen = 6

func sensitiveKey(k string) bool {
	k = strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(k))
	switch k {
	case "authorization", "proxyauthorization", "cookie", "setcookie", "password", "secret", "clientsecret",
		"accesstoken", "refreshtoken", "idtoken", "token", "apikey", "xapikey", "privatekey":
		return true
	}
	return strings.HasSuffix(k, "token") && !strings.HasSuffix(k, "pagetoken") && !strings.HasSuffix(k, "synctoken")
}

// redact returns v with the values of sensitive keys replaced, at any
// depth, and in a string that is a form-encoded body
// (access_token=…&scope=…) the values of its sensitive keys.
func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, m := range t {
			if sensitiveKey(k) {
				out[k] = redacted
			} else {
				out[k] = redact(m)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, m := range t {
			out[i] = redact(m)
		}
		return out
	case string:
		return redactForm(t)
	}
	return v
}

// redactForm replaces the values of sensitive keys when s is a
// form-encoded body as a whole (key=value pairs joined by &, keys of
// name characters), keeping its order and its other pairs as they are.
// Any other text is returned as it is.
func redactForm(s string) string {
	body := strings.TrimSpace(s)
	if !strings.Contains(body, "=") || strings.ContainsAny(body, " \t\r\n") {
		return s
	}
	pairs := strings.Split(body, "&")
	changed := false
	for i, p := range pairs {
		k, _, ok := strings.Cut(p, "=")
		if !ok {
			if p == "" {
				continue
			}
			return s // a bare word: not a form
		}
		name, err := url.QueryUnescape(k)
		if err != nil || !formKey(name) {
			return s
		}
		if sensitiveKey(name) {
			pairs[i], changed = k+"="+redacted, true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(pairs, "&")
}

// formKey reports whether k looks like a form field's name (letters,
// digits, _ - . and the brackets of items[0]).
func formKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_-.[]", r):
		default:
			return false
		}
	}
	return true
}

// secrets replaces the user's secret values wherever they occur; the
// zero value replaces nothing.
type secrets struct{ r *strings.Replacer }

// secretsOf reads the user's connection to in, as the proxy injects it
// (its cache, so no store read as a rule), and returns its secret
// values: tokens, client secret, secret inputs and sensitive extra token
// fields, also as they look percent-encoded. Without a connection there
// is nothing of the user's to hide.
func (x *execution) secretsOf(ctx context.Context, in *manifest.Integration) secrets {
	if x.e.cfg.Proxy == nil || x.e.cfg.Proxy.Credentials == nil || in == nil {
		return secrets{}
	}
	conn, err := x.e.cfg.Proxy.Credentials.Default(ctx, x.run.ProjectID, x.run.UserID, in.ID)
	if err != nil || conn == nil {
		return secrets{}
	}
	c := conn.Credential
	values := []string{c.AccessToken, c.RefreshToken, c.ClientSecret}
	for _, input := range in.Auth.Inputs {
		if input.Secret {
			values = append(values, c.Inputs[input.Key])
		}
	}
	for k, v := range c.Extra {
		if sensitiveKey(k) {
			values = append(values, v)
		}
	}
	var all []string
	for _, v := range values {
		if len(v) < minSecretLen {
			continue
		}
		all = append(all, v)
		for _, enc := range []string{url.QueryEscape(v), url.PathEscape(v)} {
			if enc != v {
				all = append(all, enc)
			}
		}
	}
	if len(all) == 0 {
		return secrets{}
	}
	// Longest first: a value that holds another is replaced whole.
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(all))
	for _, v := range slices.Compact(all) {
		pairs = append(pairs, v, redacted)
	}
	return secrets{strings.NewReplacer(pairs...)}
}

// text returns s with every secret value replaced.
func (s secrets) text(str string) string {
	if s.r == nil {
		return str
	}
	return s.r.Replace(str)
}

// value returns v with every secret value replaced in its strings (map
// keys included), at any depth.
func (s secrets) value(v any) any {
	if s.r == nil {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, m := range t {
			out[s.text(k)] = s.value(m)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, m := range t {
			out[i] = s.value(m)
		}
		return out
	case string:
		return s.text(t)
	}
	return v
}

// error returns err with every secret value replaced in its message
// (the original is dropped, so that nothing prints it).
func (s secrets) error(err error) error {
	if err == nil || s.r == nil {
		return err
	}
	if msg := s.text(err.Error()); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
