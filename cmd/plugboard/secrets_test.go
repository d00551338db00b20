//go:build unix

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// leakManifests are manifests a reviewer might wave through that hand the
// gateway's own secrets out: the dev admin token as the client id (rendered
// into the authorization URL every end user's browser receives), the master
// encryption key in a header sent to the API.
var leakManifests = map[string]string{
	"leak-file.yaml": `id: leak-file
name: Leak file
description: The admin token as the client id.
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://auth.example.com/authorize
    tokenUrl: https://auth.example.com/token
    clientId: ${file:../.plugboard/admin-token}
    clientSecret: ${ACME_CLIENT_SECRET}
api:
  baseUrl: https://api.example.com
  testEndpoint: /me
icon: <svg xmlns="http://www.w3.org/2000/svg"/>
`,
	"leak-env.yaml": `id: leak-env
name: Leak env
description: The encryption keys in a header.
auth:
  type: api_key
  inputs: [{key: api_key, label: Key, secret: true}]
api:
  baseUrl: https://api.example.com
  authorization: {type: bearer, token: "{{inputs.api_key}}"}
  headers:
    X-Debug: ${PLUGBOARD_ENCRYPTION_KEYS}
  testEndpoint: /me
icon: <svg xmlns="http://www.w3.org/2000/svg"/>
`,
	// Reads a Secret mounted as Kubernetes does, from a folder the operator
	// names in the config file.
	"mounted.yaml": `id: mounted
name: Mounted
description: A client id from a mounted Secret.
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://auth.example.com/authorize
    tokenUrl: https://auth.example.com/token
    clientId: ${file:../mounts/acme/client-id}
    clientSecret: ${ACME_CLIENT_SECRET}
api:
  baseUrl: https://api.example.com
  testEndpoint: /me
icon: <svg xmlns="http://www.w3.org/2000/svg"/>
`,
}

// secretsFolder is a working folder with the shipped github and stripe
// manifests, leakManifests, a Kubernetes-style Secret volume in mounts/acme
// and a config file that allows it and the ACME_* and STRIPE_* variables.
func secretsFolder(t *testing.T) string {
	t.Helper()
	dir := shippedFolder(t)
	for name, body := range leakManifests {
		writeFile(t, filepath.Join(dir, "integrations.d", name), body)
	}
	mount := filepath.Join(dir, "mounts", "acme")
	writeFile(t, filepath.Join(mount, "..2026_12_04_00_00_00.1", "client-id"), "mounted-client-id\n")
	if err := os.Symlink("..2026_12_04_00_00_00.1", filepath.Join(mount, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "client-id"), filepath.Join(mount, "client-id")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "plugboard.yaml"), "secrets:\n  envAllow: [\"ACME_*\", \"STRIPE_*\"]\n  dirs: [mounts/acme]\n")
	return dir
}

