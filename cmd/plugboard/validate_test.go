package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// These tests run the real binary, as a user or a CI job would, and check
// what they see: exit codes, stdout and stderr.

func TestMain(m *testing.M) {
	os.Exit(testfix.Run(m))
}

// result is what a user sees after running the binary.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runIn runs the binary in dir. env holds extra NAME=value pairs; variables
// whose names start with PLUGBOARD_TEST_ are removed from the inherited
// environment so that "unset" really is unset.
func runIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(testfix.Plugboard(t), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLUGBOARD_TEST_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running plugboard %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
}

// lines splits output into lines without the trailing empty one.
func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyShipped copies shipped manifests and their icons from integrations.d.
func copyShipped(t *testing.T, dst string, names ...string) {
	t.Helper()
	for _, name := range names {
		for _, ext := range []string{".yaml", ".svg"} {
			b, err := os.ReadFile(filepath.Join("..", "..", "integrations.d", name+ext))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dst, name+ext), string(b))
		}
	}
}

const testIcon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>`

// badManifest declares input "token" but its template uses "tokn"; the typo
// is at 14:12. It has no warnings.
const badManifest = `id: bad
name: Bad
description: A manifest with a typo in a template.
icon: icon.svg
auth:
  type: api_key
  inputs:
    - key: token
      label: Token
api:
  baseUrl: https://api.example.com
  authorization:
    type: bearer
    token: "{{inputs.tokn}}"
  testEndpoint: /me
`

const badLine = `bad.yaml:14:12: api.authorization.token: template refers to input "tokn", which is not declared (did you mean "token"?)`

// warnManifest is valid but has two warnings: no testEndpoint (reported at
// api's first key, 11:3) and plain http on a non-loopback host (11:12).
const warnManifest = `id: warn
name: Warn
description: Valid, with warnings only.
icon: icon.svg
auth:
  type: api_key
  inputs:
    - key: token
      label: Token
api:
  baseUrl: http://api.example.com
  authorization:
    type: bearer
    token: "{{inputs.token}}"
`

// envManifest reads its client secret from ENVY_TEST_CLIENT_SECRET.
const envManifest = `id: envy
name: Envy
description: OAuth2 with a secret from the environment.
icon: icon.svg
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://auth.example.com/authorize
    tokenUrl: https://auth.example.com/token
    clientId: envy-client
    clientSecret: ${ENVY_TEST_CLIENT_SECRET}
api:
  baseUrl: https://api.example.com
  testEndpoint: /me
