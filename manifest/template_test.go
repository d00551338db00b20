package manifest

import (
	"errors"
	"strings"
	"testing"
)

// compiledURL parses and compiles an absolute URL template as the compiler does.
func compiledURL(t *testing.T, src string) *Template {
	t.Helper()
	tmpl, err := parseTemplate(src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	if _, err := compileURL(tmpl); err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return tmpl
}

func compiledPath(t *testing.T, src string) *Template {
	t.Helper()
	tmpl, err := parseTemplate(src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	if err := compilePath(tmpl); err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return tmpl
}

func textTemplate(t *testing.T, src string) *Template {
	t.Helper()
	tmpl, err := parseTemplate(src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	return tmpl
}

func inputs(kv ...string) Vars {
	v := Vars{Inputs: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Inputs[kv[i]] = kv[i+1]
	}
	return v
}

func TestRenderEscapesPerContext(t *testing.T) {
	const full = "https://{{inputs.sub}}.acme.com/v1/{{inputs.p}}/items?q={{inputs.q}}&x=1"
	const path = "/accounts/{{inputs.p}}?q={{inputs.q}}"
	tests := []struct {
		name string
		tmpl *Template
		vars Vars
		want string
	}{
		{"plain values", compiledURL(t, full), inputs("sub", "tenant-1", "p", "abc", "q", "x"),
			"https://tenant-1.acme.com/v1/abc/items?q=x&x=1"},
		{"host label is lower-cased", compiledURL(t, full), inputs("sub", "Tenant", "p", "a", "q", "b"),
			"https://tenant.acme.com/v1/a/items?q=b&x=1"},
		{"path value is one segment", compiledURL(t, full), inputs("sub", "t", "p", "a/../b?c#d", "q", ""),
			"https://t.acme.com/v1/a%2F..%2Fb%3Fc%23d/items?q=&x=1"},
		{"path value with percent", compiledURL(t, full), inputs("sub", "t", "p", "%2e%2e", "q", ""),
			"https://t.acme.com/v1/%252e%252e/items?q=&x=1"},
		{"query value", compiledURL(t, full), inputs("sub", "t", "p", "a", "q", "a b&c=d#e+f"),
			"https://t.acme.com/v1/a/items?q=a+b%26c%3Dd%23e%2Bf&x=1"},
		{"relative path", compiledPath(t, path), inputs("p", "x/y", "q", "1&admin=true"),
			"/accounts/x%2Fy?q=1%26admin%3Dtrue"},
		{"header text", textTemplate(t, "Key {{inputs.k}}"), inputs("k", "a b\tc/d?e"),
			"Key a b\tc/d?e"},
		{"credential", textTemplate(t, "{{credential.access_token}}"), Vars{Credential: map[string]string{"access_token": "tok"}},
			"tok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.tmpl.Render(tc.vars)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRenderRefusesUnsafeValues(t *testing.T) {
	host := compiledURL(t, "https://{{inputs.sub}}.acme.com/v1")
	pathURL := compiledURL(t, "https://api.acme.com/v1/{{inputs.p}}")
	header := textTemplate(t, "Bearer {{inputs.k}}")
	tests := []struct {
		name   string
		tmpl   *Template
		value  string
		reason string
	}{
		{"host with a dot", host, "evil.com", "not a valid host name label"},
		{"host with a slash", host, "evil.com/x", "not a valid host name label"},
		{"host with an at", host, "user@evil", "not a valid host name label"},
		{"host with a colon", host, "evil:8080", "not a valid host name label"},
		{"host with a leading hyphen", host, "-x", "not a valid host name label"},
		{"host label too long", host, strings.Repeat("a", 64), "not a valid host name label"},
		{"empty host label", host, "", "not a valid host name label"},
		{"path dot-dot", pathURL, "..", "dot segment"},
		{"path dot", pathURL, ".", "dot segment"},
		{"empty path segment", pathURL, "", "empty"},
		{"header CR LF", header, "s3cr3t\r\nX-Injected: 1", "control character"},
		{"header LF", header, "s3cr3t\nX", "control character"},
		{"header NUL", header, "s3cr3t\x00", "control character"},
		{"header DEL", header, "s3cr3t\x7f", "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.tmpl.Refs()[0].Key
			got, err := tc.tmpl.Render(inputs(key, tc.value))
			var re *RenderError
			if !errors.As(err, &re) || got != "" {
				t.Fatalf("want a RenderError, got %q, %v", got, err)
			}
			if !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "{{inputs."+key+"}}") {
				t.Errorf("error %q should name the reference and say %q", err, tc.reason)
			}
			if len(tc.value) > 2 && strings.Contains(err.Error(), tc.value) {
				t.Errorf("error %q contains the value", err)
			}
		})
	}
}

func TestRenderMissingValue(t *testing.T) {
	tmpl := textTemplate(t, "{{inputs.user}}:{{inputs.api_key}}")
	// Only api_key is missing; neither the other value nor any secret may show.
	_, err := tmpl.Render(inputs("user", "alice-secret-user"))
	var re *RenderError
	if !errors.As(err, &re) || re.Ref != (Ref{NSInputs, "api_key"}) {
		t.Fatalf("want a RenderError for inputs.api_key, got %v", err)
	}
	if got := err.Error(); got != "{{inputs.api_key}}: no value" {
		t.Errorf("got %q", got)
	}
	if _, err := textTemplate(t, "{{credential.access_token}}").Render(Vars{}); err == nil {
		t.Error("missing credential rendered without error")
	}
}

func TestParseTemplate(t *testing.T) {
	good := map[string][]Ref{
		"":                                  nil,
		"plain":                             nil,
		"{{ inputs.a }}-{{credential.b_1}}": {{NSInputs, "a"}, {NSCredential, "b_1"}},
		"x{{inputs.a}}{{inputs.b}}y":        {{NSInputs, "a"}, {NSInputs, "b"}},
	}
	for src, want := range good {
		tmpl, err := parseTemplate(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if got := tmpl.Refs(); len(got) != len(want) || (len(want) > 0 && got[0] != want[0]) {
			t.Errorf("%q: refs %v, want %v", src, got, want)
		}
		if tmpl.Source() != src {
			t.Errorf("Source() = %q", tmpl.Source())
		}
	}
	bad := map[string]string{
		"{{inputs.a":                 "unclosed",
		"inputs.a}}":                 `"}}" without a matching "{{"`,
		"a}}{{inputs.b}}":            `"}}" without a matching "{{"`,
		"{{}}":                       "empty reference",
		"{{inputs.a | upper}}":       "no expressions",
		"{{ index .inputs \"a\" }}":  "no expressions",
		"{{inputs}}":                 "no expressions",
		"{{inputs.A}}":               "no expressions",
		"{{printf \"%s\" inputs.a}}": "no expressions",
	}
	for src, want := range bad {
		if _, err := parseTemplate(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want error containing %q, got %v", src, want, err)
		}
	}
}

func TestCompileURL(t *testing.T) {
	good := []string{
		"https://api.acme.com",
		"https://api.acme.com:8443/v1?x={{inputs.q}}",
		"https://{{inputs.sub}}.acme.com/api",
		"https://api-{{inputs.region}}.acme.com",
		"https://{{inputs.a}}.{{inputs.b}}.acme.com",
		"http://localhost:8080/{{inputs.p}}",
	}
	for _, src := range good {
		compiledURL(t, src)
	}
	bad := map[string]string{
		"{{inputs.s}}://api.acme.com":        "scheme cannot come from a template",
		"https://{{inputs.host}}/v1":         "fixed domain of at least two labels",
		"https://{{inputs.host}}":            "fixed domain of at least two labels",
		"https://{{inputs.s}}.com":           "fixed domain of at least two labels",
		"https://acme.com.{{inputs.s}}":      "fixed domain of at least two labels",
		"https://{{inputs.s}}.acme.com.":     "fixed domain of at least two labels",
		"https://{{inputs.s}}..acme.com":     "fixed domain of at least two labels",
		"https://api.acme.com:{{inputs.p}}":  "port cannot come from a template",
		"https://{{inputs.u}}@api.acme.com":  "user information",
		"https://u:p@api.acme.com":           "user information",
		"https://api.acme.com/#x":            "fragment",
		"https://api.acme.com/#{{inputs.f}}": "fragment",
		"https://api.acme.com/a/../b":        "dot segments",
		"https://api.acme.com/a/%2e%2e/b":    "dot segments",
		"https://api.acme.com/a b":           "whitespace",
		"https://api.acme.com\\@evil.com":    "backslash",
		"ftp://acme.com/x":                   `scheme "ftp" is not allowed`,
		"javascript:alert(1)":                `scheme "javascript" is not allowed`,
		"//api.acme.com/v1":                  "absolute URL",
		"/v1":                                "absolute URL",
		"https:api.acme.com":                 "with a host",
		"https:///v1":                        "with a host",
		"https://[{{inputs.h}}/":             "not a valid URL: missing ']' in host",
	}
	for src, want := range bad {
		tmpl, err := parseTemplate(src)
		if err != nil {
			t.Fatalf("parse %q: %v", src, err)
		}
		_, err = compileURL(tmpl)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want error containing %q, got %v", src, want, err)
		} else if strings.Contains(err.Error(), "pbref") {
			t.Errorf("%q: error %q shows an internal marker instead of the reference", src, err)
		}
	}
}

func TestCompilePath(t *testing.T) {
	for _, src := range []string{"/me", "/users/{{inputs.id}}", "/search?q={{inputs.q}}&limit=1"} {
		compiledPath(t, src)
	}
	bad := map[string]string{
		"//evil.com/me":  "single /",
		"me":             "single /",
		"/a/../b":        "dot segments",
		"/a/%2E%2E/b":    "dot segments",
		"/./me":          "dot segments",
		"/me#frag":       "fragment",
		"/\\evil.com":    "backslash",
		"/me\r\nX: y":    "whitespace",
		"https://x.com/": "single /",
	}
	for src, want := range bad {
		tmpl, err := parseTemplate(src)
		if err != nil {
			t.Fatalf("parse %q: %v", src, err)
		}
		if err := compilePath(tmpl); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want error containing %q, got %v", src, want, err)
		}
	}
}

func TestLiteralHostPort(t *testing.T) {
	for src, want := range map[string]string{
		"https://api.acme.com":                   "api.acme.com:443",
		"https://API.Acme.com/v1":                "api.acme.com:443",
		"http://127.0.0.1:9000/api":              "127.0.0.1:9000",
		"http://localhost:9000":                  "localhost:9000",
		"http://localhost/x":                     "localhost:80",
		"http://[::1]:8080/":                     "[::1]:8080",
		"https://api.acme.com:8443/{{inputs.p}}": "api.acme.com:8443",
		"https://{{inputs.sub}}.acme.com/api":    "",
		"https://api-{{inputs.region}}.acme.com": "",
	} {
		got, ok := compiledURL(t, src).LiteralHostPort()
		if got != want || ok != (want != "") {
			t.Errorf("LiteralHostPort(%q) = %q, %v; want %q", src, got, ok, want)
		}
	}
	if _, ok := compiledPath(t, "/me").LiteralHostPort(); ok {
		t.Error("a path template has no literal host")
	}
}
