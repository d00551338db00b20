package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"
)

// Status of a manifest file in a catalog.
type Status string

const (
	// StatusOK: the file is valid and its integration is served.
	StatusOK Status = "ok"
	// StatusStale: the file is invalid now; the last good version is served.
	StatusStale Status = "stale"
	// StatusRejected: the file is invalid and nothing from it is served.
	StatusRejected Status = "rejected"
)

// Entry is one manifest or workflow file as the catalog sees it.
type Entry struct {
	Path        string
	Status      Status
	Integration *Integration // a manifest's served version; nil when rejected
	Workflow    *Workflow    // a workflow file's served version; nil when rejected
	LoadedAt    time.Time    // when the served version was first loaded
	Problems    Problems     // of the file as it is on disk now
}

// Catalog is an immutable set of integrations and their workflows: what
// the gateway serves. Build a new one to change anything.
type Catalog struct {
	revision  string
	builtAt   time.Time
	entries   []*Entry // manifest files, sorted by path
	byID      map[string]*Entry
	literal   map[string]bool // host:port the gateway calls, written without references
	wfEntries []*Entry        // workflow files, sorted by path
	wfByID    map[string]*Entry
	workflows []*Workflow // served, sorted by id
}

// NewCatalog builds a catalog from a load result. Where a file failed and
// prev served an integration from the same file, that last good version is
// kept (StatusStale); a file that is gone drops its integration. Workflow
// files are kept the same way, as long as their integration is served and
// still has the actions they run.
func NewCatalog(res *Result, prev *Catalog, now time.Time) *Catalog {
	c := &Catalog{builtAt: now, byID: map[string]*Entry{}, wfByID: map[string]*Entry{}}
	prevByPath := map[string]*Entry{}
	if prev != nil {
		for _, e := range prev.entries {
			prevByPath[e.Path] = e
		}
		for _, e := range prev.wfEntries {
			prevByPath[e.Path] = e
		}
	}
	var stale []*Entry
	var workflowFiles []FileResult
	for _, f := range res.Files {
		if f.IsWorkflow() {
			workflowFiles = append(workflowFiles, f)
			continue
		}
		e := &Entry{Path: f.Path, Problems: f.Problems}
		c.entries = append(c.entries, e)
		old := prevByPath[f.Path]
		switch {
		case f.Integration != nil:
			e.Status, e.Integration, e.LoadedAt = StatusOK, f.Integration, now
			// Same content: keep the load time. The new value is kept anyway,
			// since secrets (a rotated secret file) are read on every load.
			if old != nil && old.Integration != nil && old.Integration.Hash == f.Integration.Hash {
				e.LoadedAt = old.LoadedAt
			}
			c.byID[e.Integration.ID] = e
		case old != nil && old.Integration != nil:
			e.Status, e.Integration, e.LoadedAt = StatusStale, old.Integration, old.LoadedAt
			stale = append(stale, e)
		default:
			e.Status = StatusRejected
		}
	}
	// A valid file wins over another file's stale version of the same id.
	for _, e := range stale {
		if _, taken := c.byID[e.Integration.ID]; taken {
			e.Status, e.Integration = StatusRejected, nil
			continue
		}
		c.byID[e.Integration.ID] = e
	}
	sort.Slice(c.entries, func(i, j int) bool { return c.entries[i].Path < c.entries[j].Path })
	c.addWorkflows(workflowFiles, prevByPath, now)
	c.revision = c.computeRevision()
	c.literal = map[string]bool{}
	for _, e := range c.byID {
		for _, hp := range e.Integration.LiteralHosts() {
			c.literal[hp] = true
		}
	}
	return c
}

// LiteralHost reports whether a served integration calls hostport (as an
// HTTP client dials it: lower case, with the port, IPv6 in brackets) from a
// URL whose host is written literally, not templated from inputs.
func (c *Catalog) LiteralHost(hostport string) bool {
	return c != nil && c.literal[hostport]
}