`

// folderWith returns a temp folder holding icon.svg and the given manifests.
func folderWith(t *testing.T, manifests map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "icon.svg"), testIcon)
	for name, content := range manifests {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

// githubSecrets sets the shipped GitHub manifest's secrets, which validate
// reads (unset, they are warnings).
var githubSecrets = []string{"GITHUB_CLIENT_ID=validate-test-id", "GITHUB_CLIENT_SECRET=validate-test-secret"}

func TestValidateValidFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "manifests"), "github", "stripe")
	env := githubSecrets

	r := runIn(t, dir, env, "validate", "manifests")
	wantCode(t, r, 0)
	want := "valid: 2 file(s), 2 integration(s), 0 error(s), 0 warning(s)"
	if got := lines(r.stdout); len(got) != 1 || got[0] != want {
		t.Errorf("stdout: want only %q, got %s", want, r)
	}
	if r.stderr != "" {
		t.Errorf("stderr should be empty, got %s", r)
	}

	// Files can be named one by one too.
	r = runIn(t, dir, env, "validate", filepath.Join("manifests", "github.yaml"), filepath.Join("manifests", "stripe.yaml"))
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stdout, "valid: 2 file(s)") {
		t.Errorf("want summary valid: 2 file(s)…, got %s", r)
	}

	r = runIn(t, dir, env, "validate", "--quiet", "manifests")
	wantCode(t, r, 0)
	if r.stdout != "" {
		t.Errorf("--quiet on a valid folder should print nothing, got %s", r)
	}
}

func TestValidateDefaultPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyShipped(t, filepath.Join(dir, "integrations.d"), "github", "stripe")

	r := runIn(t, dir, githubSecrets, "validate")
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stdout, "valid: 2 file(s), 2 integration(s)") {
		t.Errorf("want the default folder integrations.d validated, got %s", r)
	}

	// Without the default folder, the missing path is a usage error.
	r = runIn(t, t.TempDir(), nil, "validate")
	wantCode(t, r, 2)
	if !strings.Contains(r.stderr, "integrations.d") {
		t.Errorf("stderr should name the missing default folder, got %s", r)
	}
}

func TestValidateInvalidText(t *testing.T) {
	t.Parallel()
	dir := folderWith(t, map[string]string{"bad.yaml": badManifest})

	r := runIn(t, dir, nil, "validate", "bad.yaml")
	wantCode(t, r, 1)
	want := []string{badLine, "INVALID: 1 file(s), 0 integration(s), 1 error(s), 0 warning(s)"}
	if got := lines(r.stdout); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout:\nwant\n%s\ngot %s", strings.Join(want, "\n"), r)
	}

	r = runIn(t, dir, nil, "validate", "--quiet", "bad.yaml")
	wantCode(t, r, 1)
	if r.stdout != badLine+"\n" {
		t.Errorf("--quiet: want only the problem line, got %s", r)
	}
}

func TestValidateGitHubFormat(t *testing.T) {
	t.Parallel()
	dir := folderWith(t, map[string]string{"bad.yaml": badManifest, "warn.yaml": warnManifest})

	r := runIn(t, dir, nil, "validate", "--format", "github", ".")
	wantCode(t, r, 1)
	want := []string{
		`::error file=bad.yaml,line=14,col=12,title=plugboard api.authorization.token::api.authorization.token: template refers to input "tokn", which is not declared (did you mean "token"?)`,
		`::warning file=warn.yaml,line=11,col=3,title=plugboard api::api: no testEndpoint; connections are saved without a test request (add api.testEndpoint so credentials are checked before they are saved)`,
		`::warning file=warn.yaml,line=11,col=12,title=plugboard api.baseUrl::api.baseUrl: URL uses plain http (use https; --strict rejects plain http)`,
		"INVALID: 2 file(s), 1 integration(s), 1 error(s), 2 warning(s)",
	}
	if got := lines(r.stdout); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout:\nwant\n%s\ngot %s", strings.Join(want, "\n"), r)
	}

	// A problem about the whole file has no JSON path: the title is just "plugboard".
	writeFile(t, filepath.Join(dir, "empty.yaml"), "")
	r = runIn(t, dir, nil, "validate", "--format", "github", "empty.yaml")
	wantCode(t, r, 1)
	if got := lines(r.stdout)[0]; got != "::error file=empty.yaml,line=1,col=1,title=plugboard::file is empty (a manifest needs at least id, name, auth and api)" {
		t.Errorf("got %q", got)
	}

	// Property values are escaped: a file name with a comma and a colon.
	writeFile(t, filepath.Join(dir, "a,b:c.yaml"), "")
	r = runIn(t, dir, nil, "validate", "--format", "github", "a,b:c.yaml")
	wantCode(t, r, 1)
	if got := lines(r.stdout)[0]; !strings.HasPrefix(got, "::error file=a%2Cb%3Ac.yaml,line=1,col=1,") {
		t.Errorf("file property not escaped: %q", got)
	}

	// Under --strict, warnings fail the build and are annotated as errors.
	r = runIn(t, dir, nil, "validate", "--format", "github", "--strict", "warn.yaml")
	wantCode(t, r, 1)
	for _, l := range lines(r.stdout) {
		if strings.HasPrefix(l, "::warning") {
			t.Errorf("--strict should turn warnings into ::error, got %q", l)
		}
	}
	if n := strings.Count(r.stdout, "::error "); n != 2 {
		t.Errorf("want 2 ::error lines under --strict, got %d: %s", n, r)
	}
}

// validateJSON mirrors the documented --format json document.
type validateJSON struct {
	Version int    `json:"version"`
	Valid   *bool  `json:"valid"`
	Strict  bool   `json:"strict"`
	Schema  string `json:"schema"`
	Summary struct {
		Files        int `json:"files"`
		Integrations int `json:"integrations"`
		Workflows    int `json:"workflows"`
		Errors       int `json:"errors"`
		Warnings     int `json:"warnings"`
		StrictFail   int `json:"strictFailures"`
	} `json:"summary"`
	Files []struct {
		Path          string `json:"path"`
		Kind          string `json:"kind"`
		Valid         bool   `json:"valid"`
		IntegrationID string `json:"integrationId"`
		WorkflowID    string `json:"workflowId"`
		Hash          string `json:"hash"`
	} `json:"files"`
	Problems []struct {
		File     string `json:"file"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
		Path     string `json:"path"`
		Message  string `json:"message"`
		Hint     string `json:"hint"`
		Severity string `json:"severity"`
		Code     string `json:"code"`
	} `json:"problems"`
}

