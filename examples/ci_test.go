package examples

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// workflow is the part of a GitHub Actions workflow the test reads.
type workflow struct {
	Name string `yaml:"name"`
	On   struct {
		PullRequest *struct {
			Paths []string `yaml:"paths"`
		} `yaml:"pull_request"`
	} `yaml:"on"`
	Jobs map[string]struct {
		Steps []struct {
			Name string `yaml:"name"`
			Uses string `yaml:"uses"`
			Run  string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// validateCommand finds the workflow's one `plugboard validate` line and
// returns its arguments after "validate". The line must be a plain command
// (no shell syntax), so that running those arguments is running the line.
func validateCommand(t *testing.T, wf workflow) []string {
	t.Helper()
	var found []string
	for _, job := range wf.Jobs {
		for _, step := range job.Steps {
			for _, line := range strings.Split(step.Run, "\n") {
				if strings.Contains(line, "plugboard") && strings.Contains(line, " validate") {
					found = append(found, strings.TrimSpace(line))
				}
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one `plugboard validate` line in the workflow, found %q", found)
	}
	line := found[0]
	if strings.ContainsAny(line, "$`|;&<>()'\"\\*?") {
		t.Fatalf("%q uses shell syntax: keep it a plain command so the test runs exactly it", line)
	}
	words := strings.Fields(line)
	i := slices.Index(words, "validate")
	if i < 1 {
		t.Fatalf("%q: no validate command", line)
	}
	// `plugboard validate …` after go install, or
	// `go run github.com/plugboardhq/plugboard/cmd/plugboard@v validate …`.
	prog, _, _ := strings.Cut(words[i-1], "@")
	if prog != "plugboard" && !strings.HasSuffix(prog, "/cmd/plugboard") {
		t.Fatalf("%q: validate is not an argument of plugboard", line)
	}
	return words[i+1:]
}

func TestGitHubActionsWorkflow(t *testing.T) {
	b, err := os.ReadFile("ci/github-actions.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("ci/github-actions.yml: %v", err)
	}
	if wf.On.PullRequest == nil {
		t.Fatal("the workflow does not run on pull_request")
	}
	paths := wf.On.PullRequest.Paths
	if !slices.Contains(paths, "integrations.d/**") {
		t.Errorf("pull_request paths %q do not include integrations.d/**", paths)
	}

	args := validateCommand(t, wf)
	cli := helpOf(t, "validate")
	set, targets, err := cli.parse(args)
	if err != nil {
		t.Fatalf("validate %q: %v", args, err)
	}
	if set["format"] != "github" || set["strict"] != "true" {
		t.Errorf("validate %q: want --format github --strict", args)
	}
	// Every folder it validates triggers it.
	if len(targets) == 0 {
		targets = []string{"integrations.d"} // validate's default
	}
	for _, p := range targets {
		if !slices.Contains(paths, strings.TrimSuffix(p, "/")+"/**") {
			t.Errorf("the workflow validates %s but pull_request paths %q do not cover it", p, paths)
		}
	}

	// The exact line passes on this repository's manifests…
	root := repoRoot(t)
	stdout, stderr, code := run(t, root, baseEnv(t.TempDir()), append([]string{"validate"}, args...)...)
	if code != 0 || strings.Contains(stdout, "::error") {
		t.Fatalf("validate %s in %s: exit %d\n%s%s", strings.Join(args, " "), root, code, stdout, stderr)
	}
	// CI has no secrets: their unset variables are the only warnings (the
	// same ones serve's dev mode logs), and they do not fail --strict.
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "::warning") && !strings.Contains(line, "is not set") {
			t.Errorf("validate %s warns about more than unset secrets: %s", strings.Join(args, " "), line)
		}
	}

	// …and fails a pull request that adds a plain-http URL (a warning, so
	// this also proves --strict), with an annotation on the file.
	tmp := t.TempDir()
	dst := filepath.Join(tmp, "integrations.d")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(root, "integrations.d"))); err != nil {
		t.Fatal(err)
	}
	gh := filepath.Join(dst, "github.yaml")
	src, err := os.ReadFile(gh)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "baseUrl: https://api.github.com", "baseUrl: http://api.github.com", 1)
	if broken == string(src) {
		t.Fatal("integrations.d/github.yaml no longer has baseUrl: https://api.github.com; update the test")
	}
	if err := os.WriteFile(gh, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, code = run(t, tmp, baseEnv(tmp), append([]string{"validate"}, args...)...)
	if code != 1 || !strings.Contains(stdout, "::error file=integrations.d/github.yaml,line=") {
		t.Errorf("validate on a plain-http URL: exit %d, want 1 with an annotation on integrations.d/github.yaml:\n%s", code, stdout)
	}
}
