//go:build unix

package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// policyManifest is an OAuth2 manifest whose client id, which the gateway
// renders into the authorization URL every end user's browser receives, is
// ref.
func policyManifest(ref string) string {
	return `id: acme
name: Acme
description: x
icon: <svg xmlns="http://www.w3.org/2000/svg"/>
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://acme.com/oauth/authorize
    tokenUrl: https://acme.com/oauth/token
    clientId: ` + ref + `
    clientSecret: ${ACME_CLIENT_SECRET}
api:
  baseUrl: https://api.acme.com
  testEndpoint: /me
`
}

// secretLayout builds, in a temp folder: the gateway's data folder with an
// admin token, a manifest folder with a secret file, a link out of it to the
// admin token and a link to /dev/zero, and a secret folder laid out as
// Kubernetes mounts a Secret (token -> ..data/token, ..data -> ..2024_…),
// reached itself through a symbolic link.
type secretLayout struct {
	root, manifests, data, secrets string
}

const adminToken = "admin-token-never-handed-out"

func newSecretLayout(t *testing.T) secretLayout {
	t.Helper()
	root := t.TempDir()
	l := secretLayout{root: root, manifests: filepath.Join(root, "integrations.d"), data: filepath.Join(root, "data"), secrets: filepath.Join(root, "secrets")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{l.manifests, l.data, filepath.Join(root, "mounts", "acme", "..2024_01_01_00_00_00.000000001")} {
		must(os.MkdirAll(d, 0o700))
	}
	must(os.WriteFile(filepath.Join(l.data, "admin-token"), []byte(adminToken+"\n"), 0o600))
	must(os.WriteFile(filepath.Join(l.manifests, "client-id.txt"), []byte("acme-client-id\n"), 0o600))
	must(os.Symlink(filepath.Join("..", "data", "admin-token"), filepath.Join(l.manifests, "innocent.txt")))
	must(os.Symlink("/dev/zero", filepath.Join(l.manifests, "zero.txt")))
	mount := filepath.Join(root, "mounts", "acme")
	must(os.WriteFile(filepath.Join(mount, "..2024_01_01_00_00_00.000000001", "client-id"), []byte("k8s-client-id\n"), 0o600))
	must(os.Symlink("..2024_01_01_00_00_00.000000001", filepath.Join(mount, "..data")))
	must(os.Symlink(filepath.Join("..data", "client-id"), filepath.Join(mount, "client-id")))
	must(os.Symlink(filepath.Join("mounts", "acme"), l.secrets))
	return l
}

func (l secretLayout) parse(t *testing.T, ref string, opts Options) (*Integration, Problems) {
	t.Helper()
	path := filepath.Join(l.manifests, "acme.yaml")
	data := []byte(policyManifest(ref))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Secrets.LookupEnv = func(k string) (string, bool) {
		v, ok := map[string]string{"ACME_CLIENT_SECRET": "s", "PLUGBOARD_ADMIN_TOKEN": adminToken, "STRIPE_KEY": "sk"}[k]
		return v, ok
	}
	var in *Integration
	var probs Problems
	noHang(t, "Parse "+ref, func() { in, probs = Parse(path, data, opts) })
	return in, probs
}

// TestSecretPolicyRefuses: a manifest cannot name the gateway's own
// variables or files outside its folder and the operator's secret folders,
// however it spells the path; the refusal is located at the reference, is
// an error in every mode (dev mode included), and needs no secret value.
func TestSecretPolicyRefuses(t *testing.T) {
	l := newSecretLayout(t)
	policy := SecretPolicy{Dirs: []string{l.secrets}, Deny: []string{l.data}}
	const at = "10:15: auth.oauth2.clientId: "
	tests := []struct {
		ref    string
		policy SecretPolicy
		want   string
		static bool // refused without reading anything (plugboard validate)
	}{
		{"${file:../data/admin-token}", policy, "secret file ../data/admin-token is outside the manifest's folder and the secret folders", true},
		{"${file:" + filepath.Join(l.data, "admin-token") + "}", policy, "is outside the manifest's folder and the secret folders", true},
		{"${file:./../data/./admin-token}", policy, "is outside the manifest's folder", true},
		{"${file:/proc/self/environ}", policy, "secret file /proc/self/environ is outside the manifest's folder", true},
		{"${file:/etc/passwd}", policy, "secret file /etc/passwd is outside", true},
		{"${file:" + l.secrets + "/../data/admin-token}", policy, "is outside", true},
		{"${PLUGBOARD_ADMIN_TOKEN}", policy, "environment variable PLUGBOARD_ADMIN_TOKEN is reserved for the gateway's own settings", true},
		{"${plugboard_admin_token}", policy, "is reserved", true},
		{"${PLUGBOARD_ENCRYPTION_KEYS_FILE}", policy, "is reserved", true},
		{"${PGPASSWORD}", policy, "environment variable PGPASSWORD is reserved", true},
		{"${HTTPS_PROXY}", policy, "is reserved", true},
		{"${GITHUB_CLIENT_ID}", SecretPolicy{EnvAllow: []string{"STRIPE_*", "ACME_CLIENT_SECRET"}}, "environment variable GITHUB_CLIENT_ID is not in the allowed secret variables (the operator allows: STRIPE_*, ACME_CLIENT_SECRET (--secret-env-allow))", true},
		{"${PLUGBOARD_ADMIN_TOKEN}", SecretPolicy{EnvAllow: []string{"*"}}, "is reserved", true},
		// The data folder inside an allowed folder stays out of reach.
		{"${file:../data/admin-token}", SecretPolicy{Dirs: []string{l.root}, Deny: []string{l.data}}, "secret file ../data/admin-token is inside " + l.data + ", the gateway's own folder", true},
		// A link inside the folder that leads out of it: refused once followed.
		{"${file:innocent.txt}", policy, "secret file innocent.txt leads to " + filepath.Join(l.data, "admin-token") + ", outside the manifest's folder and the secret folders", false},
		{"${file:innocent.txt}", SecretPolicy{Dirs: []string{l.root}, Deny: []string{l.data}}, "secret file innocent.txt leads to " + filepath.Join(l.data, "admin-token") + ", inside the gateway's own folder", false},
		{"${file:innocent.txt}", SecretPolicy{}, "secret file innocent.txt leads to " + filepath.Join(l.data, "admin-token") + ", outside the manifest's folder and the secret folders", false},
		{"${file:zero.txt}", policy, "secret file zero.txt leads to /dev/zero, outside", false},
		// A secret folder the operator did not name.
		{"${file:" + filepath.Join(l.secrets, "client-id") + "}", SecretPolicy{}, "is outside the manifest's folder and the secret folders (keep secret files in the manifest's folder, or have the operator name their folder with --secrets-dir)", true},
	}
	for _, tc := range tests {
		want := parseWant(t, at+tc.want)
		for _, mode := range []struct {
			name string
			opts Options
		}{
			{"resolved", Options{ResolveSecrets: true}},
			{"dev", Options{ResolveSecrets: true, AllowUnresolvedSecrets: true}},
			{"validate", Options{}},
		} {
			if mode.name == "validate" && !tc.static {
				continue
			}
			opts := mode.opts
			opts.SecretPolicy = tc.policy
			in, probs := l.parse(t, tc.ref, opts)
			path := filepath.Join(l.manifests, "acme.yaml")
			if in != nil || len(probs) != 1 || !want.matches(path, probs[0]) {
				t.Errorf("%s %s: want %s, got %v", mode.name, tc.ref, tc.want, probs)
			}
			if strings.Contains(fmt.Sprint(probs), adminToken) {
				t.Errorf("%s %s: the problem shows the secret: %v", mode.name, tc.ref, probs)
			}
		}
	}
}

// TestSecretPolicyAllows: what the policy lets through still resolves,
// Kubernetes' ..data links included.
func TestSecretPolicyAllows(t *testing.T) {
	l := newSecretLayout(t)
	tests := []struct {
		ref, want string
		policy    SecretPolicy
	}{
		{"${file:client-id.txt}", "acme-client-id", SecretPolicy{}},
		{"${file:" + filepath.Join(l.manifests, "client-id.txt") + "}", "acme-client-id", SecretPolicy{}},
		{"${file:" + filepath.Join(l.secrets, "client-id") + "}", "k8s-client-id", SecretPolicy{Dirs: []string{l.secrets}, Deny: []string{l.data}}},
		{"${file:../secrets/client-id}", "k8s-client-id", SecretPolicy{Dirs: []string{l.secrets}}},
		{"${STRIPE_KEY}", "sk", SecretPolicy{EnvAllow: []string{"STRIPE_*", "ACME_*"}}},
	}
	for _, tc := range tests {
		in, probs := l.parse(t, tc.ref, Options{ResolveSecrets: true, SecretPolicy: tc.policy})
		if in == nil {
			t.Errorf("%s: %v", tc.ref, probs)
			continue
		}
		if v, _ := in.Auth.OAuth2.ClientID.Render(Vars{}); v != tc.want {
			t.Errorf("%s resolved to %q, want %q", tc.ref, v, tc.want)
		}
	}
}