func decodeReport(t *testing.T, r result) validateJSON {
	t.Helper()
	var doc validateJSON
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not the documented JSON report: %v\n%s", err, r)
	}
	if dec.More() {
		t.Fatalf("stdout has more than one JSON document: %s", r)
	}
	return doc
}

func TestValidateJSONFormat(t *testing.T) {
	t.Parallel()
	dir := folderWith(t, map[string]string{"bad.yaml": badManifest, "warn.yaml": warnManifest})

	r := runIn(t, dir, nil, "validate", "--format", "json", "bad.yaml", "warn.yaml")
	wantCode(t, r, 1)
	doc := decodeReport(t, r)
	if doc.Version != 1 {
		t.Errorf("version = %d, want 1", doc.Version)
	}
	if doc.Valid == nil || *doc.Valid {
		t.Errorf("valid should be present and false, got %s", r)
	}
	if doc.Strict || doc.Schema == "" {
		t.Errorf("want strict false and a schema URL, got %s", r)
	}
	s := doc.Summary
	if s.Files != 2 || s.Integrations != 1 || s.Errors != 1 || s.Warnings != 2 {
		t.Errorf("summary = %+v, want 2 files, 1 integration, 1 error, 2 warnings", s)
	}
	if len(doc.Files) != 2 {
		t.Fatalf("files: want 2, got %s", r)
	}
	if f := doc.Files[0]; f.Path != "bad.yaml" || f.Valid || f.IntegrationID != "" {
		t.Errorf("files[0] = %+v, want bad.yaml, invalid, no id", f)
	}
	if f := doc.Files[1]; f.Path != "warn.yaml" || !f.Valid || f.IntegrationID != "warn" || len(f.Hash) != 64 {
		t.Errorf("files[1] = %+v, want warn.yaml, valid, id warn, a sha256 hash", f)
	}
	if len(doc.Problems) != 3 {
		t.Fatalf("problems: want 3, got %s", r)
	}
	p := doc.Problems[0]
	if p.File != "bad.yaml" || p.Line != 14 || p.Column != 12 || p.Path != "api.authorization.token" ||
		p.Message != `template refers to input "tokn", which is not declared` || p.Hint != `did you mean "token"?` || p.Severity != "error" {
		t.Errorf("problems[0] = %+v", p)
	}
	p = doc.Problems[1]
	if p.File != "warn.yaml" || p.Line != 11 || p.Column != 3 || p.Path != "api" ||
		!strings.HasPrefix(p.Message, "no testEndpoint") || p.Hint == "" || p.Severity != "warning" {
		t.Errorf("problems[1] = %+v", p)
	}
	p = doc.Problems[2]
	if p.File != "warn.yaml" || p.Line != 11 || p.Column != 12 || p.Path != "api.baseUrl" ||
		p.Message != "URL uses plain http" || p.Hint != "use https; --strict rejects plain http" || p.Severity != "warning" {
		t.Errorf("problems[2] = %+v", p)
	}

	// --strict is reported, and a file with warnings is no longer valid.
	r = runIn(t, dir, nil, "validate", "--format", "json", "--strict", "warn.yaml")
	wantCode(t, r, 1)
	doc = decodeReport(t, r)
	if !doc.Strict || doc.Valid == nil || *doc.Valid || doc.Summary.Integrations != 0 || doc.Files[0].Valid {
		t.Errorf("--strict: want strict, invalid, 0 integrations, got %s", r)
	}

	// A valid run still prints a complete document, with empty arrays.
	r = runIn(t, dir, nil, "validate", "--format", "json", "--quiet", "warn.yaml")
	wantCode(t, r, 0)
	doc = decodeReport(t, r)
	if doc.Valid == nil || !*doc.Valid || doc.Summary.Warnings != 2 {
		t.Errorf("want valid with 2 warnings, got %s", r)
	}
	if !strings.Contains(r.stdout, `"problems": [`) || !strings.Contains(r.stdout, `"files": [`) {
		t.Errorf("files and problems must be arrays, got %s", r)
	}
}

