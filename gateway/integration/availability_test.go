package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/manifest"
)

// oauthManifest is an OAuth 2.0 integration whose client secret comes from
// TESTOAUTH_CLIENT_SECRET and client id from TESTOAUTH_CLIENT_ID.
const oauthManifest = `id: testoauth
name: Test OAuth
description: test
accentColor: "#123456"
auth:
  type: oauth2
  oauth2:
    authorizationUrl: https://auth.example.com/authorize
    tokenUrl: https://auth.example.com/token
    clientId: ${TESTOAUTH_CLIENT_ID}
    clientSecret: ${TESTOAUTH_CLIENT_SECRET}
api:
  baseUrl: https://api.example.com
`

func loadOAuth(t *testing.T, env map[string]string) *manifest.Integration {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "testoauth.yaml"), []byte(oauthManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := manifest.LoadPaths([]string{dir}, manifest.Options{ResolveSecrets: true, AllowUnresolvedSecrets: true,
		Secrets: manifest.SecretResolver{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}})
	if err != nil || len(res.Integrations()) != 1 {
		t.Fatalf("load: %v %v", err, res.Problems())
	}
	return res.Integrations()[0]
}

func TestUnavailableOAuthNamesTheMissingSettingNeverAValue(t *testing.T) {
	in := loadOAuth(t, map[string]string{"TESTOAUTH_CLIENT_ID": "client-id-value"})
	want := "Set environment variable TESTOAUTH_CLIENT_SECRET (the OAuth client secret), then reload the manifests."
	if got := UnavailableReason(in); got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	p := PublicView("https://gw.example", in)
	if p.Available || p.UnavailableReason != want {
		t.Errorf("public view: available %v, reason %q", p.Available, p.UnavailableReason)
	}
	v := SDKView("https://gw.example", "p1", in)
	if v["available"] != false || v["unavailableReason"] != want || v["isActive"] != true {
		t.Errorf("SDK view: available %v, reason %v, isActive %v", v["available"], v["unavailableReason"], v["isActive"])
	}
	if pv := PortalView(in); pv.Unavailable != want {
		t.Errorf("portal view: %q", pv.Unavailable)
	}
	if strings.Contains(UnavailableReason(in), "client-id-value") {
		t.Error("the reason carries a value")
	}

	none := loadOAuth(t, map[string]string{})
	if got := UnavailableReason(none); got != "Set environment variable TESTOAUTH_CLIENT_ID (the OAuth client id) and environment variable TESTOAUTH_CLIENT_SECRET (the OAuth client secret), then reload the manifests." {
		t.Errorf("both missing: %q", got)
	}
	set := loadOAuth(t, map[string]string{"TESTOAUTH_CLIENT_ID": "id", "TESTOAUTH_CLIENT_SECRET": "secret"})
	if got := UnavailableReason(set); got != "" || !PublicView("", set).Available {
		t.Errorf("a fully set integration is unavailable: %q", got)
	}
}

func TestInitialIcon(t *testing.T) {
	in := loadOAuth(t, map[string]string{})
	svg := string(InitialIcon(in))
	if !strings.Contains(svg, `fill="#123456"`) || !strings.Contains(svg, `>T</text>`) || !strings.HasPrefix(svg, "<svg ") {
		t.Errorf("initial icon %s", svg)
	}
	in.Name = "<script>"
	if svg := string(InitialIcon(in)); !strings.Contains(svg, ">&lt;</text>") {
		t.Errorf("the initial is not escaped: %s", svg)
	}
}
