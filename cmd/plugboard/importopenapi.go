package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/plugboardhq/plugboard/manifest"

	"gopkg.in/yaml.v3"
)

const importHelp = `
Write a manifest from a description of an API. Formats:
  openapi   an OpenAPI 3.0 or 3.1 document (YAML or JSON file)

Run ` + "`plugboard import openapi --help`" + ` for its flags.
`

func runImport(args []string, stdout, stderr io.Writer) error {
	formats := []string{"openapi"}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintf(w, "Usage: plugboard import FORMAT [flags] FILE\n%s", importHelp)
		if len(args) == 0 {
			return exitError{exitUsage}
		}
		return nil
	}
	if args[0] == "openapi" {
		return runImportOpenAPI(args[1:], stdout, stderr)
	}
	msg := fmt.Sprintf("plugboard import: unknown format %q", args[0])
	if s := suggest(args[0], formats); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else {
		msg += " (want " + strings.Join(formats, ", ") + ")"
	}
	fmt.Fprintf(stderr, "%s\nRun `plugboard import --help` for the formats.\n", msg)
	return exitError{exitUsage}
}

const importOpenAPIHelp = `
Read an OpenAPI 3.0 or 3.1 document (a YAML or JSON file) and write a
manifest that validates, with a placeholder icon beside it:

  base URL       from servers (--server picks one); a server variable that
                 varies (no enum, or several values, e.g. {subdomain})
                 becomes an input the user fills in, one that cannot (the
                 scheme, the port, a single value) takes its default
  auth           from components.securitySchemes, the first the document
                 requires that Plugboard supports (--security picks one):
                 oauth2 authorizationCode → oauth2, oauth2 clientCredentials
                 → oauth2_client_credentials, apiKey in a header or query →
                 api_key, http bearer → api_key (a pasted token), http
                 basic → basic; scopes are those the imported operations
                 require
  test endpoint  a GET without required parameters that needs the
                 credential, preferring one that names the signed-in user
                 (/me, /user, /account, /whoami …), else the first
  actions        one per operation: operationId in snake case as the name,
                 summary as the title, description, method, path; path,
                 query and header parameters and the properties of a JSON
                 request body as the parameters' JSON Schema, local $refs
                 resolved; --tags and --operations choose, --max-actions caps
                 (deprecated operations only when --operations names them;
                 actions that would take the manifest past 256 KiB are left
                 out, from the last)

What it could not decide is printed on standard error, located in the
document (FILE:LINE:COL: warning: …): which of several security schemes or
servers it picked, a missing or relative server URL (the base URL is then a
placeholder: --base-url sets it), schemes it cannot use (openIdConnect,
mutualTLS, implicit and password flows, cookies), operations skipped and
why. What it chose is printed on standard output. Only $refs inside the
document are followed.

Exit status: 0 written, 1 the document cannot be imported (not OpenAPI 3,
Swagger 2.0, broken $ref …) or the files cannot be written, 2 usage errors
(bad flags, a missing or unreadable FILE).
`

// defaultMaxActions caps the actions written unless --max-actions says
// otherwise; the schema allows 200.
const defaultMaxActions = 50

func runImportOpenAPI(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import openapi", "[flags] FILE", importOpenAPIHelp, stderr)
	id := fs.String("id", "", "the integration's id (default: from info.title)")
	name := fs.String("name", "", "display name (default: info.title)")
	out := fs.String("out", "", "manifest file (.yaml/.yml) or folder to write in (default integrations.d if it exists, else .)")
	force := fs.Bool("force", false, "overwrite existing files")
	baseURL := fs.String("base-url", "", "the API's base URL, instead of the document's servers")
	server := fs.Int("server", 1, "which of the document's servers to use, counting from 1")
	security := fs.String("security", "", "the security scheme to use (a name under components.securitySchemes)")
	tags := fs.String("tags", "", "import only operations with one of these tags (comma-separated)")
	operations := fs.String("operations", "", "import only these operations (operationIds, comma-separated)")
	maxActions := fs.Int("max-actions", defaultMaxActions, "write at most this many actions (0: none; at most 200)")
	accent := fs.String("accent-color", "", "accent colour #RRGGBB (default: one picked from the id)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	usage := func(format string, args ...any) error {
		fmt.Fprintf(stderr, "plugboard import openapi: "+format+"\n", args...)
		return exitError{exitUsage}
	}
	switch {
	case fs.NArg() == 0:
		return usage("which document? Give the OpenAPI file: plugboard import openapi FILE")
	case fs.NArg() > 1:
		return usage("one document at a time (got %d: %s)", fs.NArg(), strings.Join(fs.Args(), ", "))
	case *maxActions < 0 || *maxActions > 200:
		return usage("--max-actions %d is outside 0…200", *maxActions)
	case *server < 1:
		return usage("--server counts from 1")
	case *accent != "" && !accentRE.MatchString(*accent):
		return usage("accent colour %q is not #RRGGBB", *accent)
	case *baseURL != "":
		if err := checkBaseURL(*baseURL); err != nil {
			return usage("%v", err)
		}
	}
	if *id != "" {
		if err := checkID(*id); err != nil {
			return usage("%v", err)
		}
	}
	file := fs.Arg(0)
	d, err := readOpenAPI(file)
	if err != nil {
		var se *specError
		var ses specErrors
		if !errors.As(err, &se) && !errors.As(err, &ses) {
			return usage("cannot read %s: %v", file, pathErrorText(err))
		}
		fmt.Fprintln(stderr, err)
		fmt.Fprintf(stderr, "plugboard import openapi: %s cannot be imported; nothing written\n", file)
		return exitError{exitInvalid}
	}
	im := &importer{d: d, opts: importOptions{
		id: *id, name: *name, baseURL: *baseURL, server: *server, security: *security,
		tags: splitList(*tags), operations: splitList(*operations), maxActions: *maxActions, accent: *accent,
	}}
	m, err := im.run()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return usage("%v", err)
		}
		fmt.Fprintln(stderr, err)
		return exitError{exitInvalid}
	}
	manifestPath, iconPath := outputPaths(*out, m.id)
	s := &scaffold{manifestPath: manifestPath, iconPath: iconPath, icon: placeholderIcon(m.name, m.accent)}
	probs, err := im.validated(m, s, file)
	if err != nil {
		return err
	}
	for _, n := range im.notes {
		fmt.Fprintln(stderr, n)
	}
	reportProblems(stderr, probs)
	if probs.HasErrors(false) {
		fmt.Fprintf(stderr, "plugboard import openapi: the manifest written from %s does not validate (a bug: please report it with the document); nothing written\n", file)
		return exitError{exitInvalid}
	}
	if err := s.write(*force); err != nil {
		fmt.Fprintf(stderr, "plugboard import openapi: %v\n", err)
		return exitError{exitInvalid}
	}
	fmt.Fprintf(stdout, "wrote %s and %s from %s (OpenAPI %s)\n", manifestPath, iconPath, file, d.version)
	for _, line := range im.decisions {
		fmt.Fprintln(stdout, "  "+line)
	}
	return nil
}