// badWorkflow runs an action the GitHub manifest does not have; the typo
// is at 7:13.
const badWorkflow = `id: bad-flow
title: Bad
integration: github
trigger: {event: repo.created}
steps:
  - id: list
    action: list_repo
`

const badWorkflowLine = `bad.workflow.yaml:7:13: steps[0].action: integration "github" has no action "list_repo" (did you mean "list_repos"?)`

// Workflow files are validated with the manifests beside them, reported
// like them and counted in the summary.
func TestValidateWorkflows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyShipped(t, dir, "github")
	shipped, err := os.ReadFile(filepath.Join("..", "..", "integrations.d", "github-repo-count.workflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "github-repo-count.workflow.yaml"), string(shipped))

	r := runIn(t, dir, githubSecrets, "validate", "--strict", ".")
	wantCode(t, r, 0)
	if want := "valid: 2 file(s), 1 integration(s), 1 workflow(s), 0 error(s), 0 warning(s)\n"; r.stdout != want {
		t.Errorf("stdout: want %q, got %s", want, r)
	}

	writeFile(t, filepath.Join(dir, "bad.workflow.yaml"), badWorkflow)
	r = runIn(t, dir, githubSecrets, "validate", ".")
	wantCode(t, r, 1)
	want := []string{badWorkflowLine, "INVALID: 3 file(s), 1 integration(s), 1 workflow(s), 1 error(s), 0 warning(s)"}
	if got := lines(r.stdout); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout:\nwant\n%s\ngot %s", strings.Join(want, "\n"), r)
	}

	r = runIn(t, dir, githubSecrets, "validate", "--format", "github", ".")
	wantCode(t, r, 1)
	if got := lines(r.stdout)[0]; got != `::error file=bad.workflow.yaml,line=7,col=13,title=plugboard steps[0].action::steps[0].action: integration "github" has no action "list_repo" (did you mean "list_repos"?)` {
		t.Errorf("github format: %s", r)
	}

	r = runIn(t, dir, githubSecrets, "validate", "--format", "json", ".")
	wantCode(t, r, 1)
	doc := decodeReport(t, r)
	if s := doc.Summary; s.Files != 3 || s.Integrations != 1 || s.Workflows != 1 || s.Errors != 1 || s.Warnings != 0 {
		t.Errorf("summary = %+v", s)
	}
	if len(doc.Files) != 3 || len(doc.Problems) != 1 {
		t.Fatalf("want 3 files and 1 problem, got %s", r)
	}
	if f := doc.Files[0]; f.Path != "bad.workflow.yaml" || f.Kind != "workflow" || f.Valid || f.WorkflowID != "" {
		t.Errorf("files[0] = %+v", f)
	}
	if f := doc.Files[1]; f.Path != "github-repo-count.workflow.yaml" || f.Kind != "workflow" || !f.Valid ||
		f.WorkflowID != "github-repo-count" || f.IntegrationID != "github" || len(f.Hash) != 64 {
		t.Errorf("files[1] = %+v", f)
	}
	if f := doc.Files[2]; f.Path != "github.yaml" || f.Kind != "integration" || !f.Valid || f.IntegrationID != "github" || f.WorkflowID != "" {
		t.Errorf("files[2] = %+v", f)
	}
	if p := doc.Problems[0]; p.File != "bad.workflow.yaml" || p.Line != 7 || p.Column != 13 || p.Path != "steps[0].action" || p.Severity != "error" {
		t.Errorf("problems[0] = %+v", p)
	}

	// Named alone, a workflow's integration is not there to check against.
	r = runIn(t, dir, githubSecrets, "validate", "github-repo-count.workflow.yaml")
	wantCode(t, r, 1)
	if !strings.Contains(r.stdout, `github-repo-count.workflow.yaml:7:14: integration: integration "github" is not loaded`) {
		t.Errorf("a workflow without its manifest: %s", r)
	}

	r = runIn(t, dir, nil, "schema", "workflow")
	wantCode(t, r, 0)
	var schema map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &schema); err != nil || schema["$id"] != "https://plugboard.dev/schemas/workflow.schema.json" {
		t.Errorf("schema workflow: %v %s", err, r)
	}
	r = runIn(t, dir, nil, "schema", "manifest")
	wantCode(t, r, 2)
	if !strings.Contains(r.stderr, `unknown schema "manifest"`) {
		t.Errorf("schema manifest: %s", r)
	}
}

