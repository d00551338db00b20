package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// badCases pairs each file in testdata/bad with the one error it must produce,
// written `line:col: path: text`, where text must occur in the problem's
// message or hint. An empty path is written as `1:1: : text`.
var badCases = []struct {
	file string
	want string
}{
	// The file as a whole.
	{"invalid-yaml.yaml", `2:1: : invalid YAML: did not find expected ',' or ']'`},
	{"yaml-tab-indent.yaml", `4:1: : invalid YAML: found character that cannot start any token`},
	{"empty.yaml", `1:1: : file is empty`},
	{"two-documents.yaml", `13:1: : file holds more than one YAML document`},
	{"nul-byte.yaml", `2:9: : file contains a NUL byte`},
	{"alias-bomb.yaml", `7:12: e[1]: document expands to more than 20000 nodes`},
	{"alias-self-reference.yaml", `5:12: auth.inputs[0]: document is nested more than 64 levels deep`},
	{"duplicate-key.yaml", `13:3: api.baseUrl: duplicate key "baseUrl"`},
	{"merge-key.yaml", `6:3: auth: YAML merge keys (<<) are not supported`},

	// Schema.
	{"unknown-field-did-you-mean.yaml", `3:1: descripton: unknown field "descripton" (did you mean "description"?)`},
	{"missing-required-name.yaml", `1:1: : missing required field "name" (Short display name of the provider shown in the Connect Portal, e.g. GitHub.)`},
	{"wrong-type-secret-string.yaml", `9:15: auth.inputs[0].secret: must be boolean, but got string`},
	{"auth-type-bad-enum.yaml", `5:9: auth.type: "oauth" is not an allowed value (did you mean "oauth2"?)`},
	{"id-uppercase.yaml", `1:5: id: value "Acme_CRM" has the wrong form (lower-case letters, digits and hyphens`},
	{"accent-color-short.yaml", `4:14: accentColor: value "#12345" has the wrong form (Brand colour used for accents in the Connect Portal, as #RRGGBB.)`},
	{"scopes-with-space.yaml", `11:20: auth.oauth2.scopes[1]: value "write admin" has the wrong form (a scope has no spaces`},
	{"timeout-not-a-duration.yaml", `13:12: api.timeout: value "30 seconds" has the wrong form (A duration: a whole number followed by ms, s or m, e.g. 30s.)`},
	{"oauth2-section-missing.yaml", `5:3: auth: missing required field "oauth2" (required by the value of "type" here)`},
	{"oauth2-section-null.yaml", `6:10: auth.oauth2: must be object, but got null`},
	{"client-credentials-section-null.yaml", `6:22: auth.clientCredentials: must be object, but got null`},
	{"authorization-basic-without-username.yaml", `13:5: api.authorization: missing required field "username"`},

	// Auth sections and secrets.
	{"oauth2-section-with-api-key.yaml", `10:3: auth.oauth2: auth.oauth2 is set but auth.type is api_key (remove it, or set auth.type to oauth2)`},
	{"secret-literal-client-secret.yaml", `10:19: auth.oauth2.clientSecret: a literal secret is not allowed in a manifest (reference it as ${ACME_CRM_CLIENT_SECRET}`},
	{"secret-ref-malformed.yaml", `10:19: auth.oauth2.clientSecret: malformed secret reference "${ACME-CLIENT-SECRET}"`},
	{"secret-env-reserved-admin-token.yaml", `10:19: auth.oauth2.clientSecret: environment variable PLUGBOARD_ADMIN_TOKEN is reserved for the gateway's own settings; a manifest cannot read it`},
	{"secret-env-reserved-in-header.yaml", `14:14: api.headers.X-Debug: environment variable PLUGBOARD_ENCRYPTION_KEYS is reserved for the gateway's own settings`},
	{"secret-env-reserved-pgpassword.yaml", `9:15: auth.oauth2.clientId: environment variable PGPASSWORD is reserved`},
	{"secret-file-parent-folder.yaml", `9:15: auth.oauth2.clientId: secret file ../data/admin-token is outside the manifest's folder and the secret folders (keep secret files in the manifest's folder, or have the operator name their folder with --secrets-dir)`},
	{"secret-file-proc-environ.yaml", `9:15: auth.oauth2.clientId: secret file /proc/self/environ is outside the manifest's folder`},
	{"secret-file-absolute-in-params.yaml", `12:19: auth.oauth2.authorizationParams.login_hint: secret file /etc/passwd is outside the manifest's folder`},
	{"secret-ref-inside-string.yaml", `14:20: api.headers.X-Partner-Key: a secret reference must be the whole value`},
	{"oauth2-reserved-param-redirect-uri.yaml", `13:7: auth.oauth2.authorizationParams.redirect_uri: parameter "redirect_uri" cannot be set here`},

	// Inputs.
	{"input-duplicate-key.yaml", `9:12: auth.inputs[1].key: input "user" is declared twice`},
	{"input-pattern-invalid-re2.yaml", "10:16: auth.inputs[0].pattern: invalid regular expression: invalid or unsupported Perl syntax: `(?=`"},
	{"input-pattern-escapes-anchors.yaml", "9:16: auth.inputs[0].pattern: invalid regular expression: unexpected ): `eu|us)|(.*`"},
	{"input-pattern-and-enum.yaml", `9:16: auth.inputs[0].pattern: an input may have a pattern or an enum, not both`},
	{"input-default-not-matching-pattern.yaml", `10:16: auth.inputs[0].default: default "USA" does not match the input's pattern`},
	{"input-secret-with-default.yaml", `10:16: auth.inputs[0].default: secret input "api_key" has a default value`},

	// Templates.
	{"template-undeclared-input.yaml", `12:15: auth.oauth2.tokenUrl: template refers to input "subdomian", which is not declared (did you mean "subdomain"?)`},
	{"template-unknown-namespace.yaml", `14:12: api.authorization.token: unknown template namespace "input" in {{input.api_key}} (did you mean "inputs"?)`},
	{"template-unclosed.yaml", `15:12: api.authorization.value: unclosed "{{"`},
	{"template-expression.yaml", `14:12: api.authorization.token: "inputs.api_key | upper" is not a reference`},
	{"credential-in-api-key.yaml", `14:12: api.authorization.token: {{credential.access_token}}: api_key integrations have no credential token`},
	{"credential-client-id-in-oauth2.yaml", `16:12: api.authorization.value: {{credential.client_id}}: unknown credential field for oauth2 (available: access_token, token_type)`},
	{"credential-in-base-url.yaml", `12:12: api.baseUrl: {{credential.access_token}} cannot be used here`},

	// URLs.
	{"url-template-in-scheme.yaml", `14:12: api.baseUrl: the URL scheme cannot come from a template`},
	{"url-host-fully-templated.yaml", `14:12: api.baseUrl: a reference in the host must be followed by a fixed domain of at least two labels`},
	{"url-host-template-one-label.yaml", `14:12: api.baseUrl: a reference in the host must be followed by a fixed domain of at least two labels`},
	{"url-host-input-without-pattern.yaml", `13:12: api.baseUrl: input "tenant" is used in the URL host but does not declare a pattern or enum`},
	{"url-host-secret-input.yaml", `12:12: api.baseUrl: secret input "api_key" cannot be used in a URL host`},
	{"url-port-templated.yaml", `14:12: api.baseUrl: the port cannot come from a template`},
	{"url-userinfo.yaml", `11:12: api.baseUrl: user information (user:password@) is not allowed in a URL`},
	{"url-fragment.yaml", `11:12: api.baseUrl: a URL fragment (#…) is not allowed`},
	{"url-relative.yaml", `11:12: api.baseUrl: must be an absolute URL starting with https://`},
	{"url-ftp-scheme.yaml", `8:15: auth.oauth2.tokenUrl: scheme "ftp" is not allowed; use https`},
	{"test-endpoint-other-host.yaml", `13:17: api.testEndpoint: testEndpoint must stay on the API's host https://api.acme.com`},
	{"test-endpoint-protocol-relative.yaml", `13:17: api.testEndpoint: must be a path starting with a single / or an absolute URL`},
	{"test-endpoint-dot-segments.yaml", `13:17: api.testEndpoint: dot segments (. or ..) are not allowed in a path`},
	{"test-endpoint-encoded-dot-segments.yaml", `13:17: api.testEndpoint: dot segments (. or ..) are not allowed in a path`},

	// API authorization and headers.
	{"api-key-without-authorization.yaml", `11:3: api: api.authorization is required for api_key integrations`},
	{"authorization-bearer-without-token.yaml", `13:5: api.authorization: bearer authorization for api_key integrations needs a token template`},
	{"authorization-unused-field.yaml", `14:5: api.authorization.name: "name" is not used by authorization type bearer`},
	{"authorization-header-managed-name.yaml", `15:11: api.authorization.name: header "Cookie" cannot carry the credential`},
	{"header-managed-host.yaml", `15:5: api.headers.Host: header "Host" cannot be set in a manifest`},
	{"header-managed-cookie.yaml", `14:5: api.headers.cookie: header "cookie" cannot be set in a manifest`},
	{"header-literal-secret.yaml", `14:20: api.headers.Authorization: header "Authorization" looks like it holds a literal secret`},
	{"header-value-crlf.yaml", `14:13: api.headers.X-Note: value contains a control character`},
	{"timeout-over-5m.yaml", `13:12: api.timeout: timeout 10m is longer than the 5m allowed`},
	{"test-body-not-json.yaml", `17:13: api.testBody: testBody is not valid JSON`},
	{"test-body-with-get.yaml", `16:13: api.testBody: a GET test request has no body`},
	{"test-method-without-endpoint.yaml", `15:15: api.testMethod: testMethod without a testEndpoint`},
	{"health-check-too-often.yaml", `17:15: api.healthCheck.interval: health check interval 1m is shorter than the 5m allowed`},

	// Actions.
	{"action-undeclared-parameter.yaml", `20:11: actions[0].path: template refers to parameter "item_id", which is not declared (did you mean "itemid"?)`},
	{"action-path-parameter-optional.yaml", `20:11: actions[0].path: path parameter "id" must be required (add id to parameters.required)`},
	{"action-path-parameter-is-host.yaml", `20:11: actions[0].path: must be a path starting with a single /`},
	{"action-path-protocol-relative.yaml", `20:11: actions[0].path: must be a path starting with a single /`},
	{"action-path-dot-segments.yaml", `20:11: actions[0].path: dot segments (. or ..) are not allowed in a path`},
	{"action-path-query.yaml", `20:11: actions[0].path: an action's path has no query (put query parameters under query)`},
	{"action-refers-to-input.yaml", `22:12: actions[0].query.key: {{inputs.api_key}}: an action may only refer to its parameters`},
	{"action-header-authorization.yaml", `22:7: actions[0].headers.Authorization: header "Authorization" cannot be set by an action`},
	{"action-schema-unsupported-keyword.yaml", `24:32: actions[0].parameters.properties.limit.format: unknown field "format"`},
	{"action-required-not-declared.yaml", `25:18: actions[0].parameters.required[0]: required parameter "limt" is not declared (did you mean "limit"?)`},
	{"action-enum-wrong-type.yaml", `24:44: actions[0].parameters.properties.state.enum[1]: enum value 2 is not of type string`},
	{"action-keyword-wrong-type.yaml", `24:32: actions[0].parameters.properties.limit.maxLength: "maxLength" does not apply to type integer`},
	{"action-duplicate-name.yaml", `21:11: actions[1].name: action "get_item" is declared twice`},
	{"action-get-with-body.yaml", `21:5: actions[0].body: a GET action has no body`},
	{"action-name-hyphen.yaml", `17:11: actions[0].name: value "get-item" has the wrong form`},
	{"action-output-not-pointer.yaml", `21:13: actions[0].output: value "items" has the wrong form`},

	// Icons.
	{"icon-path-leaves-folder.yaml", `13:7: icon: icon path "../good/acme.svg" leaves the manifest's folder`},
	{"icon-not-svg.yaml", `13:7: icon: icon "acme.png" is not an .svg file`},
	{"icon-file-missing.yaml", `13:7: icon: cannot read icon file missing.svg`},
	{"icon-file-not-xml.yaml", `13:7: icon: icon is not well-formed XML`},
	{"icon-not-xml.yaml", `13:7: icon: icon is not well-formed XML`},
	{"icon-root-not-svg.yaml", `13:7: icon: icon's root element is <html>`},
	{"icon-script.yaml", `13:7: icon: icon contains a <script> element`},
	{"icon-onload.yaml", `13:7: icon: icon's <svg> has the event handler attribute "onload"`},
	{"icon-javascript-href.yaml", `13:7: icon: icon's <a> refers to "javascript:alert(1)"`},
	{"icon-external-href.yaml", `13:7: icon: icon's <use> refers to "https://evil.example.com/sprite.svg#logo"`},
	{"icon-style-url.yaml", `13:7: icon: icon's <rect> attribute "style": url(…) pointing outside the icon is not allowed`},
	{"icon-doctype-entity.yaml", `13:7: icon: icon contains a DOCTYPE`},
	{"icon-foreign-object.yaml", `13:7: icon: icon contains a <foreignObject> element`},
}