type importOptions struct {
	id, name, baseURL, security, accent string
	server, maxActions                  int
	tags, operations                    []string
}

// importer turns a document into a manifest, keeping what it decided
// (decisions) and what it could not (notes).
type importer struct {
	d         *openapiDoc
	opts      importOptions
	notes     []string
	decisions []string
	id        string
	// credentialHeader is the header the chosen scheme sends the key in;
	// operations that declare it as a parameter do not get it again.
	credentialHeader string
	// chosen is the security scheme the manifest uses ("" when none).
	chosen string
	// schemaSteps counts convertSchema's calls for the schema at hand.
	schemaSteps int
}

func (im *importer) notef(n *yaml.Node, format string, args ...any) {
	im.notes = append(im.notes, im.d.at(n)+": warning: "+fmt.Sprintf(format, args...))
}

func (im *importer) decidef(format string, args ...any) {
	im.decisions = append(im.decisions, fmt.Sprintf(format, args...))
}

// maxNameLen is the longest action name whose tool name (<id>-<name>)
// fits in 64 characters.
func (im *importer) maxNameLen() int { return min(63, 64-len(im.id)-1) }

// imported is the manifest about to be written.
type imported struct {
	id, name, description, accent string
	title, version                string // info.title and info.version, for the header comment

	authType                    string
	authComment                 string
	inputs                      []inputDef
	oauthAuthURL, oauthTokenURL string
	scopes                      []string
	scopesNote                  string // a comment when no scopes were chosen
	envPrefix                   string

	baseURL, baseComment string
	authorization        *yaml.Node
	testEndpoint         string
	testComment          string
	actions              []*action
	operations           int // how many operations were chosen (--tags, --operations)
}

type inputDef struct {
	key, label, help, def, pattern string
	enum                           []string
	secret                         bool
}

func (im *importer) run() (*imported, error) {
	info := field(im.d.root, "info")
	m := &imported{title: text(info, "title"), version: text(info, "version")}
	m.name = im.opts.name
	if m.name == "" {
		m.name = truncate(oneLine(m.title), 64)
	}
	if m.name == "" {
		return nil, im.d.errAt(info, "the document has no info.title; give --name (and --id)")
	}
	if len(m.name) > 64 {
		return nil, usageError{fmt.Sprintf("name %q is longer than 64 characters", m.name)}
	}
	m.id = im.opts.id
	if m.id == "" {
		m.id = idFromTitle(m.title)
		if checkID(m.id) != nil {
			return nil, usageError{fmt.Sprintf("no id can be made from info.title %q; give --id", m.title)}
		}
		im.decidef("id: %s (from info.title; --id sets another)", m.id)
	}
	im.id = m.id
	m.envPrefix = envPrefix(m.id)
	m.description = summarize(text(info, "description"), 500)
	if m.description == "" {
		m.description = m.name + "'s API."
	}
	m.accent = im.opts.accent
	if m.accent == "" {
		m.accent = defaultAccent(m.id)
	}

	if err := im.servers(m); err != nil {
		return nil, err
	}
	ops := im.operations()
	if err := im.securitySchemes(m, ops); err != nil {
		return nil, err
	}
	im.pickTestEndpoint(m, ops)
	if err := im.actions(m, ops); err != nil {
		return nil, err
	}
	return m, nil
}