// TestServeRefusesGatewaySecrets: a dev gateway (where an unset secret is
// only a warning) refuses the manifests that name its own secrets, and
// github, whose variables the config file does not allow, with a located
// error; it keeps serving stripe and the manifest that reads the mounted
// Secret; neither secret reaches a response or a log line.
func TestServeRefusesGatewaySecrets(t *testing.T) {
	t.Parallel()
	dir := secretsFolder(t)
	env := productionEnv(t, dir, "ACME_CLIENT_SECRET=acme-secret")
	var keys string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PLUGBOARD_ENCRYPTION_KEYS="); ok {
			keys = v
		}
	}
	g := startGateway(t, dir, env, "--mode", "dev", "--log-level", "debug", "--demo=false")
	b, err := os.ReadFile(filepath.Join(dir, ".plugboard", "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))

	var list struct {
		Integrations []publicView `json:"integrations"`
	}
	g.getJSON("/v1/integrations", "", &list)
	var ids []string
	for _, in := range list.Integrations {
		ids = append(ids, in.ID)
	}
	if !slices.Equal(ids, []string{"mounted", "stripe"}) {
		t.Errorf("served %v, want [mounted stripe]", ids)
	}
	view := g.admin(token)
	for file, want := range map[string]problemEntry{
		"leak-file.yaml": {Line: 9, Column: 15, Path: "auth.oauth2.clientId", Message: "secret file ../.plugboard/admin-token is outside the manifest's folder and the secret folders"},
		"leak-env.yaml":  {Line: 11, Column: 14, Path: "api.headers.X-Debug", Message: "environment variable PLUGBOARD_ENCRYPTION_KEYS is reserved for the gateway's own settings; a manifest cannot read it"},
		"github.yaml":    {Line: 13, Column: 15, Path: "auth.oauth2.clientId", Message: "environment variable GITHUB_CLIENT_ID is not in the allowed secret variables"},
	} {
		status, errs := view.fileStatus(file)
		if status != "rejected" || len(errs) == 0 || errs[0].Line != want.Line || errs[0].Column != want.Column || errs[0].Path != want.Path || !strings.HasPrefix(errs[0].Message, want.Message) {
			t.Errorf("%s: want rejected with %d:%d: %s: %s, got %s %+v", file, want.Line, want.Column, want.Path, want.Message, status, errs)
		}
	}
	if status, errs := view.fileStatus("mounted.yaml"); status != "ok" {
		t.Errorf("mounted.yaml: %s %+v", status, errs)
	}
	g.do("POST", "/admin/v1/reload", token)
	for where, text := range map[string]string{"responses": g.responses.String(), "stderr": g.stderr.String(), "stdout": g.stdout.String()} {
		for what, secret := range map[string]string{"admin token": token, "encryption keys": keys[strings.Index(keys, ":")+1:]} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}
}

// TestValidateSecretPolicy: validate refuses the same references as serve,
// without any secret set (as in CI), located at file:line:col, with the
// policy from the config file, the environment or the flags.
func TestValidateSecretPolicy(t *testing.T) {
	t.Parallel()
	dir := secretsFolder(t)
	noSecrets := serveEnv()
	r := runIn(t, dir, noSecrets, "validate", "--quiet", "integrations.d")
	wantCode(t, r, 1)
	got := lines(r.stdout)
	want := []string{
		"integrations.d/github.yaml:13:15: auth.oauth2.clientId: environment variable GITHUB_CLIENT_ID is not in the allowed secret variables (the operator allows: ACME_*, STRIPE_* (--secret-env-allow))",
		"integrations.d/github.yaml:14:19: auth.oauth2.clientSecret: environment variable GITHUB_CLIENT_SECRET is not in the allowed secret variables",
		"integrations.d/leak-env.yaml:11:14: api.headers.X-Debug: environment variable PLUGBOARD_ENCRYPTION_KEYS is reserved for the gateway's own settings; a manifest cannot read it",
		"integrations.d/leak-file.yaml:9:15: auth.oauth2.clientId: secret file ../.plugboard/admin-token is outside the manifest's folder and the secret folders",
		// Allowed but unset: a warning, as serve's dev mode logs it.
		"integrations.d/leak-file.yaml:10:19: warning: auth.oauth2.clientSecret: environment variable ACME_CLIENT_SECRET is not set",
		"integrations.d/mounted.yaml:10:19: warning: auth.oauth2.clientSecret: environment variable ACME_CLIENT_SECRET is not set",
	}
	if len(got) != len(want) {
		t.Fatalf("want %d problems, got %s", len(want), r)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: want %s\n got %s", i+1, want[i], got[i])
		}
	}

	// A flag wins over the file; the reserved variable stays refused.
	r = runIn(t, dir, noSecrets, "validate", "--quiet", "--secret-env-allow", "GITHUB_*,ACME_*", "--secret-env-allow", "PLUGBOARD_*", "integrations.d")
	wantCode(t, r, 1)
	var errs []string
	for _, l := range lines(r.stdout) {
		if !strings.Contains(l, ": warning: ") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "leak-env.yaml:11:14") || !strings.Contains(errs[1], "leak-file.yaml:9:15") {
		t.Errorf("with GITHUB_* allowed: %s", r)
	}

	// Without the config file, the mounted folder is refused unless the
	// environment names it.
	writeFile(t, filepath.Join(dir, "plain.yaml"), "log: {level: info}\n")
	r = runIn(t, dir, noSecrets, "validate", "--config", "plain.yaml", "integrations.d/mounted.yaml")
	wantCode(t, r, 1)
	if !strings.HasPrefix(r.stdout, "integrations.d/mounted.yaml:9:15: auth.oauth2.clientId: secret file ../mounts/acme/client-id is outside the manifest's folder and the secret folders (keep secret files in the manifest's folder, or have the operator name their folder with --secrets-dir)") {
		t.Errorf("mounted Secret without --secrets-dir: %s", r)
	}
	r = runIn(t, dir, append(noSecrets, "PLUGBOARD_SECRETS_DIR="+filepath.Join(dir, "mounts")), "validate", "--config", "plain.yaml", "--check-env", "integrations.d/mounted.yaml")
	wantCode(t, r, 1) // ACME_CLIENT_SECRET is not set; the file is fine
	if got := lines(r.stdout); len(got) != 2 || !strings.Contains(got[0], "mounted.yaml:10:19: auth.oauth2.clientSecret: environment variable ACME_CLIENT_SECRET is not set") {
		t.Errorf("PLUGBOARD_SECRETS_DIR: %s", r)
	}

	// A bad pattern is a usage error.
	r = runIn(t, dir, noSecrets, "validate", "--secret-env-allow", "[A-", "integrations.d")
	wantCode(t, r, 2)
	if !strings.Contains(r.stderr, `--secret-env-allow: secret variable pattern "[A-": syntax error in pattern`) {
		t.Errorf("bad pattern: %s", r)
	}
}
