package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigSecrets: the config file is the operator's, so its own
// reference may read the gateway's variables; its secrets section is read
// with relative folders taken from the file's folder; CheckConfig reads it
// all without the admin token being set.
func TestConfigSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugboard.yaml")
	if err := os.WriteFile(path, []byte("adminToken: ${PLUGBOARD_ADMIN_TOKEN}\nsecrets:\n  envAllow: [\"STRIPE_*\", GITHUB_CLIENT_ID]\n  dirs: [secrets, /run/secrets]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := SecretResolver{LookupEnv: func(k string) (string, bool) {
		return "operator-admin-token", k == "PLUGBOARD_ADMIN_TOKEN"
	}}
	cfg, probs := LoadConfig(path, env)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if v, _ := cfg.AdminToken.Value(); v != "operator-admin-token" {
		t.Errorf("admin token = %q", v)
	}
	if got := strings.Join(cfg.Secrets.EnvAllow, " "); got != "STRIPE_* GITHUB_CLIENT_ID" {
		t.Errorf("envAllow = %s", got)
	}
	if got := strings.Join(cfg.Secrets.Dirs, " "); got != filepath.Join(dir, "secrets")+" /run/secrets" {
		t.Errorf("dirs = %s", got)
	}
	if _, probs := LoadConfig(path, SecretResolver{LookupEnv: func(string) (string, bool) { return "", false }}); len(probs) != 1 || !strings.Contains(probs[0].Message, "PLUGBOARD_ADMIN_TOKEN is not set") {
		t.Errorf("unset admin token: %v", probs)
	}
	cfg, probs = CheckConfig(path)
	if len(probs) > 0 || len(cfg.Secrets.Dirs) != 2 {
		t.Fatalf("CheckConfig: %v %+v", probs, cfg)
	}
	if _, ok := cfg.AdminToken.Value(); ok {
		t.Error("CheckConfig resolved the admin token")
	}

	if err := os.WriteFile(path, []byte("secrets:\n  envAllow:\n    - STRIPE_*\n    - \"[A-\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := parseWant(t, `4:7: secrets.envAllow[1]: secret variable pattern "[A-": syntax error in pattern`)
	if _, probs := CheckConfig(path); len(probs) != 1 || !want.matches(path, probs[0]) {
		t.Errorf("bad pattern: want %v, got %v", want, probs)
	}
}
