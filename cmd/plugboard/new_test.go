package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/manifest"
)

// loadWritten loads a written manifest with the loader serve and validate
// use, and fails the test unless it is valid without a warning other
// than unset secrets (what validate --strict accepts).
func loadWritten(t *testing.T, path string) *manifest.Integration {
	t.Helper()
	res, err := manifest.LoadPaths([]string{path}, manifest.Options{ResolveSecrets: true, AllowUnresolvedSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	for _, p := range f.Problems {
		if p.Severity == manifest.Error || p.Code != manifest.SecretUnset {
			t.Errorf("%s", p.String())
		}
	}
	if f.Integration == nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("%s does not load:\n%s", path, b)
	}
	return f.Integration
}

// TestNewEveryAuthType writes a manifest for every auth type the schema
// allows (a type added to the schema without a template fails here) and
// checks it as validate --strict does, in the binary and in the loader.
func TestNewEveryAuthType(t *testing.T) {
	t.Parallel()
	types := authTypes()
	if len(types) < 4 {
		t.Fatalf("the schema lists %v", types)
	}
	for _, auth := range types {
		t.Run(auth, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			id := "acme-" + strings.ReplaceAll(auth, "_", "-")
			r := runIn(t, dir, nil, "new", "--id", id, "--name", "Acme & Co", "--auth", auth, "--base-url", "https://api.acme.example/v2", "--accent-color", "#0A7E6F")
			wantCode(t, r, 0)
			manifestPath := filepath.Join(dir, id+".yaml")
			if !strings.Contains(r.stdout, "wrote "+id+".yaml and "+id+".svg") {
				t.Errorf("stdout should name both files, got %s", r)
			}
			r = runIn(t, dir, nil, "validate", "--strict", id+".yaml")
			wantCode(t, r, 0)

			in := loadWritten(t, manifestPath)
			if string(in.Auth.Type) != auth || in.ID != id || in.Name != "Acme & Co" || in.AccentColor != "#0A7E6F" {
				t.Errorf("got type %s id %s name %q accent %s", in.Auth.Type, in.ID, in.Name, in.AccentColor)
			}
			if got := in.API.BaseURL.Source(); got != "https://api.acme.example/v2" {
				t.Errorf("base URL %q", got)
			}
			if in.API.TestEndpoint == nil {
				t.Error("no test endpoint: validate --strict would warn")
			}
			// The icon is ours: the initial, in the accent colour.
			if !bytes.Contains(in.Icon, []byte(`fill="#0A7E6F"`)) || !bytes.Contains(in.Icon, []byte(">A</text>")) {
				t.Errorf("icon: %s", in.Icon)
			}
			b, _ := os.ReadFile(manifestPath)
			text := string(b)
			if !strings.HasPrefix(text, "# yaml-language-server: $schema=") {
				t.Errorf("no schema modeline:\n%s", text)
			}
			if strings.Count(text, "\n#") < 10 {
				t.Errorf("the manifest should explain its fields in comments:\n%s", text)
			}
			if auth == "oauth2" && !strings.Contains(text, "clientSecret: ${ACME_OAUTH2_CLIENT_SECRET}") {
				t.Errorf("the client secret should be a reference:\n%s", text)
			}
		})
	}
}