type wantProblem struct {
	line, col  int
	path, text string
}

func parseWant(t *testing.T, s string) wantProblem {
	t.Helper()
	parts := strings.SplitN(s, ": ", 3)
	if len(parts) != 3 {
		t.Fatalf("want %q is not `line:col: path: text`", s)
	}
	lc := strings.SplitN(parts[0], ":", 2)
	line, err1 := strconv.Atoi(lc[0])
	col, err2 := strconv.Atoi(lc[len(lc)-1])
	if len(lc) != 2 || err1 != nil || err2 != nil {
		t.Fatalf("want %q does not start with line:col", s)
	}
	return wantProblem{line, col, parts[1], parts[2]}
}

// matches reports whether p is the wanted problem in file; the text may
// span the message and the hint as String renders them.
func (w wantProblem) matches(file string, p Problem) bool {
	rendered := p.Message
	if p.Hint != "" {
		rendered += " (" + p.Hint + ")"
	}
	return p.File == file && p.Line == w.line && p.Column == w.col && p.Path == w.path &&
		p.Severity == Error && strings.Contains(rendered, w.text)
}

func TestBadManifests(t *testing.T) {
	for _, tc := range badCases {
		t.Run(strings.TrimSuffix(tc.file, ".yaml"), func(t *testing.T) {
			want := parseWant(t, tc.want)
			path := filepath.Join("testdata", "bad", tc.file)
			res := LoadFiles([]string{path}, Options{})
			f := res.Files[0]
			if f.Integration != nil {
				t.Errorf("manifest was accepted; want %s", tc.want)
			}
			errs := f.Problems.Errors()
			if len(errs) != 1 || !want.matches(path, errs[0]) {
				t.Errorf("want one error %s, got:\n%v", tc.want, f.Problems)
			}
		})
	}
}

