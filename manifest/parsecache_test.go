package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// cacheManifest is an OAuth manifest whose client secret is ${env} and
// whose icon is the file icon.svg beside it.
func cacheManifest(id, description, env string) string {
	return fmt.Sprintf(`id: %s
name: %s
description: %s
icon: icon.svg
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://example.com/oauth/authorize
    tokenUrl: https://example.com/oauth/token
    clientId: client
    clientSecret: ${%s}
api:
  baseUrl: https://api.example.com
`, id, id, description, env)
}

func TestParseCacheReparsesOnlyWhatChanged(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"SECRET_A": "a1", "SECRET_B": "b1"}
	cache := &ParseCache{}
	opts := Options{ResolveSecrets: true, Cache: cache, Secrets: SecretResolver{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}}
	write("icon.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8"/></svg>`)
	write("a.yaml", cacheManifest("a", "first", "SECRET_A"))
	write("b.yaml", cacheManifest("b", "first", "SECRET_B"))
	write("c.yaml", cacheManifest("c", "first", "SECRET_A"))
	load := func() map[string]*Integration {
		t.Helper()
		res, err := LoadPaths([]string{dir}, opts)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]*Integration{}
		for _, in := range res.Integrations() {
			byID[in.ID] = in
		}
		return byID
	}
	secret := func(in *Integration) string {
		v, _ := in.Auth.OAuth2.ClientSecret.Value()
		return v
	}
	first := load()
	if len(first) != 3 {
		t.Fatalf("%d integrations, want 3", len(first))
	}

	// Nothing changed: every result is reused.
	again := load()
	for id, in := range first {
		if again[id] != in {
			t.Errorf("%s was parsed again although nothing changed", id)
		}
	}

	// One edited file: only it is parsed again.
	write("b.yaml", cacheManifest("b", "second", "SECRET_B"))
	edited := load()
	if edited["b"] == first["b"] || edited["b"].Description != "second" {
		t.Errorf("the edit of b.yaml was not picked up: %q", edited["b"].Description)
	}
	if edited["a"] != first["a"] || edited["c"] != first["c"] {
		t.Error("unchanged files were parsed again")
	}

	// A changed secret: the manifests that read it are parsed again.
	env["SECRET_A"] = "a2"
	rotated := load()
	if secret(rotated["a"]) != "a2" || secret(rotated["c"]) != "a2" {
		t.Errorf("secrets after the change: %q, %q", secret(rotated["a"]), secret(rotated["c"]))
	}
	if rotated["b"] != edited["b"] {
		t.Error("b does not read SECRET_A but was parsed again")
	}
	delete(env, "SECRET_A")
	res, _ := LoadPaths([]string{dir}, opts)
	if got := fmt.Sprint(res.Problems()); !strings.Contains(got, "SECRET_A is not set") || len(res.Integrations()) != 1 {
		t.Errorf("an unset secret must reject the manifests that use it; problems:\n%s", got)
	}
	env["SECRET_A"] = "a2"

	// A changed icon file: every manifest showing it is parsed again.
	write("icon.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle cx="4" cy="4" r="4"/></svg>`)
	for id, in := range load() {
		if !strings.Contains(string(in.Icon), "circle") {
			t.Errorf("%s still shows the old icon", id)
		}
	}

	// A removed file leaves the cache.
	if err := os.Remove(filepath.Join(dir, "c.yaml")); err != nil {
		t.Fatal(err)
	}
	if n := len(load()); n != 2 {
		t.Fatalf("%d integrations after removing c.yaml, want 2", n)
	}
	if _, ok := cache.entries[filepath.Join(dir, "c.yaml")]; ok || len(cache.entries) != 2 {
		t.Errorf("the cache holds %d entries after c.yaml was removed", len(cache.entries))
	}
}

func TestParseCacheDuplicateIDsDoNotAccumulate(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Replace(cacheManifest("same", "x", "S"), "icon: icon.svg\n", "", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{Cache: &ParseCache{}}
	for range 3 {
		res, err := LoadPaths([]string{dir}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(fmt.Sprint(res.Problems()), "already used"); n != 1 || len(res.Integrations()) != 1 {
			t.Fatalf("%d duplicate-id problems and %d integrations, want 1 and 1:\n%s", n, len(res.Integrations()), res.Problems())
		}
	}
}

func TestParseCacheTrustsAnOldStat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(cacheManifest("a", "x", "S"), "icon: icon.svg\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := &ParseCache{}
	opts := Options{Cache: cache}
	stat := func() os.FileInfo {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	if _, err := LoadPaths([]string{dir}, opts); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.unchanged(path, stat(), opts); ok {
		t.Error("a file written just before it was read was trusted by its stat")
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPaths([]string{dir}, opts); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.unchanged(path, stat(), opts); !ok {
		t.Error("an old, unchanged file is read again")
	}
	if err := os.WriteFile(path, []byte(strings.Replace(cacheManifest("a", "y", "S"), "icon: icon.svg\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.unchanged(path, stat(), opts); ok {
		t.Error("a rewritten file was trusted by its stat")
	}
	res, _ := LoadPaths([]string{dir}, opts)
	if ins := res.Integrations(); len(ins) != 1 || ins[0].Description != "y" {
		t.Errorf("the rewrite was not picked up")
	}
}

// TestParseCacheSeesARewriteWithItsMTimePutBack: a file rewritten in place
// (same inode, same size) whose modification time was then put back, as
// cp -p and rsync --inplace do, is read again: its ctime changed.
func TestParseCacheSeesARewriteWithItsMTimePutBack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ctime is compared on Linux only")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "a.yaml")
	write := func(description string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(strings.Replace(cacheManifest("a", description, "S"), "icon: icon.svg\n", "", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("x")
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	cache := &ParseCache{}
	opts := Options{Cache: cache}
	if _, err := LoadPaths([]string{dir}, opts); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.unchanged(path, before, opts); !ok {
		t.Fatal("an old, unchanged file is not trusted by its stat")
	}
	write("y") // same length, same inode
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime()) {
		t.Fatalf("the rewrite is not in place with its mtime put back: %v %d/%d %v/%v",
			os.SameFile(before, after), before.Size(), after.Size(), before.ModTime(), after.ModTime())
	}
	if _, ok := cache.unchanged(path, after, opts); ok {
		t.Error("a rewrite whose mtime was put back was trusted by its stat")
	}
	res, _ := LoadPaths([]string{dir}, opts)
	if ins := res.Integrations(); len(ins) != 1 || ins[0].Description != "y" {
		t.Errorf("the rewrite was not picked up: %+v", ins)
	}
}
