package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options control how manifests are loaded.
type Options struct {
	// ResolveSecrets reads every secret reference; an unset variable or an
	// unreadable file is then an error. Off, secrets are only checked for form,
	// which is what CI validation needs.
	ResolveSecrets bool
	// AllowUnresolvedSecrets makes an unset secret a warning instead of an
	// error (dev mode, and validate without --check-env): the integration
	// loads, and whatever needs the secret fails when it is used.
	AllowUnresolvedSecrets bool
	Secrets                SecretResolver
	// SecretPolicy limits which variables and files secret references may
	// name. It applies whether or not secrets are resolved, and a refused
	// reference is an error even with AllowUnresolvedSecrets.
	SecretPolicy SecretPolicy
	// ReadFile reads icon files; nil reads regular files of at most
	// MaxIconBytes from disk.
	ReadFile func(string) ([]byte, error)
	// Cache, when set, lets loads (LoadFiles, LoadPaths) reuse the result
	// of files unchanged since the last load with these options.
	Cache *ParseCache
}

// Parse validates one manifest and compiles it. file is used in problems and
// to find files the manifest refers to (icons, secret files).
func Parse(file string, data []byte, opts Options) (*Integration, Problems) {
	return parse(file, data, opts, nil)
}

// parse is Parse telling deps (when not nil) what it read besides data.
func parse(file string, data []byte, opts Options, deps *depRecorder) (*Integration, Problems) {
	d, probs := parseDocument(file, data)
	if probs != nil {
		return nil, probs
	}
	schemaProbs := checkSchema(d, integrationSchema)
	var raw rawManifest
	if err := d.root.Decode(&raw); err != nil || !semanticsApply(schemaProbs) {
		if len(schemaProbs) == 0 {
			line, msg := yamlError(err)
			schemaProbs = Problems{{File: file, Line: line, Message: msg, Severity: Error}}
		}
		sortProblems(schemaProbs)
		return nil, schemaProbs
	}
	c := &compiler{d: d, dir: filepath.Dir(file), opts: opts, used: map[string]bool{}, deps: deps}
	in := c.compile(&raw)
	if len(schemaProbs) > 0 {
		// Report everything at once: the schema's problems, and the semantic
		// errors about other fields (not those the schema already explained).
		for _, p := range c.probs {
			if p.Severity == Error && !overlaps(p.Path, schemaProbs) {
				schemaProbs = append(schemaProbs, p)
			}
		}
		sortProblems(schemaProbs)
		return nil, schemaProbs
	}
	sum := sha256.New()
	sum.Write(data)
	sum.Write([]byte{0})
	sum.Write(in.Icon)
	in.Hash = hex.EncodeToString(sum.Sum(nil))
	in.Source = file
	in.idLine, in.idCol = d.pos("/id")
	sortProblems(c.probs)
	if c.probs.HasErrors(false) {
		return nil, c.probs
	}
	in.Warnings = c.probs
	return in, c.probs
}

// semanticsApply reports whether the semantic rules can run despite schema
// errors: not when the auth type or the document's overall shape is wrong,
// since every rule depends on them.
func semanticsApply(schemaProbs Problems) bool {
	for _, p := range schemaProbs {
		if p.Path == "" || p.Path == "auth" || p.Path == "api" || p.Path == "auth.type" || strings.HasPrefix(p.Path, "auth.inputs") {
			return false
		}
	}
	return true
}

func overlaps(path string, ps Problems) bool {
	for _, p := range ps {
		if path == p.Path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[") {
			return true
		}
	}
	return false
}

type compiler struct {
	d      *document
	dir    string
	opts   Options
	probs  Problems
	auth   AuthType
	inputs map[string]*Input
	keys   []string
	used   map[string]bool // input keys referenced anywhere
	// params are the parameters of the action being compiled (name →
	// required); nil outside actions, where {{parameters.…}} is refused.
	actionParams map[string]bool
	deps         *depRecorder // nil unless a ParseCache asked
}

func (c *compiler) errorf(ptr, hint, format string, args ...any) {
	c.probs = append(c.probs, c.d.problem(ptr, fmt.Sprintf(format, args...), hint))
}