// TestBadCasesCoverTestdata keeps the table and the folder in step: a bad
// manifest without an expected error tests nothing.
func TestBadCasesCoverTestdata(t *testing.T) {
	files, err := ListDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	inTable := map[string]bool{"several-problems.yaml": true}
	for _, tc := range badCases {
		if inTable[tc.file] {
			t.Errorf("%s is listed twice", tc.file)
		}
		inTable[tc.file] = true
	}
	for _, f := range files {
		name := filepath.Base(f)
		if !inTable[name] {
			t.Errorf("testdata/bad/%s has no entry in badCases", name)
		}
		delete(inTable, name)
	}
	for name := range inTable {
		t.Errorf("badCases lists %s, which is not in testdata/bad", name)
	}
	if len(badCases) < 45 {
		t.Errorf("only %d bad cases", len(badCases))
	}
}

func TestSeveralProblemsAtOnce(t *testing.T) {
	path := filepath.Join("testdata", "bad", "several-problems.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in, probs := Parse(path, data, Options{})
	if in != nil {
		t.Fatal("manifest was accepted")
	}
	want := []string{
		`10:19: auth.oauth2.clientSecret: a literal secret is not allowed`,
		`11:5: auth.oauth2.scope: unknown field "scope" (did you mean "scopes"?)`,
		`13:12: api.baseUrl: template refers to input "tenant", which is not declared`,
		`15:5: api.headers.Host: header "Host" cannot be set in a manifest`,
		`16:12: api.timeout: timeout 6m is longer than the 5m allowed`,
	}
	errs := probs.Errors()
	if len(errs) != len(want) {
		t.Fatalf("want %d errors, got %d:\n%v", len(want), len(errs), probs)
	}
	for i, w := range want {
		if !parseWant(t, w).matches(path, errs[i]) {
			t.Errorf("error %d: want %s, got %s", i, w, errs[i])
		}
	}
}

func TestTooLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString("id: acme\nname: Acme\n")
	for b.Len() <= MaxManifestBytes {
		b.WriteString("# padding padding padding padding padding padding padding padding\n")
	}
	data := []byte(b.String())
	path := filepath.Join(t.TempDir(), "large.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want := parseWant(t, fmt.Sprintf("0:0: : file is %d bytes, more than the %d allowed", len(data), MaxManifestBytes))

	in, probs := Parse(path, data, Options{})
	if in != nil || len(probs) != 1 || !want.matches(path, probs[0]) {
		t.Errorf("Parse: want %v, got %v", want, probs)
	}
	// LoadFiles refuses by size before reading the file.
	res := LoadFiles([]string{path}, Options{})
	if f := res.Files[0]; f.Integration != nil || len(f.Problems) != 1 || !want.matches(path, f.Problems[0]) {
		t.Errorf("LoadFiles: want %v, got %v", want, f.Problems)
	}
}

func TestDuplicateIDsAcrossFiles(t *testing.T) {
	first := filepath.Join("testdata", "dupid", "a-first.yaml")
	second := filepath.Join("testdata", "dupid", "b-second.yaml")
	// The file later in path order loses, whatever order the files are given in.
	for _, files := range [][]string{{first, second}, {second, first}} {
		res := LoadFiles(files, Options{})
		if got := res.Files[0]; got.Path != first || got.Integration == nil || got.Problems.HasErrors(false) {
			t.Errorf("%s should load, got %v", first, got.Problems)
		}
		want := parseWant(t, `4:5: id: id "acme" is already used by `+first+` (ids must be unique across the folder)`)
		got := res.Files[1]
		errs := got.Problems.Errors()
		if got.Path != second || got.Integration != nil || len(errs) != 1 || !want.matches(second, errs[0]) {
			t.Errorf("%s: want %v, got %v", second, want, got.Problems)
		}
		if n := len(res.Integrations()); n != 1 {
			t.Errorf("want 1 integration, got %d", n)
		}
	}
}

func TestGoodManifests(t *testing.T) {
	env := map[string]string{"ACME_CLIENT_ID": "acme-client", "ACME_PARTNER_KEY": "partner-key"}
	opts := Options{ResolveSecrets: true, Secrets: SecretResolver{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}}
	res, err := LoadPaths([]string{filepath.Join("testdata", "good")}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) < 5 {
		t.Fatalf("want at least 5 good manifests, got %d", len(res.Files))
	}
	for _, f := range res.Files {
		if f.Integration == nil || len(f.Problems) > 0 {
			t.Errorf("%s: want no problems, got:\n%v", f.Path, f.Problems)
		}
	}
	byID := map[string]*Integration{}
	for _, in := range res.Integrations() {
		byID[in.ID] = in
	}
	types := map[AuthType]bool{}
	for _, in := range byID {
		types[in.Auth.Type] = true
		if len(in.Icon) == 0 {
			t.Errorf("%s: no icon", in.ID)
		}
	}
	for _, typ := range []AuthType{AuthOAuth2, AuthClientCredentials, AuthAPIKey, AuthBasic} {
		if !types[typ] {
			t.Errorf("no good manifest of auth type %s", typ)
		}
	}

	oauth := byID["acme-oauth"].Auth.OAuth2
	if v, ok := oauth.ClientSecret.Value(); !ok || v != "file-secret-value" {
		t.Errorf("${file:…} client secret: got %q, %v", v, ok)
	}
	if v, err := oauth.ClientID.Render(Vars{}); err != nil || v != "acme-client" {
		t.Errorf("${ACME_CLIENT_ID} client id: got %q, %v", v, err)
	}
	if oauth.ScopeSeparator != "," || oauth.TokenAuthStyle != TokenAuthBody || !oauth.PKCE || oauth.RefreshMargin.String() != "2m0s" {
		t.Errorf("oauth2 options not compiled: %+v", oauth)
	}

	key := byID["acme-key"]
	if !strings.Contains(string(key.Icon), `<linearGradient id="g">`) {
		t.Errorf("inline icon not kept: %s", key.Icon)
	}
	if in := key.Auth.Inputs[0]; in.Default != "us" || !in.Required || in.MaxLength != DefaultInputMaxLen {
		t.Errorf("input defaults not applied: %+v", in)
	}
	if key.AccentColor != DefaultAccentColor || key.API.Timeout != DefaultTimeout {
		t.Errorf("defaults not applied: accent %s, timeout %s", key.AccentColor, key.API.Timeout)
	}
	if key.API.HealthCheck != 6*time.Hour || byID["acme-actions"].API.HealthCheck != 0 {
		t.Errorf("api.healthCheck: %s, want 6h (and 0 when not declared: %s)", key.API.HealthCheck, byID["acme-actions"].API.HealthCheck)
	}

	if g := byID["acme-graphql"].API; g.TestMethod != "POST" || string(g.TestBody) != `{"query": "{ viewer { id } }"}` || key.API.TestMethod != "GET" || key.API.TestBody != nil {
		t.Errorf("testMethod/testBody: %q %q, and %q %q when not declared", g.TestMethod, g.TestBody, key.API.TestMethod, key.API.TestBody)
	}

	cc := byID["acme-m2m"]
	if cc.Auth.ClientCredentials.ClientIDLabel != "App key" || cc.API.Authorization.Type != AuthorizeHeader {
		t.Errorf("client credentials not compiled: %+v", cc.Auth.ClientCredentials)
	}
	if !cc.API.TestIsPath {
		t.Error("testEndpoint /accounts/… should be a path")
	}
	// OAuth types default to a bearer access token.
	if a := byID["acme-oauth"].API.Authorization; a.Type != AuthorizeBearer || a.Value.Source() != "{{credential.access_token}}" {
		t.Errorf("default authorization: %+v", a)
	}
}

// TestShippedIntegrations loads the manifests the project ships, exactly as
// `plugboard validate --strict` would: no errors and no warnings.
func TestShippedIntegrations(t *testing.T) {
	dir := filepath.Join("..", "integrations.d")
	res, err := LoadPaths([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	if probs := res.Problems(); len(probs) > 0 {
		t.Errorf("want no problems, got:\n%v", probs)
	}
	var manifests, workflows int
	for _, f := range res.Files {
		if f.IsWorkflow() {
			workflows++
		} else {
			manifests++
		}
	}
	if got := len(res.Integrations()); got != manifests {
		t.Errorf("%d of %d manifests loaded", got, manifests)
	}
	if got := len(res.Workflows()); got != workflows || workflows == 0 {
		t.Errorf("%d of %d workflows loaded", got, workflows)
	}
	var ids []string
	for _, in := range res.Integrations() {
		ids = append(ids, in.ID)
		if len(in.Icon) == 0 {
			t.Errorf("%s has no icon", in.ID)
		}
	}
	if !slices.Contains(ids, "zendesk") || !slices.Contains(ids, "github") {
		t.Errorf("expected zendesk and github among %v", ids)
	}
}

func TestLoadPathsMissingFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := LoadPaths([]string{missing}, Options{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("want an error naming %s, got %v", missing, err)
	}
}

// TestYAMLSyntaxErrorLines: yaml.v3 counts lines from 0 for parser errors and
// from 1 for scanner errors; problems must point at the real line either way.
func TestYAMLSyntaxErrorLines(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"flow sequence", "id: acme\nname: [Acme\n", `2:1: : did not find expected ',' or ']'`},
		{"flow mapping", "id: acme\nname: Acme\nauth: {type: x\napi: 1\n", `3:1: : did not find expected ',' or '}'`},
		{"block mapping", "id: acme\nname: Acme\nauth:\n  type: x\n bad: 1\n", `5:1: : did not find expected key`},
		{"tab indent", "id: acme\nname: Acme\nauth:\n\ttype: x\n", `4:1: : found character that cannot start any token`},
		{"mapping value", "id: acme\nname: a: b\n", `2:1: : mapping values are not allowed in this context`},
		{"line 1, which yaml.v3 leaves out", "id: a: b\n", `1:1: : mapping values are not allowed in this context`},
		{"end of file", "id: 'acme\n", `2:1: : found unexpected end of stream`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Parse("x.yaml", []byte(tc.data), Options{})
			if len(probs) != 1 || !parseWant(t, tc.want).matches("x.yaml", probs[0]) {
				t.Errorf("want %s, got %v", tc.want, probs)
			}
		})
	}
}

