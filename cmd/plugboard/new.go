package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/plugboardhq/plugboard/schemas"
)

const newHelp = `
Write a commented manifest for a new integration, with a placeholder icon
(the name's initial in a rounded square of the accent colour) beside it. The
manifest validates as written (validate --strict passes; the OAuth client's
secret variables are unset until you set them, which is a warning); lines
marked CHANGE ME are guesses to check against the provider's documentation.

Flags that are missing are asked for when standard input is a terminal;
otherwise --id, --auth and --base-url are required.

Auth types:
  oauth2                     the user signs in at the provider (authorization code, PKCE)
  oauth2_client_credentials  the user types a client id and secret (alias client_credentials)
  api_key                    the user types an API key
  basic                      the user types a user name and password (HTTP Basic)

The base URL may name per-tenant parts, e.g.
https://{subdomain}.example.com/api: each {name} becomes an input the user
fills in the Connect Portal.

--out is the manifest file (ending in .yaml or .yml) or the folder to write
<id>.yaml and <id>.svg in; the default is integrations.d when that folder
exists, else the current folder. Existing files are kept unless --force.

Exit status: 0 written, 1 refused (the files exist, a path is not
writable), 2 usage errors (bad flags, a bad id, auth type or URL).
`

func runNew(args []string, stdout, stderr io.Writer) error {
	return newCommand(args, os.Stdin, isTerminal(os.Stdin), stdout, stderr)
}

// newAnswers are what the manifest is written from.
type newAnswers struct {
	id, name, auth, baseURL, accent string
}

func newCommand(args []string, stdin io.Reader, interactive bool, stdout, stderr io.Writer) error {
	fs := newFlagSet("new", "[--id ID] [--name NAME] [--auth TYPE] [--base-url URL] [--out FILE|DIR] [--force]", newHelp, stderr)
	id := fs.String("id", "", "the integration's id: lower-case letters, digits and hyphens (used as custom.<id>)")
	name := fs.String("name", "", "display name in the Connect Portal (default: from the id)")
	auth := fs.String("auth", "", "auth type: "+strings.Join(authTypes(), ", "))
	baseURL := fs.String("base-url", "", "the API's base URL, e.g. https://api.example.com/v1 ({name} parts become inputs)")
	accent := fs.String("accent-color", "", "accent colour #RRGGBB (default: one picked from the id)")
	out := fs.String("out", "", "manifest file (.yaml/.yml) or folder to write in (default integrations.d if it exists, else .)")
	force := fs.Bool("force", false, "overwrite existing files")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "plugboard new: unexpected argument %q (the id is given with --id)\n%s\n", fs.Arg(0), usageHint("new"))
		return exitError{exitUsage}
	}
	a := newAnswers{id: *id, name: *name, auth: *auth, baseURL: *baseURL, accent: *accent}
	fail := func(err error) error {
		fmt.Fprintf(stderr, "plugboard new: %v\n", err)
		return exitError{exitUsage}
	}
	if interactive {
		if err := a.ask(bufio.NewReader(stdin), stderr); err != nil {
			return fail(err)
		}
	} else {
		var missing []string
		for _, f := range []struct{ flag, value string }{{"--id", a.id}, {"--auth", a.auth}, {"--base-url", a.baseURL}} {
			if f.value == "" {
				missing = append(missing, f.flag)
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(stderr, "plugboard new: missing %s (standard input is not a terminal, so nothing is asked)\n%s\n", strings.Join(missing, ", "), usageHint("new"))
			return exitError{exitUsage}
		}
	}
	if err := a.complete(); err != nil {
		return fail(err)
	}
	manifestPath, iconPath := outputPaths(*out, a.id)
	s := &scaffold{manifestPath: manifestPath, iconPath: iconPath}
	s.manifest = []byte(a.render(modeline(manifestPath), iconPath))
	s.icon = placeholderIcon(a.name, a.accent)
	if probs := s.check(); reportProblems(stderr, probs) {
		// What the checks above let through and the loader refuses or warns
		// about (plain http to a remote host, a template it cannot place).
		fmt.Fprintf(stderr, "plugboard new: the manifest for these answers would not pass validate --strict; nothing written\n")
		return exitError{exitUsage}
	}
	if err := s.write(*force); err != nil {
		fmt.Fprintf(stderr, "plugboard new: %v\n", err)
		return exitError{exitInvalid}
	}
	fmt.Fprintf(stdout, "wrote %s and %s (%s)\n", manifestPath, iconPath, a.auth)
	fmt.Fprintf(stdout, "next: check the lines marked CHANGE ME, then plugboard validate --strict %s", manifestPath)
	if a.auth == "oauth2" {
		fmt.Fprintf(stdout, "\n      set %s_CLIENT_ID and %s_CLIENT_SECRET where the gateway runs; the redirect URI is {public-url}/oauth/callback", envPrefix(a.id), envPrefix(a.id))
	}
	fmt.Fprintln(stdout)
	return nil
}

