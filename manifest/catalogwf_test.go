package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"
)

func workflowIDs(wfs []*Workflow) []string {
	ids := []string{}
	for _, wf := range wfs {
		ids = append(ids, wf.ID)
	}
	return ids
}

func (f *catalogFolder) workflowEntry(name string) *Entry {
	f.t.Helper()
	for _, e := range f.cat.WorkflowEntries() {
		if e.Path == f.path(name) {
			return e
		}
	}
	f.t.Fatalf("no workflow entry for %s", name)
	return nil
}

func (f *catalogFolder) wantWorkflowChanges(added, updated, removed []string) {
	f.t.Helper()
	ch := f.last.Workflows
	if !slices.Equal(ch.Added, added) || !slices.Equal(ch.Updated, updated) || !slices.Equal(ch.Removed, removed) {
		f.t.Errorf("workflow changes: got %+v\nwant added %v, updated %v, removed %v", ch, added, updated, removed)
	}
}

// Workflow files go through reloads as manifests do: a broken one keeps
// its last good version (stale) while its integration is served, and is
// dropped with its integration.
func TestCatalogWorkflows(t *testing.T) {
	f := newCatalogFolder(t)
	acme, err := os.ReadFile(acmeManifest)
	if err != nil {
		t.Fatal(err)
	}
	const w = "id: w\ntitle: Tickets\nintegration: acme\ntrigger: {event: lead.created}\nsteps:\n  - {id: a, action: list_tickets, parameters: {project: OPS}}\n"
	const v = "id: v\ntitle: Beta\nintegration: beta\ntrigger: {request: {}}\nsteps:\n  - {id: me, request: {method: GET, path: /me}}\n  - {id: answer, response: {body: =steps.me.body}}\n"
	f.write("acme.yaml", string(acme))
	f.write("beta.yaml", catalogManifest("beta", "Beta"))
	f.write("w.workflow.yaml", w)
	f.write("v.workflow.yaml", v)

	c1 := f.reload()
	if got := workflowIDs(c1.Workflows()); !slices.Equal(got, []string{"v", "w"}) {
		t.Fatalf("workflows %v; problems %v", got, c1.WorkflowEntries())
	}
	if got := workflowIDs(c1.WorkflowsFor("acme")); !slices.Equal(got, []string{"w"}) {
		t.Errorf("WorkflowsFor(acme) = %v", got)
	}
	if got := c1.WorkflowsFor("nope"); len(got) != 0 {
		t.Errorf("WorkflowsFor(nope) = %v", got)
	}
	if wf, ok := c1.Workflow("w"); !ok || wf.Title != "Tickets" {
		t.Errorf("Workflow(w) = %v, %v", wf, ok)
	}
	if _, ok := c1.Workflow("x"); ok {
		t.Error("Workflow(x) found")
	}
	if c1.Len() != 2 || len(c1.Entries()) != 2 || len(c1.WorkflowEntries()) != 2 {
		t.Errorf("%d integrations, %d manifest entries, %d workflow entries", c1.Len(), len(c1.Entries()), len(c1.WorkflowEntries()))
	}
	f.wantWorkflowChanges([]string{"v", "w"}, []string{}, []string{})
	loaded := f.workflowEntry("w.workflow.yaml").LoadedAt

	// Same files: same revision, nothing changed, the load time is kept.
	c2 := f.reload()
	if c2.Revision() != c1.Revision() || !f.last.Empty() || f.workflowEntry("w.workflow.yaml").LoadedAt != loaded {
		t.Errorf("an unchanged folder changed: %+v", f.last)
	}

	// An edit is an update and a new revision.
	f.write("w.workflow.yaml", w+"description: Now described.\n")
	c3 := f.reload()
	f.wantWorkflowChanges([]string{}, []string{"w"}, []string{})
	if c3.Revision() == c2.Revision() || f.last.Empty() {
		t.Error("an edited workflow kept the revision")
	}
	if wf, _ := c3.Workflow("w"); wf.Description != "Now described." {
		t.Errorf("served %q", wf.Description)
	}

	// A broken workflow keeps its last good version, stale.
	f.write("w.workflow.yaml", w+"steps: [\n")
	c4 := f.reload()
	e := f.workflowEntry("w.workflow.yaml")
	if e.Status != StatusStale || e.Workflow == nil || e.Workflow.Description != "Now described." || len(e.Problems.Errors()) == 0 {
		t.Errorf("broken workflow: %+v", e)
	}
	if c4.Revision() != c3.Revision() || !slices.Equal(f.last.Rejected, []string{f.path("w.workflow.yaml")}) {
		t.Errorf("stale workflow: revision changed or not reported: %+v", f.last)
	}
	f.wantWorkflowChanges([]string{}, []string{}, []string{})

	// A workflow whose integration's manifest breaks is rejected by the
	// load, and served stale with its integration.
	f.write("w.workflow.yaml", w)
	f.write("acme.yaml", string(acme)+"bogus: 1\n")
	f.reload()
	if e := f.workflowEntry("w.workflow.yaml"); e.Status != StatusStale || e.Workflow == nil {
		t.Errorf("workflow of a stale integration: %+v", e)
	}
	if e := f.entry("acme.yaml"); e.Status != StatusStale {
		t.Errorf("acme: %v", e.Status)
	}

	// Its integration gone, a stale workflow is dropped.
	f.remove("acme.yaml")
	c6 := f.reload()
	if e := f.workflowEntry("w.workflow.yaml"); e.Status != StatusRejected || e.Workflow != nil {
		t.Errorf("workflow without integration: %+v", e)
	}
	if _, ok := c6.Workflow("w"); ok {
		t.Error("w still served")
	}
	f.wantWorkflowChanges([]string{}, []string{}, []string{"w"})

	// A deleted workflow file is removed.
	f.remove("v.workflow.yaml")
	f.remove("w.workflow.yaml")
	c7 := f.reload()
	if len(c7.Workflows()) != 0 || len(c7.WorkflowEntries()) != 0 {
		t.Errorf("workflows left: %v", workflowIDs(c7.Workflows()))
	}
	f.wantWorkflowChanges([]string{}, []string{}, []string{"v"})
}

