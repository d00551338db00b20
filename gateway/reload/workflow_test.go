package reload

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/gateway/testfix"
	"github.com/plugboardhq/plugboard/manifest"
)

func workflowVersion(title string) string {
	return fmt.Sprintf(`id: flow
title: %s
integration: acme
trigger: {request: {}}
steps:
  - id: me
    request: {method: GET, path: /me}
  - id: answer
    response: {body: =steps.me.body}
`, title)
}

// Workflow files in a watched folder are reloaded like manifests, with the
// real file watcher: an edit is served, a broken edit keeps the last good
// version, new and deleted files come and go, and each reload reports
// what changed.
func TestWatchReloadsWorkflows(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "acme.yaml"), manifestVersion(1))
	path := filepath.Join(dir, "flow.workflow.yaml")
	writeFile(t, path, workflowVersion("One"))
	r := &Reloader{Dir: dir, Log: slog.New(slog.DiscardHandler), Metrics: metrics.New()}
	if rep := r.Reload("test setup"); !rep.Success || !slices.Equal(rep.Changes.Workflows.Added, []string{"flow"}) {
		t.Fatalf("first load: %+v", rep)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	title := func() string {
		wf, ok := r.Catalog().Workflow("flow")
		if !ok {
			return "(not served)"
		}
		return wf.Title
	}

	writeFile(t, path, workflowVersion("Two"))
	testfix.EventuallySaw(t, "the edited workflow served", func() (bool, string) { return title() == "Two", title() })
	if rep := r.LastReport(); !rep.Success || !slices.Equal(rep.Changes.Workflows.Updated, []string{"flow"}) {
		t.Errorf("report of the edit: %+v", rep)
	}

	writeFile(t, path, strings.Replace(workflowVersion("Three"), "=steps.me.body", "=steps.mee.body", 1))
	testfix.Eventually(t, "the broken workflow reported", func() bool { return !r.LastReport().Success })
	rep := r.LastReport()
	if errs := rep.Problems.Errors(); len(errs) != 1 || errs[0].File != path || !strings.Contains(errs[0].Message, `there is no step "mee"`) ||
		!slices.Equal(rep.Changes.Rejected, []string{path}) {
		t.Errorf("report of the broken edit: %+v", rep)
	}
	if title() != "Two" || r.Catalog().WorkflowEntries()[0].Status != manifest.StatusStale {
		t.Errorf("the last good version is not served stale: %q", title())
	}
	if v, ok := fileValid(t, r.Metrics, "flow.workflow.yaml"); !ok || v != 0 {
		t.Errorf("plugboard_manifest_file_valid of the broken workflow = %v (reported: %v)", v, ok)
	}

	other := filepath.Join(dir, "other.workflow.yaml")
	writeFile(t, other, strings.Replace(workflowVersion("Other"), "id: flow", "id: other", 1))
	testfix.Eventually(t, "the new workflow served", func() bool { _, ok := r.Catalog().Workflow("other"); return ok })
	if got := r.LastReport().Changes.Workflows.Added; !slices.Equal(got, []string{"other"}) {
		t.Errorf("added: %v", got)
	}

	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	testfix.Eventually(t, "the deleted workflow dropped", func() bool { _, ok := r.Catalog().Workflow("other"); return !ok })
	if got := r.LastReport().Changes.Workflows.Removed; !slices.Equal(got, []string{"other"}) {
		t.Errorf("removed: %v", got)
	}
}

// fileValid reads plugboard_manifest_file_valid of one file.
func fileValid(t *testing.T, m *metrics.Metrics, file string) (float64, bool) {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "plugboard_manifest_file_valid" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetValue() == file {
					return s.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}