func TestValidateStrict(t *testing.T) {
	t.Parallel()
	dir := folderWith(t, map[string]string{"warn.yaml": warnManifest})

	r := runIn(t, dir, nil, "validate", "warn.yaml")
	wantCode(t, r, 0)
	want := []string{
		"warn.yaml:11:3: warning: api: no testEndpoint; connections are saved without a test request (add api.testEndpoint so credentials are checked before they are saved)",
		"warn.yaml:11:12: warning: api.baseUrl: URL uses plain http (use https; --strict rejects plain http)",
		"valid: 1 file(s), 1 integration(s), 0 error(s), 2 warning(s)",
	}
	if got := lines(r.stdout); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout:\nwant\n%s\ngot %s", strings.Join(want, "\n"), r)
	}

	r = runIn(t, dir, nil, "validate", "--strict", "warn.yaml")
	wantCode(t, r, 1)
	if !strings.HasSuffix(r.stdout, "INVALID: 1 file(s), 0 integration(s), 0 error(s), 2 warning(s) (2 fail under --strict)\n") {
		t.Errorf("--strict: want an INVALID summary, got %s", r)
	}

	// Plain http to a loopback host is fine (local development).
	local := strings.Replace(warnManifest, "http://api.example.com", "http://127.0.0.1:8080", 1)
	local = strings.Replace(local, "    token: \"{{inputs.token}}\"\n", "    token: \"{{inputs.token}}\"\n  testEndpoint: /me\n", 1)
	writeFile(t, filepath.Join(dir, "local.yaml"), strings.Replace(local, "id: warn", "id: local", 1))
	r = runIn(t, dir, nil, "validate", "--strict", "local.yaml")
	wantCode(t, r, 0)
}

