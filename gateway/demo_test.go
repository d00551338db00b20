package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// startDemoEnv is a gateway as dev mode runs it: the demo on, the dev
// egress policy (only literal loopback hosts, no --egress-allow), and a
// signing key that both verifies user tokens and lets the playground mint them.
func startDemoEnv(t *testing.T, accessTokenLifetime time.Duration) *proxyEnv {
	t.Helper()
	key, err := usertoken.GenerateRSA(2048)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := usertoken.KeyID(key.Public())
	e := startProxyEnvWith(t, func(c *Config) {
		c.Projects = []project.Config{{ID: "dev", Name: "Playground", Keys: []usertoken.PublicKey{{ID: kid, Key: key.Public()}}}}
		c.Egress = egress.Policy{LiteralLoopback: true}
		c.Demo = &Demo{AppKey: key, AccessTokenLifetime: accessTokenLifetime}
	})
	e.signer, e.kid = key, kid
	return e
}

func TestDemoOnlyWhenConfigured(t *testing.T) {
	e := startProxyEnv(t)
	for _, path := range []string{"/", "/demo/api/me", "/demo/oauth/authorize"} {
		if r := e.do("GET", path, "", nil, nil); r.status != http.StatusNotFound || !strings.Contains(r.body, `"not_found"`) {
			t.Errorf("GET %s without the demo: %d %s", path, r.status, r.body)
		}
	}
	if r := e.do("POST", "/demo/app/token", "", strings.NewReader(`{"user":"ada"}`), map[string]string{"Content-Type": "application/json"}); r.status != http.StatusNotFound {
		t.Errorf("token endpoint without the demo: %d", r.status)
	}
	if r := e.do("GET", "/v1/integrations", "", nil, nil); strings.Contains(r.body, "demo-") {
		t.Errorf("demo integrations listed without the demo: %s", r.body)
	}
}

func TestDemoPlaygroundAndIntegrations(t *testing.T) {
	e := startDemoEnv(t, 0)
	r := e.do("GET", "/", "", nil, nil)
	if r.status != 200 || !strings.Contains(r.body, "Plugboard playground") {
		t.Fatalf("playground: %d %s", r.status, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'nonce-") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("playground CSP: %q", csp)
	}
	if r := e.do("GET", "/elsewhere", "", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("the playground is at / exactly; /elsewhere answered %d", r.status)
	}

	var list struct {
		Integrations []struct{ ID, AuthType, Icon, AccentColor string }
	}
	if err := json.Unmarshal([]byte(e.do("GET", "/v1/integrations", "", nil, nil).body), &list); err != nil {
		t.Fatal(err)
	}
	demos := map[string]string{}
	for _, in := range list.Integrations {
		if strings.HasPrefix(in.ID, "demo-") {
			demos[in.ID] = in.AuthType
			if in.Icon == "" || in.AccentColor == "" {
				t.Errorf("%s has no icon or accent colour", in.ID)
			}
		}
	}
	if len(demos) != 4 {
		t.Errorf("demo integrations: %v", demos)
	}

	// The stand-in app backend mints tokens the gateway accepts.
	json := map[string]string{"Content-Type": "application/json"}
	r = e.do("POST", "/demo/app/token", "", strings.NewReader(`{"user":"ada"}`), json)
	var minted struct{ Token string }
	if r.status != 200 || jsonDecode(r.body, &minted) != nil || minted.Token == "" {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	var me struct{ ID string }
	if r := e.do("GET", "/projects/dev/sdk/me", minted.Token, nil, nil); r.status != 200 || jsonDecode(r.body, &me) != nil || me.ID != "ada" {
		t.Errorf("sdk/me with the minted token: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		body string
		hdr  map[string]string
		want int
	}{
		{`{"user":"ada"}`, map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, http.StatusForbidden},
		{`{"user":"ada"}`, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{`{"user":"Ada Lovelace"}`, json, http.StatusBadRequest},
		{`{"user":"ada","admin":true}`, json, http.StatusBadRequest},
	} {
		if r := e.do("POST", "/demo/app/token", "", strings.NewReader(c.body), c.hdr); r.status != c.want {
			t.Errorf("%s %v: %d, want %d (%s)", c.body, c.hdr, r.status, c.want, r.body)
		}
	}
}

func jsonDecode(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// API key, basic and client credentials connect through the public
// credentials endpoint and call the demo API through the proxy, with dev
// mode's egress policy (the demo is a literal loopback host).
func TestDemoConnectsEveryKeyedAuthType(t *testing.T) {
	e := startDemoEnv(t, 0)
	tok := e.token("ada")
	for _, c := range []struct {
		id, payload, auth string
	}{
		{"demo-apikey", `{"api_key":"demo-key-ada"}`, "api_key"},
		{"demo-basic", `{"username":"ada","password":"demo-password"}`, "basic"},
		{"demo-clientcreds", `{"client_id":"demo-service","client_secret":"demo-service-secret"}`, "client_credentials"},
	} {
		r := e.do("POST", "/projects/dev/sdk/credentials", tok, strings.NewReader(`{"integrationId":"custom.`+c.id+`","payload":`+c.payload+`}`), nil)
		if r.status != http.StatusOK && r.status != http.StatusCreated {
			t.Errorf("connect %s: %d %s", c.id, r.status, r.body)
			continue
		}
		me := e.do("GET", "/projects/dev/sdk/proxy/custom/"+c.id+"/me", tok, nil, nil)
		if me.status != 200 || !strings.Contains(me.body, `"auth":"`+c.auth+`"`) {
			t.Errorf("proxy %s /me: %d %s", c.id, me.status, me.body)
		}
	}
	// Wrong credentials are refused by the demo API's 401, before anything is stored.
	r := e.do("POST", "/projects/dev/sdk/credentials", tok, strings.NewReader(`{"integrationId":"custom.demo-basic","payload":{"username":"ada","password":"nope"}}`), nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "credential_test_failed") || !strings.Contains(r.body, "401") {
		t.Errorf("wrong password: %d %s", r.status, r.body)
	}
}
