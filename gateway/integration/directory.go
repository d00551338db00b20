// Package integration is how the gateway finds an integration from what a
// caller names it by, and what each audience may see of it: apps (the
// public catalog), the @useparagon/connect SDK, and the Connect Portal.
// Every projection of a manifest.Integration lives here, in one place.
package integration

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/plugboardhq/plugboard/manifest"
)

// Directory resolves references to the integrations of the current
// catalog. It is safe for concurrent use.
type Directory struct {
	catalog  func() *manifest.Catalog
	projects []string

	mu    sync.Mutex // serialises index builds
	index atomic.Pointer[uuidIndex]
}

// uuidIndex maps the UUIDs the SDK knows integrations by to manifest ids,
// per project, for one catalog.
type uuidIndex struct {
	catalog   *manifest.Catalog
	byProject map[string]map[string]string // project -> UUID -> manifest id
}

// NewDirectory returns a directory over the catalog that current returns
// (read once per call), for the configured projects.
func NewDirectory(current func() *manifest.Catalog, projects []string) *Directory {
	return &Directory{catalog: current, projects: append([]string(nil), projects...)}
}

// Catalog returns the current catalog.
func (d *Directory) Catalog() *manifest.Catalog { return d.catalog() }

// Lookup finds an integration by manifest id or SDK name (custom.<id>).
func (d *Directory) Lookup(ref string) (*manifest.Integration, bool) {
	return lookup(d.catalog(), ref)
}

func lookup(cat *manifest.Catalog, ref string) (*manifest.Integration, bool) {
	if in, ok := cat.Lookup(ref); ok {
		return in, true
	}
	if id, ok := strings.CutPrefix(ref, "custom."); ok && id != "" {
		return cat.Lookup(id)
	}
	return nil, false
}

// Resolve finds an integration of a project by anything a caller may name
// it by: the manifest id, custom.<id>, custom/<id>, or the UUID that
// /sdk/integrations gave out. UUIDs are looked up in an index built once
// per catalog (at the first lookup after a reload), not computed per call.
func (d *Directory) Resolve(projectID, ref string) (*manifest.Integration, bool) {
	cat := d.catalog()
	ref = strings.TrimPrefix(ref, "custom/")
	if in, ok := lookup(cat, ref); ok {
		return in, true
	}
	if len(ref) != 36 {
		return nil, false
	}
	if id, ok := d.indexFor(cat).byProject[projectID][ref]; ok {
		return cat.Lookup(id)
	}
	return nil, false
}

func (d *Directory) indexFor(cat *manifest.Catalog) *uuidIndex {
	if idx := d.index.Load(); idx != nil && idx.catalog == cat {
		return idx
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if idx := d.index.Load(); idx != nil && idx.catalog == cat {
		return idx
	}
	idx := &uuidIndex{catalog: cat, byProject: make(map[string]map[string]string, len(d.projects))}
	for _, p := range d.projects {
		m := make(map[string]string, cat.Len())
		for _, in := range cat.Integrations() {
			m[UUID(p, in.ID)] = in.ID
		}
		idx.byProject[p] = m
	}
	d.index.Store(idx)
	return idx
}

// UUID is the stable id the SDK knows an integration by: a name-based
// (version 5) UUID of the project and the manifest id. The SDK rejects
// version 7, and ids must not change across restarts or replicas.
func UUID(projectID, integrationID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("plugboard:integration:"+projectID+":"+integrationID)).String()
}

// ConfigurationUUID is the id of a credential's one (default) configuration.
func ConfigurationUUID(credentialID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("plugboard:configuration:"+credentialID)).String()
}
