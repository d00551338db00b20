package integration

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/manifest"
)

// catalogOf loads manifests of the given ids (api_key, no icon).
func catalogOf(t *testing.T, ids ...string) *manifest.Catalog {
	t.Helper()
	dir := t.TempDir()
	for _, id := range ids {
		body := "id: " + id + "\nname: " + id + "\ndescription: test\nauth:\n  type: api_key\n  inputs:\n    - key: api_key\n      label: API key\n      secret: true\n" +
			"api:\n  baseUrl: https://api." + id + ".example.com\n  authorization:\n    type: bearer\n    token: '{{inputs.api_key}}'\n"
		if err := os.WriteFile(filepath.Join(dir, id+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := manifest.LoadPaths([]string{dir}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Integrations()); n != len(ids) {
		t.Fatalf("loaded %d of %d manifests: %v", n, len(ids), res.Problems())
	}
	return manifest.NewCatalog(res, nil, time.Now())
}

// The SDK's ids are the same as the hand-written UUID v5 code gave before
// google/uuid: apps store them, so they must never change.
func TestUUIDsAreStable(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{UUID("dev", "github"), "1bc1d920-dac2-54e8-9f55-3c389c710f2c"},
		{UUID("acme", "fakeoauth"), "74c7db0c-e400-546f-8be5-0c058f27ac7f"},
		{ConfigurationUUID("6f1c2a4e-8b3d-4c5e-9f7a-0b1c2d3e4f50"), "44a3eaa4-dbf9-525a-be95-496b886ced14"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestResolve(t *testing.T) {
	var cur atomic.Pointer[manifest.Catalog]
	cur.Store(catalogOf(t, "alpha", "beta"))
	d := NewDirectory(cur.Load, []string{"p1", "p2"})
	for _, tc := range []struct {
		project, ref, want string
	}{
		{"p1", "alpha", "alpha"},
		{"p1", "custom.alpha", "alpha"},
		{"p1", "custom/beta", "beta"},
		{"p1", UUID("p1", "beta"), "beta"},
		{"p2", UUID("p2", "alpha"), "alpha"},
		{"p2", UUID("p1", "alpha"), ""}, // another project's id
		{"p3", UUID("p3", "alpha"), ""}, // not a project of this gateway
		{"p1", "custom.", ""},
		{"p1", "gamma", ""},
		{"p1", "", ""},
	} {
		in, ok := d.Resolve(tc.project, tc.ref)
		switch {
		case tc.want == "" && ok:
			t.Errorf("Resolve(%s, %q) = %s, want nothing", tc.project, tc.ref, in.ID)
		case tc.want != "" && (!ok || in.ID != tc.want):
			t.Errorf("Resolve(%s, %q) = %v, %v; want %s", tc.project, tc.ref, in, ok, tc.want)
		}
	}
	// A reload that adds an integration: its UUID resolves at once.
	cur.Store(catalogOf(t, "alpha", "beta", "gamma"))
	if in, ok := d.Resolve("p1", UUID("p1", "gamma")); !ok || in.ID != "gamma" {
		t.Errorf("after a reload: %v %v", in, ok)
	}
	// And one that removes it: its UUID no longer does.
	cur.Store(catalogOf(t, "alpha"))
	if in, ok := d.Resolve("p1", UUID("p1", "gamma")); ok {
		t.Errorf("a removed integration still resolves: %s", in.ID)
	}
}

func TestFormFieldsAndViewsNeverCarrySecretDefaults(t *testing.T) {
	in, _ := catalogOf(t, "alpha").Lookup("alpha")
	fields := FormFields(in)
	if len(fields) != 1 || fields[0].Key != "api_key" || !fields[0].Secret {
		t.Fatalf("fields %+v", fields)
	}
	v := SDKView("https://gw.example", "p1", in)
	inputs := v["sdkIntegrationConfig"].(map[string]any)["oauthInputs"].([]any)
	if f := inputs[0].(map[string]any); f["type"] != "password" || f["defaultValue"] != "" {
		t.Errorf("secret input in the SDK view: %v", f)
	}
	if v["id"] != UUID("p1", "alpha") || IconPath(in) != "/v1/integrations/alpha/icon.svg" {
		t.Errorf("SDK view id %v, icon path %q", v["id"], IconPath(in))
	}
	if p := PublicView("https://gw.example", in); p.Icon != "https://gw.example/v1/integrations/alpha/icon.svg" || !p.Available || p.SDKName != "custom.alpha" || len(p.Inputs) != 1 {
		t.Errorf("public view %+v", p)
	}
}
