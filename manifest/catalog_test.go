package manifest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// catalogManifest is a valid manifest; name varies its content.
func catalogManifest(id, name string) string {
	return `id: ` + id + `
name: ` + name + `
description: A test integration.
icon: <svg xmlns="http://www.w3.org/2000/svg"/>
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://` + id + `.example.com/authorize
    tokenUrl: https://` + id + `.example.com/token
    clientId: ${CLIENT_ID}
    clientSecret: ${CLIENT_SECRET}
api:
  baseUrl: https://api.` + id + `.example.com
  testEndpoint: /me
`
}

// catalogFolder is a manifest folder whose reloads build catalogs in turn.
type catalogFolder struct {
	t    *testing.T
	dir  string
	cat  *Catalog
	now  time.Time
	last Changes
}

func newCatalogFolder(t *testing.T) *catalogFolder {
	return &catalogFolder{t: t, dir: t.TempDir(), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (f *catalogFolder) path(name string) string { return filepath.Join(f.dir, name) }

func (f *catalogFolder) write(name, body string) {
	f.t.Helper()
	if err := os.WriteFile(f.path(name), []byte(body), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *catalogFolder) remove(name string) {
	f.t.Helper()
	if err := os.Remove(f.path(name)); err != nil {
		f.t.Fatal(err)
	}
}

// reload loads the folder and builds the next catalog from the previous one.
func (f *catalogFolder) reload() *Catalog {
	f.t.Helper()
	res, err := LoadPaths([]string{f.dir}, Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.now = f.now.Add(time.Minute)
	next := NewCatalog(res, f.cat, f.now)
	f.last = Diff(f.cat, next)
	f.cat = next
	return next
}

func (f *catalogFolder) entry(name string) *Entry {
	f.t.Helper()
	for _, e := range f.cat.Entries() {
		if e.Path == f.path(name) {
			return e
		}
	}
	f.t.Fatalf("no entry for %s", name)
	return nil
}

func (f *catalogFolder) wantChanges(added, updated, removed, rejected []string) {
	f.t.Helper()
	var rejectedPaths []string
	for _, name := range rejected {
		rejectedPaths = append(rejectedPaths, f.path(name))
	}
	ch := f.last
	if !slices.Equal(ch.Added, added) || !slices.Equal(ch.Updated, updated) || !slices.Equal(ch.Removed, removed) || !slices.Equal(ch.Rejected, rejectedPaths) {
		f.t.Errorf("changes: got %+v\nwant added %v, updated %v, removed %v, rejected %v", ch, added, updated, removed, rejectedPaths)
	}
	if ch.Empty() != (len(added)+len(updated)+len(removed)+len(rejected) == 0) {
		f.t.Errorf("Empty() = %v for %+v", ch.Empty(), ch)
	}
}

func TestCatalogLifecycle(t *testing.T) {
	f := newCatalogFolder(t)
	f.write("alpha.yaml", catalogManifest("alpha", "Alpha"))
	f.write("beta.yaml", catalogManifest("beta", "Beta"))

	// First load: everything is added.
	c1 := f.reload()
	t1 := f.now
	f.wantChanges([]string{"alpha", "beta"}, nil, nil, nil)
	if c1.Len() != 2 || c1.BuiltAt() != t1 {
		t.Fatalf("Len %d, BuiltAt %v", c1.Len(), c1.BuiltAt())
	}
	alpha1, ok := c1.Lookup("alpha")
	if !ok || alpha1.Name != "Alpha" {
		t.Fatalf("Lookup(alpha) = %v, %v", alpha1, ok)
	}
	if ids := []string{c1.Integrations()[0].ID, c1.Integrations()[1].ID}; !slices.Equal(ids, []string{"alpha", "beta"}) {
		t.Errorf("Integrations() not sorted by id: %v", ids)
	}

	// Same content: same revision and load time, nothing changed. (The
	// value is rebuilt, so that rotated secret files are read again.)
	c2 := f.reload()
	f.wantChanges(nil, nil, nil, nil)
	if c2.Revision() != c1.Revision() {
		t.Error("revision changed without a content change")
	}
	alpha2, _ := c2.Lookup("alpha")
	if alpha2.Hash != alpha1.Hash || f.entry("alpha.yaml").LoadedAt != t1 {
		t.Error("unchanged file does not keep its hash and load time")
	}

	// alpha breaks: its last good version keeps being served, and says so.
	f.write("alpha.yaml", strings.Replace(catalogManifest("alpha", "Alpha v2"), "type: oauth2", "type: oauth3", 1))
	c3 := f.reload()
	f.wantChanges(nil, nil, nil, []string{"alpha.yaml"})
	e := f.entry("alpha.yaml")
	if e.Status != StatusStale || e.Integration != alpha2 || e.LoadedAt != t1 {
		t.Errorf("broken alpha: status %s, integration %p (want %p), loaded %v", e.Status, e.Integration, alpha2, e.LoadedAt)
	}
	if len(e.Problems.Errors()) == 0 || !strings.Contains(e.Problems.Error(), `"oauth3" is not an allowed value`) {
		t.Errorf("stale entry should carry the file's current problems, got %v", e.Problems)
	}
	if got, ok := c3.Lookup("alpha"); !ok || got.Name != "Alpha" {
		t.Errorf("Lookup(alpha) during breakage = %v, %v", got, ok)
	}
	if c3.Revision() != c1.Revision() {
		t.Error("revision changed although the served content did not")
	}

	// Still broken on the next reload: still stale, still the first version.
	f.reload()
	if e := f.entry("alpha.yaml"); e.Status != StatusStale || e.Integration != alpha2 {
		t.Errorf("second reload of broken alpha: %s %p", e.Status, e.Integration)
	}

	// Fixed with new content: updated, with a new revision.
	f.write("alpha.yaml", catalogManifest("alpha", "Alpha v2"))
	c5 := f.reload()
	f.wantChanges(nil, []string{"alpha"}, nil, nil)
	if got, _ := c5.Lookup("alpha"); got.Name != "Alpha v2" || f.entry("alpha.yaml").LoadedAt != f.now {
		t.Errorf("fixed alpha: %s loaded %v", got.Name, f.entry("alpha.yaml").LoadedAt)
	}
	if c5.Revision() == c1.Revision() {
		t.Error("revision did not change with the content")
	}

	// A new file that is invalid from the start: rejected, nothing served.
	f.write("gamma.yaml", "id: gamma\nname: Gamma\n")
	c6 := f.reload()
	f.wantChanges(nil, nil, nil, []string{"gamma.yaml"})
	if e := f.entry("gamma.yaml"); e.Status != StatusRejected || e.Integration != nil || len(e.Problems) == 0 {
		t.Errorf("new invalid gamma: %+v", e)
	}
	if _, ok := c6.Lookup("gamma"); ok || c6.Len() != 2 || c6.Revision() != c5.Revision() {
		t.Errorf("gamma served, or revision changed: len %d", c6.Len())
	}

	// A deleted file is dropped, even though it was valid.
	f.remove("beta.yaml")
	f.remove("gamma.yaml")
	c7 := f.reload()
	f.wantChanges(nil, nil, []string{"beta"}, nil)
	if _, ok := c7.Lookup("beta"); ok || len(c7.Entries()) != 1 || c7.Revision() == c6.Revision() {
		t.Errorf("deleted beta still served: %d entries", len(c7.Entries()))
	}

	// A broken file that is then deleted is dropped too.
	f.write("alpha.yaml", "not: [valid")
	f.reload()
	f.remove("alpha.yaml")
	c9 := f.reload()
	f.wantChanges(nil, nil, []string{"alpha"}, nil)
	if c9.Len() != 0 || len(c9.Entries()) != 0 {
		t.Errorf("empty folder: %d integrations, %d entries", c9.Len(), len(c9.Entries()))
	}
}

func TestCatalogRevisionTracksContent(t *testing.T) {
	f := newCatalogFolder(t)
	f.write("a.yaml", catalogManifest("alpha", "Alpha"))
	r1 := f.reload().Revision()

	// Any change of bytes is a change of content, even a comment.
	f.write("a.yaml", catalogManifest("alpha", "Alpha")+"# reviewed\n")
	r2 := f.reload().Revision()
	if r2 == r1 {
		t.Error("revision ignores a change of the file")
	}
	f.wantChanges(nil, []string{"alpha"}, nil, nil)

	// Back to the first content: back to the first revision, on any replica.
	f.write("a.yaml", catalogManifest("alpha", "Alpha"))
	if r3 := f.reload().Revision(); r3 != r1 {
		t.Error("same content, different revision")
	}
	other := newCatalogFolder(t)
	other.write("elsewhere.yaml", catalogManifest("alpha", "Alpha"))
	if other.reload().Revision() != r1 {
		t.Error("revision depends on where the file is, not only on what it says")
	}

	// An icon file is content too.
	f.write("icon.svg", `<svg xmlns="http://www.w3.org/2000/svg"/>`)
	f.write("a.yaml", strings.Replace(catalogManifest("alpha", "Alpha"), `icon: <svg xmlns="http://www.w3.org/2000/svg"/>`, "icon: icon.svg", 1))
	r4 := f.reload().Revision()
	f.write("icon.svg", `<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>`)
	if r5 := f.reload().Revision(); r5 == r4 {
		t.Error("revision ignores a change of the icon file")
	}
	f.wantChanges(nil, []string{"alpha"}, nil, nil)
}

// TestCatalogStaleLosesToValid: when a file breaks after its id moved to
// another valid file, the valid file is served, not the stale version.
func TestCatalogStaleLosesToValid(t *testing.T) {
	f := newCatalogFolder(t)
	f.write("a.yaml", catalogManifest("alpha", "Old"))
	f.reload()
	f.write("a.yaml", "id: alpha\n")
	f.write("b.yaml", catalogManifest("alpha", "New"))
	c := f.reload()
	if got, _ := c.Lookup("alpha"); got == nil || got.Name != "New" {
		t.Errorf("Lookup(alpha) = %v", got)
	}
	if e := f.entry("a.yaml"); e.Status != StatusRejected || e.Integration != nil {
		t.Errorf("a.yaml: %s", e.Status)
	}
	f.wantChanges(nil, []string{"alpha"}, nil, []string{"a.yaml"})
}

func TestNilCatalogLookup(t *testing.T) {
	var c *Catalog
	if in, ok := c.Lookup("x"); in != nil || ok {
		t.Error("nil catalog found something")
	}
}

// The catalog knows which hosts manifests write literally (dev mode lets
// those, and only those, reach loopback).
func TestCatalogLiteralHosts(t *testing.T) {
	f := newCatalogFolder(t)
	f.write("local.yaml", `id: local
name: Local
description: A test integration on this machine.
auth:
  type: oauth2
  oauth2:
    authorizationUrl: http://localhost:9000/authorize
    tokenUrl: http://localhost:9001/token
    revocationUrl: http://[::1]:9002/revoke
    clientId: ${CLIENT_ID}
    clientSecret: ${CLIENT_SECRET}
api:
  baseUrl: http://127.0.0.1:9003/api
  testEndpoint: /me
`)
	f.write("tenant.yaml", `id: tenant
name: Tenant
description: A templated host.
auth:
  type: api_key
  inputs:
    - key: sub
      label: Subdomain
      pattern: "[a-z0-9-]+"
    - key: key
      label: Key
api:
  baseUrl: http://{{inputs.sub}}.localtest.me:9004/api
  authorization:
    type: bearer
    token: "{{inputs.key}}"
  testEndpoint: /me
`)
	cat := f.reload()
	if cat.Len() != 2 {
		t.Fatalf("loaded %d integrations: %+v %+v", cat.Len(), f.entry("local.yaml").Problems, f.entry("tenant.yaml").Problems)
	}
	for hp, want := range map[string]bool{
		"localhost:9001": true, "[::1]:9002": true, "127.0.0.1:9003": true,
		"localhost:9000":         false, // authorization URL: the browser's, not the gateway's
		"127.0.0.1:9004":         false,
		"acme.localtest.me:9004": false,
		"localhost:9003":         false,
	} {
		if got := cat.LiteralHost(hp); got != want {
			t.Errorf("LiteralHost(%q) = %v, want %v", hp, got, want)
		}
	}
	var nilCat *Catalog
	if nilCat.LiteralHost("localhost:9001") {
		t.Error("nil catalog has literal hosts")
	}
}