func TestValidateCheckEnv(t *testing.T) {
	t.Parallel()
	dir := folderWith(t, map[string]string{"envy.yaml": envManifest})

	// No value is needed: an unset secret is the warning serve's dev mode
	// logs, and the summary counts it.
	r := runIn(t, dir, nil, "validate", "envy.yaml")
	wantCode(t, r, 0)
	want := []string{
		"envy.yaml:11:19: warning: auth.oauth2.clientSecret: environment variable ENVY_TEST_CLIENT_SECRET is not set (dev mode loads it anyway; flows that need this secret will fail, and production rejects the manifest)",
		"valid: 1 file(s), 1 integration(s), 0 error(s), 1 warning(s)",
	}
	if got := lines(r.stdout); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("want the unset secret as a warning:\n%s\ngot %s", strings.Join(want, "\n"), r)
	}
	// It is about the environment, not the manifest: --strict keeps it a
	// warning, so CI without secrets can run validate --strict.
	r = runIn(t, dir, nil, "validate", "--strict", "envy.yaml")
	wantCode(t, r, 0)
	if !strings.HasSuffix(r.stdout, "valid: 1 file(s), 1 integration(s), 0 error(s), 1 warning(s)\n") {
		t.Errorf("--strict: want the unset secret counted as a warning, got %s", r)
	}
	r = runIn(t, dir, nil, "validate", "--strict", "--format", "github", "envy.yaml")
	wantCode(t, r, 0)
	if !strings.HasPrefix(r.stdout, "::warning file=envy.yaml,line=11,col=19,") {
		t.Errorf("--strict --format github: want a ::warning, got %s", r)
	}
	r = runIn(t, dir, nil, "validate", "--format", "json", "envy.yaml")
	if doc := decodeReport(t, r); len(doc.Problems) != 1 || doc.Problems[0].Code != "secret_unset" || doc.Problems[0].Severity != "warning" || doc.Summary.Warnings != 1 {
		t.Errorf("--format json: want one secret_unset warning, got %s", r)
	}

	// --check-env makes it an error, as production does.
	r = runIn(t, dir, nil, "validate", "--check-env", "envy.yaml")
	wantCode(t, r, 1)
	want = []string{
		"envy.yaml:11:19: auth.oauth2.clientSecret: environment variable ENVY_TEST_CLIENT_SECRET is not set (secrets are read when the gateway loads the manifest)",
		"INVALID: 1 file(s), 0 integration(s), 1 error(s), 0 warning(s)",
	}
	if got := lines(r.stdout); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("--check-env: want\n%s\ngot %s", strings.Join(want, "\n"), r)
	}

	r = runIn(t, dir, []string{"ENVY_TEST_CLIENT_SECRET="}, "validate", "--check-env", "envy.yaml")
	wantCode(t, r, 1)
	if !strings.Contains(r.stdout, "ENVY_TEST_CLIENT_SECRET is empty") {
		t.Errorf("an empty variable should be reported, got %s", r)
	}

	const secret = "s3cr3t-Value-that-must-never-print"
	env := []string{"ENVY_TEST_CLIENT_SECRET=" + secret}
	for _, format := range []string{"text", "json", "github"} {
		r = runIn(t, dir, env, "validate", "--check-env", "--format", format, "envy.yaml")
		wantCode(t, r, 0)
		if strings.Contains(r.stdout+r.stderr, secret) || strings.Contains(r.stdout+r.stderr, "s3cr3t") {
			t.Errorf("--format %s printed the secret: %s", format, r)
		}
	}
	// Nor when another problem makes the manifest invalid.
	broken := strings.Replace(envManifest, "testEndpoint: /me", "testEndpoint: me", 1)
	writeFile(t, filepath.Join(dir, "broken.yaml"), broken)
	for _, format := range []string{"text", "json", "github"} {
		r = runIn(t, dir, env, "validate", "--check-env", "--format", format, "broken.yaml")
		if strings.Contains(r.stdout+r.stderr, "s3cr3t") {
			t.Errorf("--format %s printed the secret: %s", format, r)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := folderWith(t, map[string]string{"warn.yaml": warnManifest})
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"unknown flag", []string{"validate", "--bogus", "warn.yaml"}, "plugboard validate: unknown flag --bogus\nRun `plugboard validate --help` for its flags."},
		{"misspelt flag", []string{"validate", "--strcit", "warn.yaml"}, "unknown flag --strcit (did you mean --strict?)"},
		{"bad format", []string{"validate", "--format", "xml", "warn.yaml"}, `unknown --format "xml"`},
		{"missing format value", []string{"validate", "--format"}, "flag needs an argument: --format"},
		{"nonexistent path", []string{"validate", "nope.yaml"}, "nope.yaml"},
		{"nonexistent path among good ones", []string{"validate", "warn.yaml", "missing.d"}, "missing.d"},
		{"unknown command", []string{"frobnicate"}, "plugboard: unknown command \"frobnicate\"\nRun `plugboard help` for the commands."},
		{"misspelt command", []string{"serv"}, `unknown command "serv" (did you mean "serve"?)`},
		{"misspelt command, transposed", []string{"valdiate", "warn.yaml"}, `unknown command "valdiate" (did you mean "validate"?)`},
		{"help for unknown command", []string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{"misspelt keys subcommand", []string{"keys", "generat"}, `unknown subcommand "generat" (did you mean "generate"?)`},
		{"version takes no flags", []string{"version", "--bogus"}, "unknown flag --bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runIn(t, dir, nil, tt.args...)
			wantCode(t, r, 2)
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr should contain %q, got %s", tt.wantStderr, r)
			}
			if r.stdout != "" {
				t.Errorf("a usage error should print nothing to stdout, got %s", r)
			}
		})
	}

	// No command at all is a usage error too: usage on stderr, exit 2.
	r := runIn(t, dir, nil)
	wantCode(t, r, 2)
	if r.stdout != "" || !strings.Contains(r.stderr, "Usage: plugboard <command>") {
		t.Errorf("want the usage text on stderr only, got %s", r)
	}
}