// TestNewModeline: in a checkout (schemas/ above integrations.d) the
// modeline is the relative one the shipped manifests use; elsewhere the
// published schema URL.
func TestNewModeline(t *testing.T) {
	t.Parallel()
	shipped, err := os.ReadFile(filepath.Join("..", "..", "integrations.d", "github.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := strings.Cut(string(shipped), "\n")

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "schemas", "integration.schema.json"), "{}")
	if err := os.Mkdir(filepath.Join(dir, "integrations.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Without --out, integrations.d is the folder when it exists.
	r := runIn(t, dir, nil, "new", "--id", "acme", "--auth", "api_key", "--base-url", "https://api.acme.example")
	wantCode(t, r, 0)
	b, err := os.ReadFile(filepath.Join(dir, "integrations.d", "acme.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := strings.Cut(string(b), "\n"); got != want {
		t.Errorf("modeline %q, want the shipped manifests' %q", got, want)
	}

	other := t.TempDir()
	r = runIn(t, other, nil, "new", "--id", "acme", "--auth", "basic", "--base-url", "https://api.acme.example", "--out", "out/acme-basic.yml")
	wantCode(t, r, 0)
	b, err = os.ReadFile(filepath.Join(other, "out", "acme-basic.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := strings.Cut(string(b), "\n"); got != "# yaml-language-server: $schema=https://plugboard.dev/schemas/integration.schema.json" {
		t.Errorf("outside a checkout the modeline should name the published schema, got %q", got)
	}
	if _, err := os.Stat(filepath.Join(other, "out", "acme-basic.svg")); err != nil {
		t.Errorf("the icon goes beside the manifest, named after it: %v", err)
	}
}

// TestNewTenantInputs: {name} parts of the base URL become inputs with a
// pattern, used by the OAuth URLs too.
func TestNewTenantInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runIn(t, dir, nil, "new", "--id", "zen", "--auth", "oauth2", "--base-url", "https://{subdomain}.zen.example/api/{apiVersion}")
	wantCode(t, r, 0)
	in := loadWritten(t, filepath.Join(dir, "zen.yaml"))
	if got := in.API.BaseURL.Source(); got != "https://{{inputs.subdomain}}.zen.example/api/{{inputs.api_version}}" {
		t.Errorf("base URL %q", got)
	}
	if len(in.Auth.Inputs) != 2 || in.Auth.Inputs[0].Pattern == nil || in.Auth.Inputs[0].Pattern.MatchString("evil.com/x") || !in.Auth.Inputs[0].Pattern.MatchString("acme-eu") {
		t.Errorf("inputs %+v", in.Auth.Inputs)
	}
	if got := in.Auth.OAuth2.TokenURL.Source(); got != "https://{{inputs.subdomain}}.zen.example/oauth/token" {
		t.Errorf("token URL %q", got)
	}
}

func TestNewRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"new", "--id", "acme", "--auth", "api_key", "--base-url", "https://api.acme.example"}
	wantCode(t, runIn(t, dir, nil, args...), 0)
	path := filepath.Join(dir, "acme.yaml")
	writeFile(t, path, "# mine\n")

	r := runIn(t, dir, nil, args...)
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "acme.yaml already exists; --force overwrites it") {
		t.Errorf("got %s", r)
	}
	if b, _ := os.ReadFile(path); string(b) != "# mine\n" {
		t.Errorf("the file was changed: %q", b)
	}
	// The icon alone existing refuses too, and writes nothing.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r = runIn(t, dir, nil, args...)
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "acme.svg already exists") {
		t.Errorf("got %s", r)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("the manifest was written although the icon was refused")
	}

	r = runIn(t, dir, nil, append(args, "--force")...)
	wantCode(t, r, 0)
	loadWritten(t, path)
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file.txt"), "not a folder")
	base := []string{"--base-url", "https://api.acme.example"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad id", append([]string{"--id", "Acme CRM", "--auth", "oauth2"}, base...), 2, `id "Acme CRM" is not valid: use lower-case letters, digits and hyphens, starting with a letter or digit, at most 63 characters (did you mean "acme-crm"?)`},
		{"unknown auth", append([]string{"--id", "acme", "--auth", "oauth"}, base...), 2, `unknown auth type "oauth" (did you mean "oauth2"?)`},
		{"auth with a dash", append([]string{"--id", "acme", "--auth", "api-key"}, base...), 2, `(did you mean "api_key"?)`},
		{"unknown auth far off", append([]string{"--id", "acme", "--auth", "saml"}, base...), 2, `unknown auth type "saml" (want oauth2, oauth2_client_credentials, api_key, basic)`},
		{"relative URL", []string{"--id", "acme", "--auth", "basic", "--base-url", "/api"}, 2, `base URL "/api" is not an absolute http(s) URL`},
		{"missing flags", []string{"--name", "Acme"}, 2, "missing --id, --auth, --base-url (standard input is not a terminal, so nothing is asked)"},
		{"bad colour", append([]string{"--id", "acme", "--auth", "basic", "--accent-color", "red"}, base...), 2, `accent colour "red" is not #RRGGBB`},
		{"unwritable", append([]string{"--id", "acme", "--auth", "basic", "--out", filepath.Join("file.txt", "acme.yaml")}, base...), 1, "cannot create the folder for " + filepath.Join("file.txt", "acme.yaml") + ": not a directory"},
		{"plain http", []string{"--id", "acme", "--auth", "basic", "--base-url", "http://api.acme.example"}, 2, "warning: api.baseUrl: URL uses plain http (use https; --strict rejects plain http)\nplugboard new: the manifest for these answers would not pass validate --strict; nothing written"},
		{"misspelt flag", []string{"--idd", "acme"}, 2, "unknown flag --idd (did you mean --id?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runIn(t, dir, nil, append([]string{"new"}, tt.args...)...)
			wantCode(t, r, tt.code)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr should contain %q, got %s", tt.want, r)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("refused runs wrote files: %v", entries)
	}
}

// TestNewAsks runs the questions: an answer that does not fit is
// explained and asked again; an empty answer takes the default.
func TestNewAsks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	answers := strings.Join([]string{
		"Acme CRM",   // not an id: asked again
		"acme-crm",   // id
		"",           // name: the default, Acme Crm
		"oauth",      // not an auth type: asked again
		"api_key",    // auth
		"ftp://acme", // not http(s): asked again
		"",           // base URL: the default
	}, "\n") + "\n"
	var stdout, stderr bytes.Buffer
	err := newCommand([]string{"--out", dir}, strings.NewReader(answers), true, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	prompts := stderr.String()
	for _, want := range []string{
		"Integration id (lower-case, e.g. acme): ",
		`  id "Acme CRM" is not valid`,
		"Display name [Acme Crm]: ",
		"Auth type (oauth2, oauth2_client_credentials, api_key, basic) [oauth2]: ",
		`  unknown auth type "oauth" (did you mean "oauth2"?)`,
		"API base URL [https://api.acme-crm.com]: ",
		`  base URL "ftp://acme" is not an absolute http(s) URL`,
	} {
		if !strings.Contains(prompts, want) {
			t.Errorf("the questions should include %q:\n%s", want, prompts)
		}
	}
	in := loadWritten(t, filepath.Join(dir, "acme-crm.yaml"))
	if in.Name != "Acme Crm" || in.Auth.Type != manifest.AuthAPIKey || in.API.BaseURL.Source() != "https://api.acme-crm.com" {
		t.Errorf("got %s %s %s", in.Name, in.Auth.Type, in.API.BaseURL.Source())
	}

	// Flags given are not asked; the end of input before an answer stops.
	stderr.Reset()
	err = newCommand([]string{"--out", dir, "--auth", "basic"}, strings.NewReader("acme2\n"), true, &stdout, &stderr)
	if code := (exitError{}); err == nil || !asExit(err, &code) || code.code != exitUsage {
		t.Fatalf("want a usage error, got %v", err)
	}
	if strings.Contains(stderr.String(), "Auth type") || !strings.Contains(stderr.String(), `no answer for "Display name" (end of input)`) {
		t.Errorf("got %s", stderr.String())
	}
}

func asExit(err error, target *exitError) bool {
	e, ok := err.(exitError)
	if ok {
		*target = e
	}
	return ok
}