// A stale workflow is dropped when the action it runs is no longer in its
// integration.
func TestCatalogStaleWorkflowLosesAction(t *testing.T) {
	f := newCatalogFolder(t)
	acme, err := os.ReadFile(acmeManifest)
	if err != nil {
		t.Fatal(err)
	}
	f.write("acme.yaml", string(acme))
	f.write("w.workflow.yaml", "id: w\ntitle: T\nintegration: acme\ntrigger: {event: x}\nsteps:\n  - {id: a, action: list_tickets, parameters: {project: OPS}}\n")
	f.reload()
	f.write("w.workflow.yaml", "broken: [\n")
	f.write("acme.yaml", strings.Split(string(acme), "actions:")[0])
	f.reload()
	if e := f.entry("acme.yaml"); e.Status != StatusOK {
		t.Fatalf("acme without actions: %v", e.Problems)
	}
	if e := f.workflowEntry("w.workflow.yaml"); e.Status != StatusRejected {
		t.Errorf("stale workflow whose action is gone: %v", e.Status)
	}
}

// A folder without workflows keeps the revision it had before workflows
// existed, so upgrading does not look like a change to replicas.
func TestCatalogRevisionWithoutWorkflows(t *testing.T) {
	f := newCatalogFolder(t)
	f.write("beta.yaml", catalogManifest("beta", "Beta"))
	c := f.reload()
	in, _ := c.Lookup("beta")
	sum := sha256.Sum256([]byte("beta=" + in.Hash + "\n"))
	if c.Revision() != hex.EncodeToString(sum[:]) {
		t.Error("the revision of a folder without workflows changed form")
	}
}
