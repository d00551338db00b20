package main

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// serve --help lists exactly the routes the gateway mounts, with the
// method each takes.
func TestServeHelpListsEveryRoute(t *testing.T) {
	entry, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "routes.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	hooks := &webhook.Config{Endpoints: []webhook.Endpoint{{ProjectID: "dev", URL: "https://app.example.com/hooks", Secret: make([]byte, 32)}}}
	// With an admin listener and --pprof, every route there is: the
	// public listener's and the admin listener's.
	srv, err := gateway.New(gateway.Config{ManifestDir: t.TempDir(), Store: st, Keyring: kr, Demo: &gateway.Demo{}, Webhooks: hooks,
		SeparateAdmin: true, Profiling: true})
	if err != nil {
		t.Fatal(err)
	}
	mounted := srv.Routes()
	if len(mounted) < 25 {
		t.Fatalf("the gateway mounts only %d routes: %v", len(mounted), mounted)
	}
	line := regexp.MustCompile(`(?m)^\s+(GET|POST|PUT|PATCH|DELETE|ANY)\s+(/\S+)`)
	var documented []string
	for _, m := range line.FindAllStringSubmatch(serveHelp, -1) {
		documented = append(documented, m[1]+" "+m[2])
	}
	for _, p := range mounted {
		if !slices.Contains(documented, p) {
			t.Errorf("serve --help does not list %q", p)
		}
	}
	for _, d := range documented {
		if !slices.Contains(mounted, d) {
			t.Errorf("serve --help lists %q, which the gateway does not serve", d)
		}
	}
	if t.Failed() {
		t.Logf("mounted:\n%s", strings.Join(mounted, "\n"))
	}
}
