package manifest

import (
	"sort"
	"time"
)

// addWorkflows adds the workflow files to the catalog, after its
// integrations: a file that failed keeps prev's version (StatusStale) while
// that version still fits the integration served now.
func (c *Catalog) addWorkflows(files []FileResult, prevByPath map[string]*Entry, now time.Time) {
	var ids []string
	for id := range c.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var stale []*Entry
	for _, f := range files {
		e := &Entry{Path: f.Path, Problems: f.Problems}
		c.wfEntries = append(c.wfEntries, e)
		old := prevByPath[f.Path]
		switch {
		case f.Workflow != nil:
			e.Status, e.Workflow, e.LoadedAt = StatusOK, f.Workflow, now
			if old != nil && old.Workflow != nil && old.Workflow.Hash == f.Workflow.Hash {
				e.LoadedAt = old.LoadedAt
			}
			if _, taken := c.wfByID[f.Workflow.ID]; taken { // LoadFiles rejects duplicates; a hand-made Result may not
				e.Status, e.Workflow = StatusRejected, nil
				continue
			}
			c.wfByID[f.Workflow.ID] = e
		case old != nil && old.Workflow != nil:
			in, _ := c.Lookup(old.Workflow.Integration)
			if in == nil || linkWorkflow(old.Workflow, in, ids, nil).HasErrors(false) {
				e.Status = StatusRejected
				continue
			}
			e.Status, e.Workflow, e.LoadedAt = StatusStale, old.Workflow, old.LoadedAt
			stale = append(stale, e)
		default:
			e.Status = StatusRejected
		}
	}
	// A valid file wins over another file's stale version of the same id.
	for _, e := range stale {
		if _, taken := c.wfByID[e.Workflow.ID]; taken {
			e.Status, e.Workflow = StatusRejected, nil
			continue
		}
		c.wfByID[e.Workflow.ID] = e
	}
	sort.Slice(c.wfEntries, func(i, j int) bool { return c.wfEntries[i].Path < c.wfEntries[j].Path })
	c.workflows = make([]*Workflow, 0, len(c.wfByID))
	for _, e := range c.wfByID {
		c.workflows = append(c.workflows, e.Workflow)
	}
	sort.Slice(c.workflows, func(i, j int) bool { return c.workflows[i].ID < c.workflows[j].ID })
}

// Workflows returns the served workflows sorted by id. The slice is
// shared: do not change it.
func (c *Catalog) Workflows() []*Workflow {
	if c == nil {
		return nil
	}
	return c.workflows
}

// Workflow returns the served workflow with the given id.
func (c *Catalog) Workflow(id string) (*Workflow, bool) {
	if c == nil {
		return nil, false
	}
	e, ok := c.wfByID[id]
	if !ok {
		return nil, false
	}
	return e.Workflow, true
}

// WorkflowsFor returns the served workflows of one integration, sorted by id.
func (c *Catalog) WorkflowsFor(integrationID string) []*Workflow {
	var out []*Workflow
	for _, wf := range c.Workflows() {
		if wf.Integration == integrationID {
			out = append(out, wf)
		}
	}
	return out
}

// WorkflowEntries returns every workflow file with its status, sorted by
// path (Entries has the manifest files).
func (c *Catalog) WorkflowEntries() []*Entry {
	if c == nil {
		return nil
	}
	return c.wfEntries
}