// authTypes are the auth types the manifest schema allows, in its order.
func authTypes() []string {
	var doc struct {
		Defs struct {
			Auth struct {
				Properties struct {
					Type struct {
						Enum []string `json:"enum"`
					} `json:"type"`
				} `json:"properties"`
			} `json:"auth"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schemas.Integration, &doc); err != nil {
		panic("embedded integration schema: " + err.Error())
	}
	return doc.Defs.Auth.Properties.Type.Enum
}

// authAliases are names people use for the schema's auth types.
var authAliases = map[string]string{"client_credentials": "oauth2_client_credentials"}

func checkAuth(auth string) (string, error) {
	types := authTypes()
	for _, t := range types {
		if t == auth {
			return auth, nil
		}
	}
	if t, ok := authAliases[auth]; ok {
		return t, nil
	}
	msg := fmt.Sprintf("unknown auth type %q (want %s)", auth, strings.Join(types, ", "))
	if s := suggest(strings.ReplaceAll(auth, "-", "_"), append(types, "client_credentials")); s != "" {
		msg = fmt.Sprintf("unknown auth type %q (did you mean %q?)", auth, s)
	}
	return "", errors.New(msg)
}

// urlVarRE finds {name} and {{inputs.name}} parts of a base URL.
var urlVarRE = regexp.MustCompile(`\{\{\s*inputs\.([a-z][a-z0-9_]*)\s*\}\}|\{([A-Za-z_][A-Za-z0-9_-]*)\}`)

// checkBaseURL checks an absolute http(s) URL, templates aside.
func checkBaseURL(raw string) error {
	probe := urlVarRE.ReplaceAllString(raw, "x")
	u, err := url.Parse(probe)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("base URL %q is not an absolute http(s) URL, e.g. https://api.example.com/v1", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("base URL %q has a query or fragment; give the URL paths are appended to", raw)
	}
	return nil
}

// ask fills in what the flags left out, one plain line prompt each, with
// the default in brackets; an invalid answer is explained and asked again.
func (a *newAnswers) ask(in *bufio.Reader, out io.Writer) error {
	prompt := func(label, def string, check func(string) error) (string, error) {
		for {
			if def != "" {
				fmt.Fprintf(out, "%s [%s]: ", label, def)
			} else {
				fmt.Fprintf(out, "%s: ", label)
			}
			line, err := in.ReadString('\n')
			answer := strings.TrimSpace(line)
			if err != nil && answer == "" {
				fmt.Fprintln(out)
				return "", fmt.Errorf("no answer for %q (end of input)", label)
			}
			if answer == "" {
				answer = def
			}
			if answer == "" {
				fmt.Fprintln(out, "  an answer is needed")
				continue
			}
			if check != nil {
				if cerr := check(answer); cerr != nil {
					fmt.Fprintf(out, "  %v\n", cerr)
					if err != nil {
						return "", cerr
					}
					continue
				}
			}
			return answer, nil
		}
	}
	var err error
	if a.id == "" {
		if a.id, err = prompt("Integration id (lower-case, e.g. acme)", "", checkID); err != nil {
			return err
		}
	}
	if a.name == "" {
		if a.name, err = prompt("Display name", titleFromID(a.id), nil); err != nil {
			return err
		}
	}
	if a.auth == "" {
		check := func(s string) error { _, err := checkAuth(s); return err }
		if a.auth, err = prompt("Auth type ("+strings.Join(authTypes(), ", ")+")", "oauth2", check); err != nil {
			return err
		}
	}
	if a.baseURL == "" {
		if a.baseURL, err = prompt("API base URL", "https://api."+a.id+".com", checkBaseURL); err != nil {
			return err
		}
	}
	return nil
}

// complete checks the answers and fills in defaults.
func (a *newAnswers) complete() error {
	if err := checkID(a.id); err != nil {
		return err
	}
	auth, err := checkAuth(a.auth)
	if err != nil {
		return err
	}
	a.auth = auth
	if a.name == "" {
		a.name = titleFromID(a.id)
	}
	if len(a.name) > 64 {
		return fmt.Errorf("name %q is longer than 64 characters", a.name)
	}
	if err := checkBaseURL(a.baseURL); err != nil {
		return err
	}
	a.baseURL = strings.TrimRight(a.baseURL, "/")
	if a.accent == "" {
		a.accent = defaultAccent(a.id)
	}
	if !accentRE.MatchString(a.accent) {
		return fmt.Errorf("accent colour %q is not #RRGGBB", a.accent)
	}
	return nil
}

// urlInput is an input a base URL's {name} part becomes.
type urlInput struct {
	key, label, pattern string
	inHost              bool
}

// templateURL rewrites {name} parts to {{inputs.name}} and returns the
// inputs they need, with a pattern that fits where each stands.
func templateURL(raw string) (string, []urlInput) {
	var inputs []urlInput
	seen := map[string]bool{}
	hostEnd := len(raw)
	if i := strings.Index(raw, "://"); i >= 0 {
		if j := strings.Index(raw[i+3:], "/"); j >= 0 {
			hostEnd = i + 3 + j
		}
	}
	var b strings.Builder
	last := 0
	for _, m := range urlVarRE.FindAllStringSubmatchIndex(raw, -1) {
		name := ""
		if m[2] >= 0 {
			name = raw[m[2]:m[3]]
		} else {
			name = raw[m[4]:m[5]]
		}
		key := inputKey(name)
		b.WriteString(raw[last:m[0]])
		b.WriteString("{{inputs." + key + "}}")
		last = m[1]
		if seen[key] {
			continue
		}
		seen[key] = true
		in := urlInput{key: key, label: titleFromID(strings.ReplaceAll(key, "_", "-")), inHost: m[0] < hostEnd}
		in.pattern = `[A-Za-z0-9._~-]+`
		if in.inHost {
			in.pattern = `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`
		}
		inputs = append(inputs, in)
	}
	b.WriteString(raw[last:])
	return b.String(), inputs
}

// inputKey turns a name into an input key: lower-case letters, digits and
// underscores, starting with a letter ("subDomain" → "sub_domain").
func inputKey(name string) string {
	k := snakeCase(name)
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		k = "v_" + k
	}
	return strings.TrimSuffix(truncate(k, 63), "_")
}

// render writes the commented manifest.
func (a *newAnswers) render(modeline, iconPath string) string {
	base, urlInputs := templateURL(a.baseURL)
	// scheme://host of the base URL, templates included: where OAuth
	// endpoints most often live.
	scheme, rest, _ := strings.Cut(base, "://")
	host, _, _ := strings.Cut(rest, "/")
	origin := scheme + "://" + host
	env := envPrefix(a.id)
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("%s", modeline)
	w("#")
	w("# %s: a manifest written by `plugboard new`. Lines marked CHANGE ME are", a.name)
	w("# guesses to check against %s's API documentation. `plugboard validate", a.name)
	w("# --strict` checks this file; `plugboard schema` documents every field.")
	w("")
	w("# Stable identifier: apps and the SDK address this integration as")
	w("# custom.%s. Changing it later disconnects existing users.", a.id)
	w("id: %s", a.id)
	w("# Display name in the Connect Portal (at most 64 characters).")
	w("name: %s", yamlScalar(a.name))
	w("# One or two sentences the Connect Portal shows under the name.")
	w("description: %s # CHANGE ME", yamlScalar(a.name+"'s API."))
	w("# SVG icon, a file beside this one (a placeholder: replace it with one of")
	w("# your own drawing; scripts and external references are refused).")
	w("icon: %s", yamlScalar(baseName(iconPath)))
	w("# Colour of the portal's accents, #RRGGBB.")
	w("accentColor: %s", yamlScalar(a.accent))
	w("auth:")
	switch a.auth {
	case "oauth2":
		w("  # oauth2: the user signs in at %s (authorization code flow, PKCE on).", a.name)
		w("  type: oauth2")
		a.renderInputs(&b, urlInputs, nil)
		w("  oauth2:")
		w("    # Where the sign-in starts, and where codes and refresh tokens are")
		w("    # exchanged. Register {public-url}/oauth/callback as the redirect URI")
		w("    # of your OAuth app at %s.", a.name)
		w("    authorizationUrl: %s # CHANGE ME", yamlScalar(origin+"/oauth/authorize"))
		w("    tokenUrl: %s # CHANGE ME", yamlScalar(origin+"/oauth/token"))
		w("    # Your OAuth app's credentials, as references: never the values. Set")
		w("    # these variables where the gateway runs.")
		w("    clientId: ${%s_CLIENT_ID}", env)
		w("    clientSecret: ${%s_CLIENT_SECRET}", env)
		w("    # Scopes to request, e.g. [read, write]; joined with a space unless")
		w("    # scopeSeparator says otherwise.")
		w("    scopes: [] # CHANGE ME")
		w("    # How the app authenticates at the token URL: header (HTTP Basic, the")
		w("    # default) or body (client_id and client_secret as form fields).")
		w("    # tokenAuthStyle: body")
		w("    # RFC 7009 revocation URL, called when a user disconnects.")
		w("    # revocationUrl: %s", origin+"/oauth/revoke")
		w("    # Extra parameters, e.g. to get a refresh token from some providers.")
		w("    # authorizationParams: {access_type: offline, prompt: consent}")
	case "oauth2_client_credentials":
		w("  # oauth2_client_credentials: the user types a client id and secret in the")
		w("  # portal, and the gateway exchanges them for tokens at the token URL.")
		w("  type: oauth2_client_credentials")
		a.renderInputs(&b, urlInputs, nil)
		w("  clientCredentials:")
		w("    tokenUrl: %s # CHANGE ME", yamlScalar(origin+"/oauth/token"))
		w("    # Scopes to request, e.g. [read, write].")
		w("    scopes: [] # CHANGE ME")
		w("    # header (HTTP Basic, the default) or body (form fields).")
		w("    # tokenAuthStyle: body")
		w("    # Portal labels of the two fields.")
		w("    # clientIdLabel: Client ID")
		w("    # clientSecretLabel: Client secret")
	case "api_key":
		w("  # api_key: the user types the key into the field below.")
		w("  type: api_key")
		a.renderInputs(&b, urlInputs, []string{
			"    - key: api_key",
			"      label: API key",
			fmt.Sprintf("      help: %s # CHANGE ME", yamlScalar("Create a key in your "+a.name+" account settings.")),
			"      # Masked in the portal, encrypted at rest, never logged.",
			"      secret: true",
		})
	case "basic":
		w("  # basic: the user types a user name and password (HTTP Basic).")
		w("  type: basic")
		a.renderInputs(&b, urlInputs, []string{
			"    - key: username",
			"      label: User name",
			"    - key: password",
			"      label: Password",
			"      # Masked in the portal, encrypted at rest, never logged.",
			"      secret: true",
		})
	}
	w("api:")
	w("  # Proxied paths are appended to the base URL and can never leave it.")
	w("  baseUrl: %s", yamlScalar(base))
	switch a.auth {
	case "oauth2", "oauth2_client_credentials":
		w("  # Requests carry the access token as Authorization: Bearer <token> (the")
		w("  # default for OAuth); set authorization only if %s wants otherwise.", a.name)
	case "api_key":
		w("  # How requests carry the key. bearer sends Authorization: Bearer <key>;")
		w("  # a header of its own is {type: header, name: X-Api-Key, value:")
		w("  # \"{{inputs.api_key}}\"}, a query parameter {type: query, name: api_key,")
		w("  # value: \"{{inputs.api_key}}\"}.")
		w("  authorization:")
		w("    type: bearer # CHANGE ME")
		w("    token: \"{{inputs.api_key}}\"")
	case "basic":
		w("  # Requests carry Authorization: Basic base64(username:password).")
		w("  authorization:")
		w("    type: basic")
		w("    username: \"{{inputs.username}}\"")
		w("    password: \"{{inputs.password}}\"")
	}
	w("  # Static headers for every request, e.g. an API version.")
	w("  # headers:")
	w("  #   Accept: application/json")
	w("  # A GET that answers 2xx only with a valid credential (e.g. the signed-in")
	w("  # user): called before a connection is saved, and by `plugboard try`.")
	w("  testEndpoint: /me # CHANGE ME")
	w("  # Upper bound for one proxied request (default 30s, at most 5m).")
	w("  # timeout: 30s")
	w("")
	w("# Named operations that apps and AI agents run with typed parameters")
	w("# (`plugboard import openapi` writes them from an OpenAPI document), e.g.:")
	w("# actions:")
	w("#   - name: list_items")
	w("#     description: Lists the user's items, newest first.")
	w("#     method: GET")
	w("#     path: /items")
	w("#     parameters:")
	w("#       type: object")
	w("#       properties:")
	w("#         limit: {type: integer, minimum: 1, maximum: 100, description: At most this many.}")
	w("#     query:")
	w("#       limit: \"{{parameters.limit}}\"")
	return b.String()
}

// renderInputs writes auth.inputs: the base URL's parts, then the
// credential's own fields.
func (a *newAnswers) renderInputs(b *strings.Builder, urlInputs []urlInput, credential []string) {
	if len(urlInputs) == 0 && len(credential) == 0 {
		return
	}
	fmt.Fprintln(b, "  # Fields the user fills in the Connect Portal, used as {{inputs.<key>}}.")
	fmt.Fprintln(b, "  inputs:")
	for _, in := range urlInputs {
		fmt.Fprintf(b, "    - key: %s\n", in.key)
		fmt.Fprintf(b, "      label: %s\n", yamlScalar(in.label))
		fmt.Fprintf(b, "      help: %s # CHANGE ME\n", yamlScalar("Part of your "+a.name+" address."))
		fmt.Fprintln(b, "      # It lands in the URL, so it must match (the whole value).")
		fmt.Fprintf(b, "      pattern: %s\n", yamlScalar(in.pattern))
	}
	for _, l := range credential {
		fmt.Fprintln(b, l)
	}
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// isTerminal reports whether f is an interactive terminal: a character
// device other than the null device (stdin redirected from /dev/null is a
// character device too).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