// Merge serves manifests loaded elsewhere (the embedded demo) first: a
// folder file with one of their ids is rejected, and nothing else changes.
func TestMergeKeepsIDsUnique(t *testing.T) {
	parse := func(path, id string) FileResult {
		src := "id: " + id + "\nname: X\ndescription: d\nauth:\n  type: api_key\n  inputs: [{key: k, label: K}]\napi:\n  baseUrl: https://api.example.com\n  authorization: {type: bearer, token: \"{{inputs.k}}\"}\n  testEndpoint: /me\n"
		in, probs := Parse(path, []byte(src), Options{})
		if in == nil {
			t.Fatalf("%s: %v", path, probs)
		}
		return FileResult{Path: path, Integration: in, Problems: probs}
	}
	res := &Result{Files: []FileResult{parse("dir/a.yaml", "demo-one"), parse("dir/b.yaml", "other")}}
	res = Merge([]FileResult{parse("demo:one.yaml", "demo-one")}, res)
	if len(res.Files) != 3 || res.Files[0].Path != "demo:one.yaml" || res.Files[0].Integration == nil {
		t.Fatalf("merged: %+v", res.Files)
	}
	if res.Files[1].Integration != nil || !strings.Contains(res.Files[1].Problems.Error(), "already used by demo:one.yaml") {
		t.Errorf("the folder's demo-one was not rejected: %v", res.Files[1].Problems)
	}
	if res.Files[2].Integration == nil {
		t.Errorf("an unrelated file was rejected: %v", res.Files[2].Problems)
	}
}