func (c *compiler) keyErrorf(ptr, hint, format string, args ...any) {
	c.probs = append(c.probs, c.d.keyProblem(ptr, fmt.Sprintf(format, args...), hint))
}

func (c *compiler) warnf(ptr, hint, format string, args ...any) {
	p := c.d.problem(ptr, fmt.Sprintf(format, args...), hint)
	p.Severity = Warning
	c.probs = append(c.probs, p)
}

func (c *compiler) compile(raw *rawManifest) *Integration {
	in := &Integration{ID: raw.ID, Name: raw.Name, Description: raw.Description, AccentColor: raw.AccentColor}
	if in.AccentColor == "" {
		in.AccentColor = DefaultAccentColor
	}
	if raw.Description == "" {
		c.warnf("", "add a sentence on what the provider does", "no description; the Connect Portal will show none")
	}
	in.Icon = c.icon(raw.Icon)
	c.auth = AuthType(raw.Auth.Type)
	in.Auth.Type = c.auth
	in.Auth.Inputs = c.compileInputs(raw.Auth.Inputs)

	if raw.Auth.OAuth2 != nil && c.auth != AuthOAuth2 {
		c.keyErrorf("/auth/oauth2", "remove it, or set auth.type to oauth2", "auth.oauth2 is set but auth.type is %s", c.auth)
	}
	if raw.Auth.ClientCredentials != nil && c.auth != AuthClientCredentials {
		c.keyErrorf("/auth/clientCredentials", "remove it, or set auth.type to oauth2_client_credentials", "auth.clientCredentials is set but auth.type is %s", c.auth)
	}
	// A section written as null passes "required"; the schema reports its type.
	switch {
	case c.auth == AuthOAuth2 && raw.Auth.OAuth2 != nil:
		in.Auth.OAuth2 = c.oauth2(raw.Auth.OAuth2)
	case c.auth == AuthClientCredentials && raw.Auth.ClientCredentials != nil:
		in.Auth.ClientCredentials = c.clientCredentials(raw.Auth.ClientCredentials)
	}
	in.API = c.api(&raw.API)
	in.Actions = c.actions(in.ID, raw.Actions)

	for _, key := range c.keys {
		if !c.used[key] && c.auth != AuthAPIKey && c.auth != AuthBasic {
			c.warnf("/auth/inputs/"+strconv.Itoa(c.inputIndex(key)), "refer to it as {{inputs."+key+"}} or remove it", "input %q is declared but never used", key)
		}
	}
	return in
}

func (c *compiler) inputIndex(key string) int {
	for i, k := range c.keys {
		if k == key {
			return i
		}
	}
	return 0
}

func (c *compiler) icon(src string) []byte {
	if src == "" {
		c.warnf("", "add an SVG icon (inline or a file beside the manifest)", "no icon; the Connect Portal will show the name's initial")
		return nil
	}
	var data []byte
	if strings.HasPrefix(strings.TrimSpace(src), "<") {
		data = []byte(src)
	} else {
		if !strings.HasSuffix(strings.ToLower(src), ".svg") {
			c.errorf("/icon", "icons are SVG only: inline <svg …> markup or a .svg file", "icon %q is not an .svg file", src)
			return nil
		}
		clean := filepath.Clean(filepath.FromSlash(src))
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			c.errorf("/icon", "put the icon in the manifest's folder and give a relative path", "icon path %q leaves the manifest's folder", src)
			return nil
		}
		path := filepath.Join(c.dir, clean)
		b, err := readIcon(c.opts, path, c.dir)
		c.deps.icon(path, c.dir, b, err)
		if tooLarge := (*fileTooLargeError)(nil); errors.As(err, &tooLarge) {
			c.errorf("/icon", "", "%s", tooLarge.describe("icon file "+src))
			return nil
		}
		if err != nil {
			c.errorf("/icon", "the path is relative to the manifest's folder", "cannot read icon file %s: %v", src, pathError(err))
			return nil
		}
		data = b
	}
	if err := checkSVG(data); err != nil {
		c.errorf("/icon", "icons must be plain SVG without scripts or external references", "%v", err)
		return nil
	}
	return data
}