// idFromTitle makes a short id from a title: its first three significant
// words ("Swagger Petstore - OpenAPI 3.0" → "swagger-petstore").
func idFromTitle(title string) string {
	var words []string
	for _, w := range strings.Split(slugify(title), "-") {
		switch {
		case w == "", w == "api", w == "apis", w == "openapi", w == "rest", w == "the", w == "service":
			continue
		case isDigits(w), strings.HasPrefix(w, "v") && isDigits(w[1:]): // versions
			continue
		}
		words = append(words, w)
		if len(words) == 3 {
			break
		}
	}
	return strings.Join(words, "-")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// summarize keeps the first paragraph of a (Markdown) description, on one
// line, cut at a word to at most n bytes.
func summarize(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	s = oneLine(s)
	if len(s) <= n {
		return s
	}
	cut := truncate(s, n-1)
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}

// serverVarRE finds {name} in a server URL.
var serverVarRE = regexp.MustCompile(`\{([^{}]+)\}`)

// servers sets the base URL.
func (im *importer) servers(m *imported) error {
	list := items(field(im.d.root, "servers"))
	serversNode := field(im.d.root, "servers")
	if im.opts.baseURL != "" {
		base, inputs := templateURL(strings.TrimRight(im.opts.baseURL, "/"))
		m.baseURL, m.baseComment = base, "from --base-url"
		for _, in := range inputs {
			m.inputs = append(m.inputs, inputDef{key: in.key, label: in.label, pattern: in.pattern})
		}
		im.decidef("base URL: %s (--base-url)", base)
		return nil
	}
	if len(list) == 0 {
		m.baseURL, m.baseComment = "https://api.example.com", "CHANGE ME: the document names no server"
		im.notef(im.d.root, "the document has no servers: the base URL is a placeholder, https://api.example.com (--base-url sets it)")
		im.decidef("base URL: https://api.example.com (a placeholder)")
		return nil
	}
	if im.opts.server > len(list) {
		return usageError{fmt.Sprintf("--server %d: the document has %d server(s)", im.opts.server, len(list))}
	}
	srv := list[im.opts.server-1]
	raw := strings.TrimSpace(text(srv, "url"))
	if len(list) > 1 && im.opts.server == 1 {
		var urls []string
		for i, s := range list {
			urls = append(urls, fmt.Sprintf("%d: %s", i+1, text(s, "url")))
		}
		im.notef(serversNode, "%d servers (%s); used the first (--server N picks another)", len(list), strings.Join(urls, ", "))
	}
	vars := field(srv, "variables")
	// Where the URL's host ends, to tell host variables from path ones.
	schemeEnd := strings.Index(raw, "://")
	hostEnd := len(raw)
	if schemeEnd >= 0 {
		if j := strings.Index(raw[schemeEnd+3:], "/"); j >= 0 {
			hostEnd = schemeEnd + 3 + j
		}
	}
	var b strings.Builder
	last := 0
	seen := map[string]bool{}
	for _, loc := range serverVarRE.FindAllStringSubmatchIndex(raw, -1) {
		b.WriteString(raw[last:loc[0]])
		last = loc[1]
		name := raw[loc[2]:loc[3]]
		def := field(vars, name)
		defValue := text(def, "default")
		enum := scalars(field(def, "enum"))
		if def == nil {
			im.notef(srv, "server variable {%s} is not declared under variables", name)
		}
		inHost := schemeEnd >= 0 && loc[0] > schemeEnd && loc[0] < hostEnd
		position := "path"
		switch {
		case schemeEnd < 0 || loc[0] < schemeEnd:
			position = "scheme"
		case inHost && strings.Contains(raw[schemeEnd+3:loc[0]], ":"):
			position = "port"
		case inHost:
			position = "host"
			after, _, _ := strings.Cut(raw[loc[1]:hostEnd], ":")
			if strings.Contains(raw[schemeEnd+3:loc[0]], "{") || !hostTemplateFits(after) {
				position = "whole host" // or a second variable in it
			}
		}
		varies := len(enum) != 1
		if !varies || position == "scheme" || position == "port" || position == "whole host" {
			value := defValue
			if value == "" && len(enum) > 0 {
				value = enum[0]
			}
			if value == "" {
				value = name
			}
			if varies {
				im.notef(keyNode(vars, name, srv), "server variable {%s} stands for the %s, which a manifest cannot leave to the user; used %q", name, position, value)
			}
			b.WriteString(value)
			continue
		}
		key := inputKey(name)
		b.WriteString("{{inputs." + key + "}}")
		if seen[key] {
			continue
		}
		seen[key] = true
		in := inputDef{key: key, label: titleFromID(strings.ReplaceAll(key, "_", "-")), help: summarize(text(def, "description"), 500), def: defValue}
		if len(enum) > 1 {
			in.enum = enum
		} else if position == "host" {
			in.pattern = `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`
		} else {
			in.pattern = `[A-Za-z0-9._~-]+`
		}
		m.inputs = append(m.inputs, in)
		im.decidef("server variable {%s} → input %s (the user fills it in the Connect Portal)", name, key)
	}
	b.WriteString(raw[last:])
	base := b.String()
	u, err := url.Parse(urlVarRE.ReplaceAllString(base, "x"))
	switch {
	case err != nil:
		return im.d.errAt(field(srv, "url"), "server URL %q is not a URL: %v", raw, err)
	case u.Scheme == "" && u.Host == "":
		path := strings.TrimRight("/"+strings.TrimLeft(base, "/"), "/")
		base = "https://api.example.com" + path
		im.notef(field(srv, "url"), "server URL %q is relative to wherever the document is served; the base URL is a placeholder, %s (--base-url sets it)", raw, base)
		m.baseComment = "CHANGE ME: the document's server URL " + raw + " is relative"
	case u.Scheme != "https" && u.Scheme != "http":
		return im.d.errAt(field(srv, "url"), "server URL %q is not http(s)", raw)
	case u.Scheme == "http":
		im.notef(field(srv, "url"), "server URL %q uses plain http; validate --strict refuses it", raw)
	}
	if u != nil && (u.RawQuery != "" || u.Fragment != "") {
		base = strings.SplitN(strings.SplitN(base, "#", 2)[0], "?", 2)[0]
		im.notef(field(srv, "url"), "server URL %q has a query; left out of the base URL", raw)
	}
	m.baseURL = strings.TrimRight(base, "/")
	if m.baseComment == "" {
		m.baseComment = fmt.Sprintf("from servers[%d]", im.opts.server-1)
	}
	im.decidef("base URL: %s (%s)", m.baseURL, m.baseComment)
	return nil
}

// hostTemplateFits reports whether what follows a host variable is a
// fixed domain of at least two labels, as manifests require.
func hostTemplateFits(after string) bool { return fixedDomainRE.MatchString(after) }

var fixedDomainRE = regexp.MustCompile(`^\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)

func keyNode(m *yaml.Node, key string, fallback *yaml.Node) *yaml.Node {
	for _, p := range pairs(m) {
		if p.key == key {
			return p.keyN
		}
	}
	return fallback
}

// scheme is a security scheme and what a manifest can make of it.
type scheme struct {
	name   string
	keyN   *yaml.Node
	node   *yaml.Node
	kind   string // oauth2, oauth2_client_credentials, api_key, basic; "" unsupported
	why    string // why it is unsupported
	detail string // e.g. "apiKey in header X-API-Key"
}

// securitySchemes picks the auth type.
func (im *importer) securitySchemes(m *imported, ops []*operation) error {
	comps := field(field(im.d.root, "components"), "securitySchemes")
	var all []*scheme
	byName := map[string]*scheme{}
	for _, p := range pairs(comps) {
		n, err := im.d.deref(p.value)
		if err != nil {
			im.notef(p.keyN, "security scheme %s skipped: %v", p.key, err)
			continue
		}
		s := classify(p.key, n)
		s.keyN = p.keyN
		all = append(all, s)
		byName[p.key] = s
	}
	// The order the document requires them in: the top-level security
	// first, then the operations'.
	var order []string
	inOrder := map[string]bool{}
	requirements := func(sec *yaml.Node) {
		for _, req := range items(sec) {
			for _, p := range pairs(req) {
				if !inOrder[p.key] {
					inOrder[p.key] = true
					order = append(order, p.key)
				}
			}
		}
	}
	requirements(field(im.d.root, "security"))
	for _, op := range ops {
		requirements(op.security)
	}
	for _, s := range all {
		if !inOrder[s.name] {
			order = append(order, s.name)
		}
	}
	var chosen *scheme
	reason := ""
	if im.opts.security != "" {
		chosen = byName[im.opts.security]
		if chosen == nil {
			msg := fmt.Sprintf("--security %q: the document has no such security scheme", im.opts.security)
			var names []string
			for _, s := range all {
				names = append(names, s.name)
			}
			if s := suggest(im.opts.security, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if len(names) > 0 {
				msg += " (it has " + strings.Join(names, ", ") + ")"
			}
			return usageError{msg}
		}
		if chosen.kind == "" {
			return usageError{fmt.Sprintf("--security %s: %s", chosen.name, chosen.why)}
		}
		reason = "--security"
	} else {
		for _, name := range order {
			s := byName[name]
			if s == nil {
				continue // a requirement naming an undeclared scheme
			}
			if s.kind == "" {
				im.notef(s.keyN, "security scheme %s not used: %s", s.name, s.why)
				continue
			}
			if chosen == nil {
				chosen = s
				reason = "the first the document requires that Plugboard supports"
				if !inOrder[name] || len(order) == 1 {
					reason = "the only one Plugboard supports"
				}
			}
		}
		if chosen != nil && len(all) > 1 {
			var names []string
			for _, s := range all {
				names = append(names, s.name)
			}
			im.notef(comps, "%d security schemes (%s); picked %s, %s (--security NAME picks another)", len(all), strings.Join(names, ", "), chosen.name, reason)
		}
	}
	if chosen == nil {
		m.authType = "api_key"
		m.authComment = "CHANGE ME: the document declares no security scheme Plugboard supports; a pasted bearer token is a guess"
		m.inputs = append(m.inputs, inputDef{key: "token", label: "API token", help: "CHANGE ME: where the user finds the token.", secret: true})
		m.authorization = ymapping("type", ystr("bearer"), "token", ystr("{{inputs.token}}"))
		if len(all) == 0 {
			im.notef(im.d.root, "the document declares no security scheme; wrote an api_key manifest that sends a pasted token as a bearer token (check it)")
		} else {
			im.notef(comps, "no security scheme Plugboard supports; wrote an api_key manifest that sends a pasted token as a bearer token (check it)")
		}
		im.decidef("auth: api_key, a pasted bearer token (a guess: nothing to import)")
		return nil
	}
	im.decidef("auth: %s from security scheme %s (%s; %s)", chosen.kind, chosen.name, chosen.detail, reason)
	im.chosen = chosen.name
	im.applyScheme(m, chosen, ops)
	// Operations that accept only other schemes may refuse this credential.
	var others []string
	for _, op := range ops {
		sec := op.security
		if sec == nil {
			sec = field(im.d.root, "security")
		}
		if sec == nil || len(items(sec)) == 0 {
			continue
		}
		accepts := false
		for _, req := range items(sec) {
			if len(pairs(req)) == 0 || field(req, chosen.name) != nil {
				accepts = true
			}
		}
		if !accepts {
			others = append(others, op.label())
		}
	}
	if len(others) > 0 {
		im.notef(comps, "%d operation(s) name only other security schemes and may refuse the %s credential: %s", len(others), chosen.name, strings.Join(limitList(others, 5), ", "))
	}
	return nil
}

func limitList(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(append([]string(nil), list[:n]...), fmt.Sprintf("and %d more", len(list)-n))
}

// classify says what a manifest can make of a security scheme.
func classify(name string, n *yaml.Node) *scheme {
	s := &scheme{name: name, node: n}
	typ := text(n, "type")
	switch typ {
	case "oauth2":
		flows := field(n, "flows")
		switch {
		case field(flows, "authorizationCode") != nil:
			s.kind, s.detail = "oauth2", "oauth2 authorizationCode flow"
		case field(flows, "clientCredentials") != nil:
			s.kind, s.detail = "oauth2_client_credentials", "oauth2 clientCredentials flow"
		default:
			s.why = fmt.Sprintf("oauth2 with only the %s flow(s); Plugboard supports authorizationCode and clientCredentials", strings.Join(keys(flows), ", "))
		}
	case "apiKey":
		in, keyName := text(n, "in"), text(n, "name")
		switch {
		case in != "header" && in != "query":
			s.why = fmt.Sprintf("apiKey in a %s; Plugboard sends keys in a header or the query", in)
		case !headerNameRE.MatchString(keyName):
			s.why = fmt.Sprintf("apiKey %s name %q is not a valid name", in, keyName)
		case in == "header" && actionForbiddenHeaders[strings.ToLower(keyName)] && !strings.EqualFold(keyName, "authorization"):
			s.why = fmt.Sprintf("apiKey in the header %s, which the gateway manages", keyName)
		default:
			s.kind, s.detail = "api_key", fmt.Sprintf("apiKey in %s %s", in, keyName)
		}
	case "http":
		switch strings.ToLower(text(n, "scheme")) {
		case "bearer":
			s.kind, s.detail = "api_key", "http bearer: the user pastes a token"
		case "basic":
			s.kind, s.detail = "basic", "http basic"
		default:
			s.why = fmt.Sprintf("http %s authentication; Plugboard supports bearer and basic", text(n, "scheme"))
		}
	case "openIdConnect":
		s.why = fmt.Sprintf("openIdConnect needs its discovery document (%s), which import does not fetch: copy authorization_endpoint and token_endpoint from it into an oauth2 manifest", text(n, "openIdConnectUrl"))
	case "mutualTLS":
		s.why = "mutualTLS (client certificates) is not an auth type of Plugboard"
	default:
		s.why = fmt.Sprintf("unknown security scheme type %q", typ)
	}
	return s
}

// applyScheme writes the chosen scheme into the manifest.
func (im *importer) applyScheme(m *imported, s *scheme, ops []*operation) {
	m.authType = s.kind
	m.authComment = fmt.Sprintf("From the security scheme %s (%s).", s.name, s.detail)
	help := summarize(text(s.node, "description"), 500)
	switch s.kind {
	case "oauth2", "oauth2_client_credentials":
		flowName := "authorizationCode"
		if s.kind == "oauth2_client_credentials" {
			flowName = "clientCredentials"
		}
		flows := field(s.node, "flows")
		if len(pairs(flows)) > 1 {
			im.notef(keyNode(flows, flowName, s.keyN), "security scheme %s has the flows %s; used %s", s.name, strings.Join(keys(flows), ", "), flowName)
		}
		flow := field(flows, flowName)
		if s.kind == "oauth2" {
			m.oauthAuthURL = im.flowURL(m, flow, "authorizationUrl")
		}
		m.oauthTokenURL = im.flowURL(m, flow, "tokenUrl")
		if r := text(flow, "refreshUrl"); r != "" && r != text(flow, "tokenUrl") {
			im.notef(field(flow, "refreshUrl"), "refreshUrl %s differs from tokenUrl; Plugboard refreshes at tokenUrl", r)
		}
		// The scopes the document requires for this scheme, in order.
		seen := map[string]bool{}
		add := func(sec *yaml.Node) {
			for _, req := range items(sec) {
				for _, sc := range scalars(field(req, s.name)) {
					if !seen[sc] && !strings.ContainsAny(sc, " \t\n") {
						seen[sc] = true
						m.scopes = append(m.scopes, sc)
					}
				}
			}
		}
		add(field(im.d.root, "security"))
		for _, op := range im.selected(ops) {
			add(op.security)
		}
		if len(m.scopes) == 0 {
			declared := keys(field(flow, "scopes"))
			if len(declared) > 0 {
				m.scopesNote = "CHANGE ME: no operation names its scopes; the scheme declares " + strings.Join(limitList(declared, 20), ", ")
				im.notef(field(flow, "scopes"), "no operation names the scopes it needs; none requested: choose from the %d the scheme declares (listed in a comment)", len(declared))
			}
		} else {
			im.decidef("scopes: %s (those the imported operations require)", strings.Join(m.scopes, " "))
		}
	case "api_key":
		in, keyName := text(s.node, "in"), text(s.node, "name")
		if text(s.node, "type") == "http" {
			if bf := text(s.node, "bearerFormat"); bf != "" && help == "" {
				help = "A " + bf + " token."
			}
			m.inputs = append(m.inputs, inputDef{key: "token", label: "Access token", help: help, secret: true})
			m.authorization = ymapping("type", ystr("bearer"), "token", ystr("{{inputs.token}}"))
			im.notef(s.keyN, "security scheme %s is http bearer: the user pastes a token; if tokens come from an OAuth flow, make it an oauth2 manifest", s.name)
			return
		}
		m.inputs = append(m.inputs, inputDef{key: "api_key", label: "API key", help: help, secret: true})
		m.authorization = ymapping("type", ystr(in), "name", ystr(keyName), "value", ystr("{{inputs.api_key}}"))
		if in == "header" {
			im.credentialHeader = keyName
		}
	case "basic":
		m.inputs = append(m.inputs,
			inputDef{key: "username", label: "User name", help: help},
			inputDef{key: "password", label: "Password", secret: true})
		m.authorization = ymapping("type", ystr("basic"), "username", ystr("{{inputs.username}}"), "password", ystr("{{inputs.password}}"))
	}
}

// flowURL is an OAuth flow URL, resolved against the base URL when
// relative (OpenAPI 3.1 allows that).
func (im *importer) flowURL(m *imported, flow *yaml.Node, key string) string {
	raw := text(flow, key)
	u, err := url.Parse(raw)
	if err == nil && u.IsAbs() {
		return raw
	}
	if raw == "" || err != nil {
		im.notef(flow, "the flow has no usable %s; wrote a placeholder", key)
		return "https://auth.example.com/" + key
	}
	// Resolved on the template's text, so that inputs in the host stay.
	scheme, rest, _ := strings.Cut(m.baseURL, "://")
	host, _, _ := strings.Cut(rest, "/")
	resolved := scheme + "://" + host + "/" + strings.TrimLeft(raw, "/")
	if !strings.HasPrefix(raw, "/") {
		resolved = m.baseURL + "/" + raw
	}
	im.notef(field(flow, key), "%s %q is relative; resolved against the base URL to %s", key, raw, resolved)
	return resolved
}

// selected filters operations by --tags and --operations.
func (im *importer) selected(ops []*operation) []*operation {
	var out []*operation
	for _, op := range ops {
		if im.wanted(op) {
			out = append(out, op)
		}
	}
	return out
}

func (im *importer) wanted(op *operation) bool {
	if len(im.opts.operations) > 0 {
		for _, id := range im.opts.operations {
			if id == op.id {
				return true
			}
		}
		return false
	}
	if len(im.opts.tags) > 0 {
		for _, t := range im.opts.tags {
			for _, ot := range op.tags {
				if strings.EqualFold(t, ot) {
					return true
				}
			}
		}
		return false
	}
	return true
}

// userPaths are the last path segments of endpoints that name the signed-in
// user or account: the best test endpoints, cheap and always allowed.
var userPaths = []string{"me", "user", "users/me", "account", "whoami", "myself", "self", "users/self", "userinfo", "profile", "viewer", "current_user", "accounts/me"}

// pickTestEndpoint chooses a GET without required parameters that needs
// the credential.
func (im *importer) pickTestEndpoint(m *imported, ops []*operation) {
	best, first := im.testCandidates(ops, true)
	otherScheme := false
	if best == nil && first == nil && im.chosen != "" {
		// No GET names the chosen scheme: one that names others still
		// beats no test at all.
		best, first = im.testCandidates(ops, false)
		otherScheme = true
	}
	why := ""
	switch {
	case best != nil:
		m.testEndpoint = best.path
		m.testComment = "Chosen by import: it names the signed-in user or account."
		why = "it names the signed-in user or account"
	case first != nil:
		best = first
		m.testEndpoint = first.path
		m.testComment = "CHANGE ME if it is costly or public: import chose the first GET without\nrequired parameters that takes the credential (no /me, /user, /account or /whoami)."
		why = "the first GET without required parameters that takes the credential; no /me, /user, /account or /whoami"
		im.notef(first.node, "no /me, /user, /account or /whoami: the test endpoint is the first GET without required parameters that takes the credential, %s; check that it is cheap and needs the credential", first.path)
	default:
		im.notef(field(im.d.root, "paths"), "no GET without required parameters that takes the credential: no test endpoint (set api.testEndpoint by hand; validate --strict asks for one)")
		return
	}
	if otherScheme {
		m.testComment = "CHANGE ME: no GET names the " + im.chosen + " scheme; this one names others."
		im.notef(best.node, "no GET without required parameters names the security scheme %s; the test endpoint %s names others: check it", im.chosen, best.path)
	}
	im.decidef("test endpoint: GET %s (%s)", m.testEndpoint, why)
}

// testCandidates finds GETs without required parameters that need a
// credential (the chosen scheme's, when byScheme): the one whose path
// names the user best, and the first.
func (im *importer) testCandidates(ops []*operation, byScheme bool) (best, first *operation) {
	globalSec := field(im.d.root, "security")
	bestRank := len(userPaths)
	for _, op := range ops {
		if op.method != "get" || strings.Contains(op.path, "{") {
			continue
		}
		sec := op.security
		if sec == nil {
			sec = globalSec
		}
		if sec != nil && (len(items(sec)) == 0 || publicRequirement(sec)) {
			continue // it answers without a credential: the test would prove nothing
		}
		if byScheme && im.chosen != "" && sec != nil && !requires(sec, im.chosen) {
			continue // it takes another credential than the one connected
		}
		params, err := im.parameters(op)
		if err != nil {
			continue
		}
		needs := false
		for _, p := range params {
			if p.required || p.in == "path" {
				needs = true
			}
		}
		if needs {
			continue
		}
		if first == nil {
			first = op
		}
		lower := strings.ToLower(strings.TrimRight(op.path, "/"))
		for rank, tail := range userPaths {
			if rank < bestRank && (lower == "/"+tail || strings.HasSuffix(lower, "/"+tail)) {
				best, bestRank = op, rank
			}
		}
	}
	return best, first
}

// requires reports whether a security list accepts the scheme.
func requires(sec *yaml.Node, scheme string) bool {
	for _, req := range items(sec) {
		if field(req, scheme) != nil {
			return true
		}
	}
	return false
}

// publicRequirement reports whether a security list allows anonymous calls
// (an empty requirement object).
func publicRequirement(sec *yaml.Node) bool {
	for _, req := range items(sec) {
		if len(pairs(req)) == 0 {
			return true
		}
	}
	return false
}

// actions converts the chosen operations.
func (im *importer) actions(m *imported, ops []*operation) error {
	if len(im.opts.operations) > 0 {
		known := map[string]bool{}
		var ids []string
		for _, op := range ops {
			if op.id != "" {
				known[op.id] = true
				ids = append(ids, op.id)
			}
		}
		for _, want := range im.opts.operations {
			if !known[want] {
				msg := fmt.Sprintf("--operations: the document has no operation %q", want)
				if s := suggest(want, ids); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				return usageError{msg}
			}
		}
	}
	if im.maxNameLen() < 8 && im.opts.maxActions > 0 {
		return usageError{fmt.Sprintf("id %q leaves no room for action names (tool names are <id>-<action>, at most 64 characters): give a shorter --id, or --max-actions 0", im.id)}
	}
	names := map[string]bool{}
	total, left := 0, 0
	for _, op := range ops {
		if !im.wanted(op) {
			continue
		}
		total++
		if isTrue(op.node, "deprecated") && len(im.opts.operations) == 0 {
			im.notef(op.node, "%s skipped: deprecated (--operations imports it anyway)", op.label())
			continue
		}
		if len(m.actions) >= im.opts.maxActions {
			left++
			continue
		}
		a, err := im.toAction(op, names)
		if err != nil {
			im.notef(op.node, "%s skipped: %v", op.label(), err)
			continue
		}
		m.actions = append(m.actions, a)
	}
	if left > 0 {
		im.notef(field(im.d.root, "paths"), "%d more operation(s) left out by --max-actions %d (--tags or --operations choose which)", left, im.opts.maxActions)
	}
	if len(im.opts.tags) > 0 && total == 0 {
		return usageError{fmt.Sprintf("--tags %s: no operation has these tags", strings.Join(im.opts.tags, ","))}
	}
	m.operations = total
	return nil
}

// actionProblemRE finds the action a manifest problem is about.
var actionProblemRE = regexp.MustCompile(`^actions\[(\d+)\]`)

// validated renders the manifest and checks it with the loader; an action
// the loader refuses (a path or name it cannot take) is dropped with a
// note rather than failing the whole import.
func (im *importer) validated(m *imported, s *scaffold, source string) (problems manifest.Problems, err error) {
	for {
		s.manifest, err = m.render(modeline(s.manifestPath), baseName(s.iconPath), source)
		if err != nil {
			return nil, err
		}
		if over := len(s.manifest) - manifest.MaxManifestBytes; over > 0 && len(m.actions) > 0 {
			// Too large for a manifest: leave out actions from the end, about
			// as many as the excess needs, and try again.
			perAction := max(1, len(s.manifest)/len(m.actions))
			drop := min(len(m.actions), over/perAction+1+len(m.actions)/20)
			first := m.actions[len(m.actions)-drop].source
			im.notef(first.node, "%d action(s) from %s on left out: the manifest would be larger than the %d KiB a manifest may be (--tags or --operations choose which)", drop, first.label(), manifest.MaxManifestBytes>>10)
			m.actions = m.actions[:len(m.actions)-drop]
			continue
		}
		probs := s.check()
		drop := map[int]string{}
		for _, p := range probs {
			if sm := actionProblemRE.FindStringSubmatch(p.Path); sm != nil && p.Severity == manifest.Error {
				i, _ := strconv.Atoi(sm[1])
				if i < len(m.actions) && drop[i] == "" {
					drop[i] = p.Path + ": " + p.Message
				}
			}
		}
		if len(drop) == 0 {
			im.decidef("actions: %d of %d operation(s)", len(m.actions), m.operations)
			return probs, nil
		}
		var kept []*action
		for i, a := range m.actions {
			if why, bad := drop[i]; bad {
				im.notef(a.source.node, "%s skipped: the manifest refuses it (%s)", a.source.label(), why)
				continue
			}
			kept = append(kept, a)
		}
		m.actions = kept
	}
}

// render writes the manifest, commented.
func (m *imported) render(modeline, icon, source string) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	put := func(parent *yaml.Node, key string, v *yaml.Node, comment string) {
		k := ystr(key)
		if comment != "" {
			k.HeadComment = comment
		}
		parent.Content = append(parent.Content, k, v)
	}
	put(doc, "id", ystr(m.id), "Stable identifier: apps address this integration as custom."+m.id+".")
	put(doc, "name", ystr(m.name), "")
	put(doc, "description", ystr(m.description), "")
	put(doc, "icon", ystr(icon), "A placeholder icon: replace it with one of your own drawing.")
	put(doc, "accentColor", ystr(m.accent), "")

	auth := &yaml.Node{Kind: yaml.MappingNode}
	put(auth, "type", ystr(m.authType), m.authComment)
	if len(m.inputs) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, in := range m.inputs {
			n := &yaml.Node{Kind: yaml.MappingNode}
			put(n, "key", ystr(in.key), "")
			put(n, "label", ystr(in.label), "")
			if in.help != "" {
				put(n, "help", ystr(in.help), "")
			}
			if in.secret {
				put(n, "secret", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}, "")
			}
			if in.def != "" {
				put(n, "default", ystr(in.def), "")
			}
			if len(in.enum) > 0 {
				e := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
				for _, v := range in.enum {
					e.Content = append(e.Content, ystr(v))
				}
				put(n, "enum", e, "")
			}
			if in.pattern != "" {
				put(n, "pattern", ystr(in.pattern), "")
			}
			seq.Content = append(seq.Content, n)
		}
		put(auth, "inputs", seq, "Fields the user fills in the Connect Portal, used as {{inputs.<key>}}.")
	}
	scopes := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range m.scopes {
		scopes.Content = append(scopes.Content, ystr(s))
	}
	if m.scopesNote != "" {
		scopes.LineComment = m.scopesNote
	}
	switch m.authType {
	case "oauth2":
		o := &yaml.Node{Kind: yaml.MappingNode}
		put(o, "authorizationUrl", ystr(m.oauthAuthURL), "Register {public-url}/oauth/callback as the redirect URI of your OAuth app.")
		put(o, "tokenUrl", ystr(m.oauthTokenURL), "")
		put(o, "clientId", ystr("${"+m.envPrefix+"_CLIENT_ID}"), "Your OAuth app's credentials, as references: set these variables where the gateway runs.")
		put(o, "clientSecret", ystr("${"+m.envPrefix+"_CLIENT_SECRET}"), "")
		put(o, "scopes", scopes, "")
		put(auth, "oauth2", o, "")
	case "oauth2_client_credentials":
		o := &yaml.Node{Kind: yaml.MappingNode}
		put(o, "tokenUrl", ystr(m.oauthTokenURL), "")
		put(o, "scopes", scopes, "")
		put(auth, "clientCredentials", o, "The user types a client id and secret in the portal.")
	}
	put(doc, "auth", auth, "")

	api := &yaml.Node{Kind: yaml.MappingNode}
	base := ystr(m.baseURL)
	if strings.HasPrefix(m.baseComment, "CHANGE ME") {
		base.LineComment = m.baseComment
	}
	put(api, "baseUrl", base, "")
	if m.authorization != nil {
		put(api, "authorization", m.authorization, "How proxied requests carry the user's credential.")
	}
	if m.testEndpoint != "" {
		put(api, "testEndpoint", ystr(m.testEndpoint), m.testComment)
	}
	put(doc, "api", api, "")

	if len(m.actions) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, a := range m.actions {
			n := &yaml.Node{Kind: yaml.MappingNode}
			name := ystr(a.name)
			name.LineComment = "from " + a.source.label()
			put(n, "name", name, "")
			if a.title != "" {
				put(n, "title", ystr(a.title), "")
			}
			put(n, "description", ystr(a.description), "")
			put(n, "method", ystr(a.method), "")
			put(n, "path", ystr(a.path), "")
			put(n, "parameters", a.params.node(), "")
			if len(a.query) > 0 {
				put(n, "query", nameValues(a.query), "")
			}
			if len(a.headers) > 0 {
				put(n, "headers", nameValues(a.headers), "")
			}
			if a.body != nil {
				put(n, "body", a.body, "")
			}
			seq.Content = append(seq.Content, n)
		}
		put(doc, "actions", seq, "Named operations apps and AI agents run with typed parameters.")
	}

	var buf bytes.Buffer
	fmt.Fprintln(&buf, modeline)
	fmt.Fprintln(&buf, "#")
	title := m.title
	if m.version != "" {
		title += " " + m.version
	}
	fmt.Fprintf(&buf, "# Written by `plugboard import openapi` from %s (%s).\n", oneLine(baseName(source)), oneLine(title))
	fmt.Fprintln(&buf, "# Check the lines marked CHANGE ME and what the import printed; `plugboard")
	fmt.Fprintln(&buf, "# validate --strict` checks this file, `plugboard schema` documents every field.")
	fmt.Fprintln(&buf)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("writing the manifest: %v", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func nameValues(list []nameValue) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, nv := range list {
		n.Content = append(n.Content, ystr(nv.name), ystr(nv.value))
	}
	return n
}

// ymapping builds a mapping from key, value pairs.
func ymapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Content = append(n.Content, ystr(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return n
}