func TestSchema(t *testing.T) {
	t.Parallel()
	r := runIn(t, t.TempDir(), nil, "schema")
	wantCode(t, r, 0)
	var schema map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &schema); err != nil {
		t.Fatalf("schema output is not JSON: %v", err)
	}
	if got := schema["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf(`"$schema" = %v, want draft 2020-12`, got)
	}
}

// TestVersion runs `plugboard version` and `plugboard --version`: the
// module version, the commit and the Go version the binary was built with.
func TestVersion(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"version", "--version", "-version"} {
		r := runIn(t, t.TempDir(), nil, arg)
		wantCode(t, r, 0)
		l := lines(r.stdout)
		if len(l) < 3 || !strings.HasPrefix(l[0], "plugboard ") || !strings.HasPrefix(l[1], "  commit  ") || l[len(l)-1] != "  go      "+runtime.Version() {
			t.Errorf("%s: want plugboard <version>, a commit line and the Go version (%s), got %s", arg, runtime.Version(), r)
		}
	}
}

// TestVersionCommit checks what version prints for a build with VCS
// information (the test binary may be built with -buildvcs=false).
func TestVersionCommit(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	var b strings.Builder
	readBuildInfo(bi).print(&b)
	want := "plugboard " + version + "\n" +
		"  commit  0123456789abcdef0123456789abcdef01234567 (modified: built with uncommitted changes)\n" +
		"  date    2026-01-02T03:04:05Z\n" +
		"  go      go1.99.1\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	bi.Settings[2].Value = "false"
	b.Reset()
	readBuildInfo(bi).print(&b)
	if !strings.Contains(b.String(), "  commit  0123456789abcdef0123456789abcdef01234567\n") {
		t.Errorf("an unmodified tree: got\n%s", b.String())
	}
}

// TestHelpWritesDoubleDash holds --help to the README's spelling of flags.
func TestHelpWritesDoubleDash(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "validate", "try", "token", "keys generate", "keys rotate", "version"} {
		r := runIn(t, t.TempDir(), nil, append(strings.Fields(cmd), "--help")...)
		wantCode(t, r, 0)
		if m := regexp.MustCompile(`(?m)^\s+-[a-z]`).FindString(r.stdout); m != "" {
			t.Errorf("%s --help lists a flag with one dash (%q):\n%s", cmd, m, r.stdout)
		}
		if !strings.Contains(r.stdout, "\n  --") && cmd != "version" {
			t.Errorf("%s --help lists no --flag:\n%s", cmd, r.stdout)
		}
	}
	r := runIn(t, t.TempDir(), nil, "validate", "--help")
	for _, want := range []string{"  --format string\n    \toutput format: text, json or github (default \"text\")\n", "  --strict\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate --help should contain %q:\n%s", want, r.stdout)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	validateFlags := []string{"Usage: plugboard validate", "--format", "--strict", "--check-env", "--quiet", "Exit status"}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"Usage: plugboard <command>", "validate", "schema", "version", "serve"}},
		{[]string{"--help"}, []string{"Usage: plugboard <command>"}},
		{[]string{"-h"}, []string{"Usage: plugboard <command>"}},
		{[]string{"validate", "--help"}, validateFlags},
		{[]string{"validate", "-h"}, validateFlags},
		{[]string{"help", "validate"}, validateFlags},
		{[]string{"validate", "--strict", "--help", "nope.yaml"}, validateFlags},
		{[]string{"schema", "--help"}, []string{"Usage: plugboard schema", "2020-12"}},
		{[]string{"version", "--help"}, []string{"Usage: plugboard version"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runIn(t, t.TempDir(), nil, tt.args...)
			wantCode(t, r, 0)
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout should mention %q, got %s", w, r)
				}
			}
			if r.stderr != "" {
				t.Errorf("help should print nothing to stderr, got %s", r)
			}
		})
	}
}
