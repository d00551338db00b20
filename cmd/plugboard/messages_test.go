//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// These tests hold serve to what its messages promise a newcomer: where
// warnings are (and that place shows them), every missing production
// setting at once, and nothing but JSON on stderr with --log-format json.

const warningsPointer = "manifests have warnings: `plugboard validate integrations.d` lists them"

// TestServeWarningsPointToValidate starts a dev gateway whose GitHub
// manifest has unset secrets: serve says once where its warnings are,
// `plugboard validate` there lists the same warnings, and a reload caused
// by another file does not repeat them.
func TestServeWarningsPointToValidate(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	g := startGateway(t, dir, serveEnv())
	if n := strings.Count(g.stderr.String(), warningsPointer); n != 1 {
		t.Fatalf("serve should say once where its warnings are (%q), said it %d times:\n%s", warningsPointer, n, g.stderr)
	}
	token := readToken(t, dir)
	var served []string
	for _, f := range g.admin(token).Files {
		for _, p := range f.Problems {
			if p.Severity == "warning" {
				served = append(served, p.Message)
			}
		}
	}
	if len(served) != 2 {
		t.Fatalf("want the 2 unset GitHub secrets as warnings in the admin API, got %v", served)
	}

	// The place serve points to shows them, as warnings, in a summary that adds up.
	r := runServeCmd(t, dir, serveEnv(), "validate", "integrations.d")
	wantCode(t, r, 0)
	for _, m := range served {
		if !strings.Contains(r.stdout, ": warning: ") || !strings.Contains(r.stdout, m) {
			t.Errorf("validate should list serve's warning %q, got %s", m, r)
		}
	}
	if !strings.HasSuffix(r.stdout, "valid: 2 file(s), 2 integration(s), 0 error(s), 2 warning(s)\n") || len(lines(r.stdout)) != 3 {
		t.Errorf("want the 2 warnings and a summary counting them, got %s", r)
	}

	// Another file changes: the reload is logged, the warnings are not again.
	editFile(t, filepath.Join(dir, "integrations.d", "stripe.yaml"), func(s string) string {
		return replaceLine(s, "description:", "description: Edited to cause a reload.")
	})
	testfix.Eventually(t, "the edit served", func() bool { return g.description("stripe") == "Edited to cause a reload." })
	testfix.Eventually(t, "the reload logged", func() bool { return strings.Count(g.stderr.String(), `msg="manifests reloaded"`) >= 2 })
	if n := strings.Count(g.stderr.String(), warningsPointer); n != 1 {
		t.Errorf("a reload repeated the warnings (%d times in all):\n%s", n, g.stderr)
	}
}

func readToken(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".plugboard", "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestServeProductionListsEveryMissingSetting starts production mode with
// nothing set: one attempt names every setting it needs.
func TestServeProductionListsEveryMissingSetting(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	adminToken := "an admin token of at least 16 characters: set PLUGBOARD_ADMIN_TOKEN"
	encryption := "PLUGBOARD_ENCRYPTION_KEYS (or PLUGBOARD_ENCRYPTION_KEYS_FILE)"
	projectKeys := "the public key(s) that verify user tokens: set PLUGBOARD_PROJECT_KEYS"

	r := runServeCmd(t, dir, serveEnv(), "serve", "--mode", "production", "--listen", "127.0.0.1:0")
	wantCode(t, r, 1)
	want := "plugboard serve: production mode needs settings that are missing:\n" +
		"  - " + adminToken + " (or --admin-token, or PLUGBOARD_ADMIN_TOKEN_FILE)\n" +
		"  - " + encryption + ", the keys credentials are encrypted with at rest: create one with `plugboard keys generate`\n" +
		"  - " + projectKeys + " (or --project-keys) to PEM files, or list projects in the config file; create a pair with `plugboard keys generate`\n" +
		"For local development, use --mode dev.\n"
	if r.stderr != want {
		t.Errorf("stderr:\nwant\n%s\ngot %s", want, r)
	}

	// What is set is not listed.
	r = runServeCmd(t, dir, serveEnv("PLUGBOARD_ADMIN_TOKEN=production-admin-token-0123"), "serve", "--listen", "0.0.0.0:0")
	wantCode(t, r, 1)
	if strings.Contains(r.stderr, adminToken) || !strings.Contains(r.stderr, encryption) || !strings.Contains(r.stderr, projectKeys) {
		t.Errorf("with the admin token set: want the other two, got %s", r)
	}

	// With JSON logs, the refusal is one record listing them.
	r = runServeCmd(t, dir, serveEnv(), "serve", "--mode", "production", "--log-format", "json")
	wantCode(t, r, 1)
	var rec struct {
		Level, Msg string
		Missing    []string
	}
	if l := lines(r.stderr); len(l) != 1 || json.Unmarshal([]byte(l[0]), &rec) != nil || rec.Level != "ERROR" || len(rec.Missing) != 3 ||
		!strings.HasPrefix(rec.Missing[0], adminToken) || !strings.HasPrefix(rec.Missing[1], encryption) || !strings.HasPrefix(rec.Missing[2], projectKeys) {
		t.Errorf("want one JSON record with the 3 missing settings, got %s", r)
	}
}

// TestServeJSONLogsOnly runs a dev gateway with --log-format json through
// startup, a reload that rejects a bad manifest, and shutdown: every line
// on stderr is a JSON record, the dev banner among them.
func TestServeJSONLogsOnly(t *testing.T) {
	t.Parallel()
	dir := shippedFolder(t)
	g := startGateway(t, dir, serveEnv(), "--log-format", "json")
	writeFile(t, filepath.Join(dir, "integrations.d", "broken.yaml"), "id: broken\nname: [unterminated\n")
	testfix.Eventually(t, "the bad manifest reported", func() bool { return strings.Contains(g.stderr.String(), `"msg":"manifest problem"`) })
	g.signal(syscall.SIGTERM)
	if code := g.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, g.stderr)
	}
	msgs := map[string]bool{}
	for _, l := range lines(g.stderr.String()) {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("a stderr line is not JSON (%v): %q", err, l)
			continue
		}
		msgs[rec.Msg] = true
	}
	for _, m := range []string{"dev mode: not for production (see plugboard serve --help)", "listening", "manifests reloaded", "manifest problem", "shutting down", "stopped"} {
		if !msgs[m] {
			t.Errorf("no %q record on stderr:\n%s", m, g.stderr)
		}
	}
	if strings.Contains(g.stderr.String(), devBanner) {
		t.Errorf("the text banner was printed with JSON logs:\n%s", g.stderr)
	}
	if g.stdout.String() != "" {
		t.Errorf("stdout should be empty, got %s", g.stdout)
	}

	// A usage error found after the flags are read is a JSON record too.
	r := runServeCmd(t, dir, serveEnv(), "serve", "--log-format", "json", "--mode", "staging")
	wantCode(t, r, 2)
	var rec struct{ Level, Msg string }
	if l := lines(r.stderr); len(l) != 1 || json.Unmarshal([]byte(l[0]), &rec) != nil || rec.Level != "ERROR" || !strings.Contains(rec.Msg, `--mode "staging"`) {
		t.Errorf("want one JSON error record, got %s", r)
	}
}