func (c *compiler) compileInputs(raws []rawInput) []Input {
	c.inputs = map[string]*Input{}
	out := make([]Input, 0, len(raws))
	for i, r := range raws {
		ptr := "/auth/inputs/" + strconv.Itoa(i)
		if _, dup := c.inputs[r.Key]; dup {
			c.errorf(ptr+"/key", "input keys must be unique", "input %q is declared twice", r.Key)
			continue
		}
		in := Input{Key: r.Key, Label: r.Label, Help: r.Help, Placeholder: r.Placeholder, Secret: r.Secret, Required: true, Enum: r.Enum, MaxLength: r.MaxLength}
		if r.Required != nil {
			in.Required = *r.Required
		}
		if in.MaxLength == 0 {
			in.MaxLength = DefaultInputMaxLen
		}
		if r.Pattern != "" && len(r.Enum) > 0 {
			c.errorf(ptr+"/pattern", "keep one of them", "an input may have a pattern or an enum, not both")
		}
		if r.Pattern != "" {
			re, err := compilePattern(r.Pattern)
			if err != nil {
				c.errorf(ptr+"/pattern", "patterns use RE2 syntax (no lookaround or backreferences)", "invalid regular expression: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			} else {
				in.Pattern = re
			}
		}
		if r.Default != nil {
			in.Default = *r.Default
			if in.Pattern != nil && !in.Pattern.MatchString(in.Default) {
				c.errorf(ptr+"/default", "", "default %q does not match the input's pattern", in.Default)
			}
			if len(in.Enum) > 0 && !contains(in.Enum, in.Default) {
				c.errorf(ptr+"/default", "one of: "+strings.Join(in.Enum, ", "), "default %q is not one of the input's enum values", in.Default)
			}
			if r.Secret && in.Default != "" {
				c.errorf(ptr+"/default", "a secret has no default; leave it out", "secret input %q has a default value", r.Key)
			}
		}
		out = append(out, in)
		c.inputs[r.Key] = &out[len(out)-1]
		c.keys = append(c.keys, r.Key)
	}
	// out must not grow after pointers into it were taken; it was sized above.
	return out
}

// compilePattern compiles an input's pattern to match whole values. The
// pattern is parsed on its own first: wrapped in ^(?:…)$ unchecked, an
// unbalanced pattern such as "eu|us)|(.*" would close the group early and
// match anything.
func compilePattern(pattern string) (*regexp.Regexp, error) {
	if _, err := syntax.Parse(pattern, syntax.Perl); err != nil {
		return nil, err
	}
	return regexp.Compile("^(?:" + pattern + ")$")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// credentialFields returns the credential fields templates may use for the
// integration's auth type.
func (c *compiler) credentialFields() []string {
	switch c.auth {
	case AuthOAuth2:
		return []string{"access_token", "token_type"}
	case AuthClientCredentials:
		return CredentialFields
	}
	return nil
}

// template parses src and checks every reference against what exists.
func (c *compiler) template(ptr, src string, allowCredential bool) *Template {
	t, err := parseTemplate(src)
	if err != nil {
		c.errorf(ptr, "", "%v", err)
		return nil
	}
	ok := true
	for _, r := range t.Refs() {
		switch r.Namespace {
		case NSParameters:
			if c.actionParams == nil {
				c.errorf(ptr, "only an action's path, query, headers and body may use its parameters", "{{%s}} cannot be used here", r)
				ok = false
			} else if _, declared := c.actionParams[r.Key]; !declared {
				hint := didYouMean(r.Key, sortedBoolKeys(c.actionParams))
				if hint == "" {
					hint = "declare it under parameters.properties"
				}
				c.errorf(ptr, hint, "template refers to parameter %q, which is not declared", r.Key)
				ok = false
			}
		case NSInputs:
			if c.actionParams != nil {
				c.errorf(ptr, "an action reaches the connection's inputs through api.baseUrl and api.headers", "{{%s}}: an action may only refer to its parameters", r)
				ok = false
				continue
			}
			c.used[r.Key] = true
			if _, declared := c.inputs[r.Key]; !declared {
				hint := didYouMean(r.Key, c.keys)
				if hint == "" {
					hint = "declare it under auth.inputs"
				}
				c.errorf(ptr, hint, "template refers to input %q, which is not declared", r.Key)
				ok = false
			}
		case NSCredential:
			fields := c.credentialFields()
			switch {
			case !allowCredential:
				c.errorf(ptr, "only api.authorization may use credential values", "{{%s}} cannot be used here", r)
				ok = false
			case fields == nil:
				c.errorf(ptr, "refer to what the user typed as {{inputs.<key>}}", "{{%s}}: %s integrations have no credential token", r, c.auth)
				ok = false
			case !contains(fields, r.Key):
				hint := didYouMean(r.Key, fields)
				if hint == "" {
					hint = "available: " + strings.Join(fields, ", ")
				}
				c.errorf(ptr, hint, "{{%s}}: unknown credential field for %s", r, c.auth)
				ok = false
			}
		default:
			hint := didYouMean(r.Namespace, []string{NSInputs, NSCredential, NSParameters})
			if hint == "" {
				hint = "references start with inputs., credential. or (in actions) parameters."
			}
			c.errorf(ptr, hint, "unknown template namespace %q in {{%s}}", r.Namespace, r)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return t
}

// urlTemplate compiles an absolute URL template whose references may only be inputs.
func (c *compiler) urlTemplate(ptr, src string) (*Template, urlShape) {
	t := c.template(ptr, src, false)
	if t == nil {
		return nil, urlShape{}
	}
	shape, err := compileURL(t)
	if err != nil {
		c.errorf(ptr, "", "%v", err)
		return nil, shape
	}
	for _, r := range shape.hostRefs {
		in := c.inputs[r.Key]
		if in == nil {
			continue
		}
		if in.Pattern == nil && len(in.Enum) == 0 {
			c.errorf(ptr, "add pattern: \"[a-z0-9][a-z0-9-]*\" (or an enum) to input "+r.Key, "input %q is used in the URL host but does not declare a pattern or enum", r.Key)
		}
		if in.Secret {
			c.errorf(ptr, "", "secret input %q cannot be used in a URL host", r.Key)
		}
	}
	if shape.scheme == "http" && !isLoopback(shape.hostname) {
		c.warnf(ptr, "use https; --strict rejects plain http", "URL uses plain http")
	}
	return t, shape
}

// value compiles a string that is either a whole secret reference or a template.
func (c *compiler) value(ptr, src string, allowCredential bool) Value {
	ref, ok, err := parseSecretRef(src)
	if err != nil {
		c.errorf(ptr, "", "%v", err)
		return Value{}
	}
	if ok {
		c.resolve(ptr, ref)
		return Value{Secret: ref}
	}
	return Value{Template: c.template(ptr, src, allowCredential)}
}

func (c *compiler) secret(ptr, src, envHint string) *SecretRef {
	ref, ok, err := parseSecretRef(src)
	if err != nil {
		c.errorf(ptr, "", "%v", err)
		return nil
	}
	if !ok {
		c.errorf(ptr, "reference it as ${"+envHint+"} and set that environment variable, or ${file:path}", "a literal secret is not allowed in a manifest")
		return nil
	}
	c.resolve(ptr, ref)
	return ref
}

// readIcon reads an icon file of the manifest folder dir.
func readIcon(opts Options, path, dir string) ([]byte, error) {
	if opts.ReadFile != nil {
		return opts.ReadFile(path)
	}
	return readInFolder(path, dir, MaxIconBytes)
}

// resolveSecret applies the secret policy to a reference and, when
// secrets are resolved, reads it.
func resolveSecret(opts Options, ref *SecretRef, dir string) error {
	err := opts.SecretPolicy.check(ref, dir)
	if err == nil && opts.ResolveSecrets {
		err = opts.Secrets.resolve(ref, dir, &opts.SecretPolicy)
	}
	return err
}

// resolve applies the secret policy to a reference and, when secrets are
// resolved, reads it.
func (c *compiler) resolve(ptr string, ref *SecretRef) {
	err := resolveSecret(c.opts, ref, c.dir)
	c.deps.secret(ref, c.dir, err)
	if err == nil {
		return
	}
	if r, ok := refusal(err); ok {
		c.errorf(ptr, r.hint, "%v", err)
		return
	}
	if c.opts.AllowUnresolvedSecrets {
		c.warnf(ptr, "dev mode loads it anyway; flows that need this secret will fail, and production rejects the manifest", "%v", err)
		c.probs[len(c.probs)-1].Code = SecretUnset
		return
	}
	c.errorf(ptr, "secrets are read when the gateway loads the manifest", "%v", err)
	c.probs[len(c.probs)-1].Code = SecretUnset
}

func (c *compiler) params(ptr string, raw map[string]string) map[string]Value {
	if len(raw) == 0 {
		return nil
	}
	out := make(map[string]Value, len(raw))
	for _, name := range sortedStringKeys(raw) {
		out[name] = c.value(ptr+"/"+escapePointer(name), raw[name], false)
	}
	return out
}

func sortedStringKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *compiler) duration(ptr, src string, def time.Duration) time.Duration {
	if src == "" {
		return def
	}
	d, err := time.ParseDuration(src)
	if err != nil || d <= 0 {
		c.errorf(ptr, "e.g. 30s", "invalid duration %q", src)
		return def
	}
	return d
}

// reservedParams are set by the gateway's OAuth client and may not be overridden.
var reservedParams = map[string]bool{
	"client_id": true, "client_secret": true, "redirect_uri": true, "state": true, "code": true,
	"code_verifier": true, "code_challenge": true, "code_challenge_method": true, "response_type": true,
	"refresh_token": true, "scope": true,
}

func (c *compiler) checkReserved(ptr string, raw map[string]string, extra ...string) {
	for _, name := range sortedStringKeys(raw) {
		if reservedParams[name] || contains(extra, name) {
			c.keyErrorf(ptr+"/"+escapePointer(name), "the gateway sets this parameter itself", "parameter %q cannot be set here", name)
		}
	}
}

func (c *compiler) oauth2(raw *rawOAuth2) *OAuth2Config {
	const p = "/auth/oauth2"
	cfg := &OAuth2Config{
		Scopes:         raw.Scopes,
		ScopeSeparator: orDefault(raw.ScopeSeparator, " "),
		PKCE:           raw.PKCE == nil || *raw.PKCE,
		TokenAuthStyle: TokenAuthStyle(orDefault(raw.TokenAuthStyle, string(TokenAuthHeader))),
		RefreshMargin:  c.duration(p+"/refreshMargin", raw.RefreshMargin, DefaultRefreshMargin),
	}
	cfg.AuthorizationURL, _ = c.urlTemplate(p+"/authorizationUrl", raw.AuthorizationURL)
	cfg.TokenURL, _ = c.urlTemplate(p+"/tokenUrl", raw.TokenURL)
	if raw.RevocationURL != "" {
		cfg.RevocationURL, _ = c.urlTemplate(p+"/revocationUrl", raw.RevocationURL)
	}
	cfg.ClientID = c.value(p+"/clientId", raw.ClientID, false)
	cfg.ClientSecret = c.secret(p+"/clientSecret", raw.ClientSecret, strings.ToUpper(strings.ReplaceAll(c.d.valueString("/id"), "-", "_"))+"_CLIENT_SECRET")
	c.checkReserved(p+"/authorizationParams", raw.AuthorizationParams)
	c.checkReserved(p+"/tokenParams", raw.TokenParams, "grant_type")
	cfg.AuthorizationParams = c.params(p+"/authorizationParams", raw.AuthorizationParams)
	cfg.TokenParams = c.params(p+"/tokenParams", raw.TokenParams)
	return cfg
}

func (c *compiler) clientCredentials(raw *rawClientCredentials) *ClientCredentialsConfig {
	const p = "/auth/clientCredentials"
	cfg := &ClientCredentialsConfig{
		Scopes:            raw.Scopes,
		ScopeSeparator:    orDefault(raw.ScopeSeparator, " "),
		TokenAuthStyle:    TokenAuthStyle(orDefault(raw.TokenAuthStyle, string(TokenAuthHeader))),
		ClientIDLabel:     orDefault(raw.ClientIDLabel, "Client ID"),
		ClientSecretLabel: orDefault(raw.ClientSecretLabel, "Client secret"),
		RefreshMargin:     c.duration(p+"/refreshMargin", raw.RefreshMargin, DefaultRefreshMargin),
	}
	cfg.TokenURL, _ = c.urlTemplate(p+"/tokenUrl", raw.TokenURL)
	c.checkReserved(p+"/tokenParams", raw.TokenParams)
	cfg.TokenParams = c.params(p+"/tokenParams", raw.TokenParams)
	return cfg
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Headers the gateway manages itself; a manifest may not set them.
var managedHeaders = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true, "keep-alive": true,
	"upgrade": true, "te": true, "trailer": true, "proxy-authorization": true, "proxy-authenticate": true,
	"proxy-connection": true, "cookie": true, "set-cookie": true,
	// The proxy's own controls: a value from a step or an end user must not
	// redirect or unwrap the call.
	"x-paragon-proxy-url": true, "x-paragon-use-raw-response": true,
}

var secretHeaderRE = regexp.MustCompile(`(?i)(authorization|api[-_]?key|token|secret|password)`)

func (c *compiler) api(raw *rawAPI) APIConfig {
	const p = "/api"
	cfg := APIConfig{Timeout: c.duration(p+"/timeout", raw.Timeout, DefaultTimeout), Websocket: raw.Websocket}
	if cfg.Timeout > MaxTimeout {
		c.errorf(p+"/timeout", "", "timeout %s is longer than the %s allowed", raw.Timeout, strings.TrimSuffix(MaxTimeout.String(), "0s"))
	}
	var base urlShape
	cfg.BaseURL, base = c.urlTemplate(p+"/baseUrl", raw.BaseURL)
	cfg.Authorization = c.authorization(raw.Authorization)
	for _, name := range sortedStringKeys(raw.Headers) {
		hp := p + "/headers/" + escapePointer(name)
		if managedHeaders[strings.ToLower(name)] {
			c.keyErrorf(hp, "the gateway sets it per request", "header %q cannot be set in a manifest", name)
			continue
		}
		c.checkText(hp, raw.Headers[name])
		v := c.value(hp, raw.Headers[name], false)
		if v.Template != nil && v.Template.IsLiteral() && secretHeaderRE.MatchString(name) && raw.Headers[name] != "" {
			c.errorf(hp, "reference it as ${ENV_NAME}, or use api.authorization for the user's credential", "header %q looks like it holds a literal secret", name)
		}
		cfg.Headers = append(cfg.Headers, Header{Name: name, Value: v})
	}
	if raw.TestEndpoint == "" {
		c.warnf(p, "add api.testEndpoint so credentials are checked before they are saved", "no testEndpoint; connections are saved without a test request")
	} else {
		ptr := p + "/testEndpoint"
		t := c.template(ptr, raw.TestEndpoint, false)
		switch {
		case t == nil:
		case strings.HasPrefix(raw.TestEndpoint, "/"):
			if err := compilePath(t); err != nil {
				c.errorf(ptr, "", "%v", err)
			} else {
				cfg.TestEndpoint, cfg.TestIsPath = t, true
			}
		default:
			shape, err := compileURL(t)
			switch {
			case err != nil:
				c.errorf(ptr, "use a path relative to baseUrl, e.g. /me", "%v", err)
			case cfg.BaseURL != nil && shape.hostSrc != base.hostSrc:
				c.errorf(ptr, "use a path relative to baseUrl, e.g. /me", "testEndpoint must stay on the API's host %s", base.hostSrc)
			default:
				cfg.TestEndpoint = t
			}
		}
	}
	cfg.TestMethod = http.MethodGet
	if raw.TestMethod != "" {
		cfg.TestMethod = raw.TestMethod
		if raw.TestEndpoint == "" {
			c.errorf(p+"/testMethod", "add api.testEndpoint", "testMethod without a testEndpoint")
		}
	}
	if raw.TestBody != nil {
		switch {
		case cfg.TestMethod != http.MethodPost:
			c.errorf(p+"/testBody", "add testMethod: POST", "a %s test request has no body", cfg.TestMethod)
		case !json.Valid([]byte(*raw.TestBody)):
			c.errorf(p+"/testBody", `e.g. '{"query": "{ viewer { id } }"}'`, "testBody is not valid JSON")
		default:
			cfg.TestBody = []byte(*raw.TestBody)
		}
	}
	if raw.HealthCheck != nil {
		hp := p + "/healthCheck/interval"
		d, err := time.ParseDuration(raw.HealthCheck.Interval)
		switch {
		case err != nil || d <= 0:
			c.errorf(hp, "e.g. 6h", "invalid duration %q", raw.HealthCheck.Interval)
		case d < MinHealthCheck:
			c.errorf(hp, "", "health check interval %s is shorter than the %s allowed", raw.HealthCheck.Interval, strings.TrimSuffix(MinHealthCheck.String(), "0s"))
		case cfg.TestEndpoint == nil:
			c.errorf(p+"/healthCheck", "add api.testEndpoint", "a health check calls api.testEndpoint, which is not declared")
		default:
			cfg.HealthCheck = d
		}
	}
	return cfg
}

// checkText rejects control characters in the literal text of a header or
// query value; rendering checks the values references bring in.
func (c *compiler) checkText(ptr, src string) {
	if strings.IndexFunc(src, isControl) >= 0 {
		c.errorf(ptr, "write the value on one line", "value contains a control character (CR, LF, NUL …)")
	}
}

func (c *compiler) authorization(raw *rawAuthorization) Authorization {
	const p = "/api/authorization"
	oauth := c.auth == AuthOAuth2 || c.auth == AuthClientCredentials
	if raw == nil {
		if oauth {
			t, _ := parseTemplate("{{credential.access_token}}")
			return Authorization{Type: AuthorizeBearer, Value: t}
		}
		c.errorf("/api", "e.g. {type: header, name: X-Api-Key, value: \"{{inputs.api_key}}\"}", "api.authorization is required for %s integrations: say how requests carry the user's key", c.auth)
		return Authorization{}
	}
	a := Authorization{Type: AuthorizationType(raw.Type), Name: raw.Name}
	unused := func(field string, set bool) {
		if set {
			c.keyErrorf(p+"/"+field, "", "%q is not used by authorization type %s", field, raw.Type)
		}
	}
	switch a.Type {
	case AuthorizeBearer:
		unused("name", raw.Name != "")
		unused("value", raw.Value != "")
		unused("username", raw.Username != nil)
		unused("password", raw.Password != nil)
		src := "{{credential.access_token}}"
		if raw.Token != nil {
			src = *raw.Token
		} else if !oauth {
			c.errorf(p, "e.g. token: \"{{inputs.api_key}}\"", "bearer authorization for %s integrations needs a token template", c.auth)
			return a
		}
		c.checkText(p+"/token", src)
		a.Value = c.template(p+"/token", src, true)
	case AuthorizeHeader, AuthorizeQuery:
		unused("token", raw.Token != nil)
		unused("username", raw.Username != nil)
		unused("password", raw.Password != nil)
		if a.Type == AuthorizeHeader && managedHeaders[strings.ToLower(raw.Name)] {
			c.errorf(p+"/name", "", "header %q cannot carry the credential", raw.Name)
		}
		c.checkText(p+"/value", raw.Value)
		a.Value = c.template(p+"/value", raw.Value, true)
	case AuthorizeBasic:
		unused("token", raw.Token != nil)
		unused("name", raw.Name != "")
		unused("value", raw.Value != "")
		if raw.Username != nil { // else the schema has reported it missing
			a.Username = c.template(p+"/username", *raw.Username, true)
		}
		pw := ""
		if raw.Password != nil {
			pw = *raw.Password
		}
		a.Password = c.template(p+"/password", pw, true)
	}
	return a
}

func (d *document) valueString(ptr string) string {
	s, _ := valueAt(d.value, ptr).(string)
	return s
}