func (c *Catalog) computeRevision() string {
	ids := make([]string, 0, len(c.byID))
	for id := range c.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id + "=" + c.byID[id].Integration.Hash + "\n"))
	}
	// Workflows are counted only when there are any, so that a folder
	// without them keeps the revision it had before workflows existed.
	for _, wf := range c.workflows {
		h.Write([]byte("workflow:" + wf.ID + "=" + wf.Hash + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Revision is a hash of every served integration's and workflow's
// content: two catalogs (or two replicas) with the same revision serve the
// same manifests and workflows.
func (c *Catalog) Revision() string { return c.revision }

// BuiltAt is when the catalog was built.
func (c *Catalog) BuiltAt() time.Time { return c.builtAt }

// Lookup returns the served integration with the given id.
func (c *Catalog) Lookup(id string) (*Integration, bool) {
	if c == nil {
		return nil, false
	}
	e, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	return e.Integration, true
}

// Integrations returns the served integrations sorted by id.
func (c *Catalog) Integrations() []*Integration {
	out := make([]*Integration, 0, len(c.byID))
	for _, e := range c.byID {
		out = append(out, e.Integration)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Entries returns every manifest file with its status, sorted by path.
func (c *Catalog) Entries() []*Entry { return c.entries }

// Len is the number of integrations served.
func (c *Catalog) Len() int { return len(c.byID) }

// Changes lists what differs between two catalogs, by integration and
// workflow id.
type Changes struct {
	Added    []string `json:"added"`
	Updated  []string `json:"updated"`
	Removed  []string `json:"removed"`
	Rejected []string `json:"rejected"` // files whose current version was not loaded (stale or rejected), workflows' too
	// Workflows lists the workflows added, updated and removed.
	Workflows WorkflowChanges `json:"workflows"`
}

// WorkflowChanges lists what differs between two catalogs' workflows, by id.
type WorkflowChanges struct {
	Added   []string `json:"added"`
	Updated []string `json:"updated"`
	Removed []string `json:"removed"`
}

// Empty reports whether nothing changed and nothing was rejected.
func (ch Changes) Empty() bool {
	return len(ch.Added)+len(ch.Updated)+len(ch.Removed)+len(ch.Rejected)+
		len(ch.Workflows.Added)+len(ch.Workflows.Updated)+len(ch.Workflows.Removed) == 0
}

// Diff compares the integrations and workflows served by prev and next.
func Diff(prev, next *Catalog) Changes {
	ch := Changes{Added: []string{}, Updated: []string{}, Removed: []string{}, Rejected: []string{},
		Workflows: WorkflowChanges{Added: []string{}, Updated: []string{}, Removed: []string{}}}
	old, oldWF := map[string]*Entry{}, map[string]*Entry{}
	if prev != nil {
		old, oldWF = prev.byID, prev.wfByID
	}
	for _, wf := range next.workflows {
		switch o, ok := oldWF[wf.ID]; {
		case !ok:
			ch.Workflows.Added = append(ch.Workflows.Added, wf.ID)
		case o.Workflow.Hash != wf.Hash:
			ch.Workflows.Updated = append(ch.Workflows.Updated, wf.ID)
		}
	}
	for id := range oldWF {
		if _, ok := next.wfByID[id]; !ok {
			ch.Workflows.Removed = append(ch.Workflows.Removed, id)
		}
	}
	sort.Strings(ch.Workflows.Removed)
	for _, in := range next.Integrations() {
		switch o, ok := old[in.ID]; {
		case !ok:
			ch.Added = append(ch.Added, in.ID)
		case o.Integration.Hash != in.Hash:
			ch.Updated = append(ch.Updated, in.ID)
		}
	}
	for id := range old {
		if _, ok := next.byID[id]; !ok {
			ch.Removed = append(ch.Removed, id)
		}
	}
	sort.Strings(ch.Removed)
	for _, e := range append(append([]*Entry(nil), next.entries...), next.wfEntries...) {
		if e.Status != StatusOK {
			ch.Rejected = append(ch.Rejected, e.Path)
		}
	}
	sort.Strings(ch.Rejected)
	return ch
}
