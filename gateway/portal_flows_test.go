package gateway

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/integration"
)

// The Connect Portal as an end user and an app's developer meet it, over
// HTTP: return URLs, strict bodies, unavailable integrations, messages in
// labels, icons for integrations without one.

const appOrigin = "https://app.example.com"

// linkWith asks for a connect link with a raw JSON body.
func (e *proxyEnv) linkWith(user, body string) response {
	e.t.Helper()
	return e.do("POST", "/projects/dev/sdk/connect-links", e.token(user), strings.NewReader(body), nil)
}

func linkURL(t *testing.T, r response) string {
	t.Helper()
	var link struct{ URL string }
	if err := json.Unmarshal([]byte(r.body), &link); err != nil || r.status != 201 || link.URL == "" {
		t.Fatalf("connect link: %d %s", r.status, r.body)
	}
	return link.URL
}

func TestConnectLinkReturnURL(t *testing.T) {
	e := startProxyEnvWith(t, func(c *Config) { c.AllowedOrigins = []string{appOrigin}; c.Projects[0].Name = "Acme CRM" })
	e.provider.AddAPIKey("good-key-1")

	link := linkURL(t, e.linkWith("ret", `{"integrationId":"custom.fakekey","returnUrl":"https://app.example.com/settings?tab=apps"}`))
	b := newBrowser(t)
	status, page, at := b.get(link)
	if status != 200 || strings.Contains(page, `id="back"`) {
		t.Fatalf("form: %d at %s", status, at)
	}
	csrf := csrfRE.FindStringSubmatch(page)
	status, page, _ = b.post(at.String(), url.Values{"csrf": {csrf[1]}, "api_key": {"good-key-1"}})
	if status != 200 || !strings.Contains(page, `<a class="button" id="back" href="https://app.example.com/settings?tab=apps">Back to Acme CRM</a>`) {
		t.Fatalf("result page has no link back to the app: %d %s", status, page)
	}
	if !strings.Contains(page, "Connected <strong>Fake Key</strong> to") || !strings.Contains(page, `<strong id="account">ret</strong>`) {
		t.Errorf("the result page does not name the app and the account: %s", page)
	}

	for _, tc := range []struct{ returnURL, says string }{
		{"https://evil.example/", `returnUrl is on \"https://evil.example\", which is not one of the gateway's allowed origins`},
		{"https://app.example.com.evil.example/x", "not one of the gateway's allowed origins"},
		{"/settings", "must be an absolute http(s) URL"},
		{"//evil.example/", "must be an absolute http(s) URL"},
		{"javascript:alert(1)", "must be an absolute http(s) URL"},
		{"https://user@app.example.com/", "must not carry a user name"},
	} {
		body, _ := json.Marshal(map[string]string{"integrationId": "custom.fakekey", "returnUrl": tc.returnURL})
		r := e.linkWith("ret", string(body))
		if r.status != 400 || r.header.Get("X-Plugboard-Error") != "bad_request" || !strings.Contains(r.body, tc.says) {
			t.Errorf("returnUrl %q: %d %s", tc.returnURL, r.status, r.body)
		}
	}
}

func TestManagementBodiesRefuseUnknownFields(t *testing.T) {
	e := startProxyEnv(t)
	e.provider.AddAPIKey("good-key-2")
	tok := e.token("strict")
	for _, tc := range []struct{ method, path, body, says string }{
		{"POST", "/projects/dev/sdk/connect-links", `{"integrationId":"custom.fakekey","redirectUrl":"https://x"}`, `Unknown field \"redirectUrl\"`},
		{"POST", "/projects/dev/sdk/connect-links", `{"integrationId":42}`, `Field \"integrationId\" must be a JSON string, not number`},
		{"POST", "/projects/dev/sdk/connect-links", `{"integrationId":"custom.fakekey"} {}`, `The body must be JSON {\"integrationId\"`},
		{"POST", "/projects/dev/sdk/credentials", `{"integrationId":"custom.fakekey","payload":{"api_key":"good-key-2"},"extra":true}`, `Unknown field \"extra\"`},
		{"PATCH", "/projects/dev/sdk/me", `{"meta":{},"metadata":{}}`, `Unknown field \"metadata\"`},
	} {
		r := e.do(tc.method, tc.path, tok, strings.NewReader(tc.body), nil)
		if r.status != 400 || r.header.Get("X-Plugboard-Error") != "bad_request" || !strings.Contains(r.body, tc.says) {
			t.Errorf("%s %s %s: %d %s", tc.method, tc.path, tc.body, r.status, r.body)
		}
	}
	// What the SDK sends is accepted.
	r := e.do("POST", "/projects/dev/sdk/credentials", tok, strings.NewReader(`{"integrationId":"custom.fakekey","config":{},"payload":{"api_key":"good-key-2"},"installOptions":{}}`), nil)
	if r.status != 201 {
		t.Errorf("the SDK's body: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/projects/dev/sdk/me", tok, strings.NewReader(`{"meta":{"plan":"pro"}}`), nil); r.status != 200 {
		t.Errorf("the SDK's metadata: %d %s", r.status, r.body)
	}
}

func TestMessagesNameFieldsByLabel(t *testing.T) {
	e := startProxyEnv(t)
	tok := e.token("labels")
	for _, tc := range []struct{ payload, says string }{
		{`{}`, `"message":"API key is required."`},
		{`{"api_key":5}`, `"message":"API key must be text."`},
		{`{"api_key":"k","bogus":"x"}`, `Fake Key has no field \"bogus\"`},
	} {
		r := e.do("POST", "/projects/dev/sdk/credentials", tok, strings.NewReader(`{"integrationId":"custom.fakekey","payload":`+tc.payload+`}`), nil)
		if r.status != 400 || r.header.Get("X-Plugboard-Error") != "invalid_input" || !strings.Contains(r.body, tc.says) || strings.Contains(r.body, `"message":"api_key`) {
			t.Errorf("payload %s: %d %s", tc.payload, r.status, r.body)
		}
	}
	// The portal form: a notice, and the field's own message by its label.
	b := newBrowser(t)
	_, page, at := b.get(e.connectLink("labels", "custom.fakekey"))
	csrf := csrfRE.FindStringSubmatch(page)
	status, page, _ := b.post(at.String(), url.Values{"csrf": {csrf[1]}})
	if status != 400 || !strings.Contains(page, "<p>Check the highlighted fields.</p>") || !strings.Contains(page, `<p class="error" id="e-api_key">API key is required</p>`) {
		t.Errorf("portal after an empty submit: %d %s", status, page)
	}
}

func TestUnavailableOAuthIntegration(t *testing.T) {
	var unset atomic.Bool
	e := startProxyEnvWith(t, func(c *Config) {
		c.AllowedOrigins = []string{appOrigin}
		c.Manifest.AllowUnresolvedSecrets = true
		lookup := c.Manifest.Secrets.LookupEnv
		c.Manifest.Secrets.LookupEnv = func(k string) (string, bool) {
			if k == "FAKE_CLIENT_SECRET" && unset.Load() {
				return "", false
			}
			return lookup(k)
		}
	})
	// A link made while the secret was set, opened after a reload without it.
	early := e.connectLink("una", "custom.fakeoauth")
	unset.Store(true)
	reloadWithChange(t, e, "fakeoauth.yaml")
	const reason = "Set environment variable FAKE_CLIENT_SECRET (the OAuth client secret), then reload the manifests."

	// The views say so.
	var list struct{ Integrations []integration.Public }
	if code, body, _ := e.get("/v1/integrations", false); code != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("/v1/integrations: %d %s", code, body)
	}
	for _, p := range list.Integrations {
		if want := p.ID != "fakeoauth"; p.Available != want || (p.ID == "fakeoauth" && p.UnavailableReason != reason) {
			t.Errorf("/v1/integrations %s: available %v, reason %q", p.ID, p.Available, p.UnavailableReason)
		}
	}
	r := e.do("GET", "/projects/dev/sdk/integrations", e.token("una"), nil, nil)
	var sdkList []map[string]any
	if err := json.Unmarshal([]byte(r.body), &sdkList); err != nil {
		t.Fatal(err)
	}
	for _, v := range sdkList {
		if v["name"] == "Fake OAuth" && (v["available"] != false || v["unavailableReason"] != reason || v["isActive"] != true) {
			t.Errorf("/sdk/integrations: %v", v)
		}
	}

	// The API answers a clear error, naming the setting but no value.
	for what, r := range map[string]response{
		"connect-links": e.linkWith("una", `{"integrationId":"custom.fakeoauth"}`),
		"build-oauth": e.do("GET", "/v2/projects/dev/sdk/actions/build-oauth?"+url.Values{"integrationId": {integration.UUID("dev", "fakeoauth")},
			"oauthMetaKeyId": {"k1"}, "originForPostMessage": {appOrigin}}.Encode(), e.token("una"), nil, nil),
	} {
		if r.status != 503 || r.header.Get("X-Plugboard-Error") != "integration_unavailable" ||
			!strings.Contains(r.body, "Fake OAuth cannot be connected on this gateway yet") || !strings.Contains(r.body, "FAKE_CLIENT_SECRET") ||
			strings.Contains(r.body, e.provider.ClientSecret) || strings.Contains(r.body, e.provider.ClientID) {
			t.Errorf("%s: %d %s", what, r.status, r.body)
		}
	}

	// The portal form explains instead of offering a button that fails.
	br := newBrowser(t)
	status, page, at := br.get(early)
	if status != 200 || !strings.Contains(page, "Fake OAuth cannot be connected on this gateway yet") || !strings.Contains(page, reason) ||
		strings.Contains(page, "<form") || strings.Contains(page, e.provider.ClientID) {
		t.Fatalf("portal: %d %s", status, page)
	}
	// A POST anyway goes nowhere near the provider.
	status, _, _ = br.post(at.String(), url.Values{"csrf": {"whatever"}})
	if status == 200 || e.provider.AuthorizeRequests.Load() != 0 {
		t.Errorf("POST to an unavailable integration: %d, provider visits %d", status, e.provider.AuthorizeRequests.Load())
	}

	// The SDK's popup says so too.
	nonce := e.do("GET", "/projects/dev/sdk/actions/oauth-nonce?"+url.Values{"integrationId": {integration.UUID("dev", "fakeoauth")},
		"originForPostMessage": {appOrigin}, "userToken": {e.token("una")}}.Encode(), "", nil, map[string]string{"Referer": appOrigin + "/"})
	if nonce.status != 503 || !strings.Contains(nonce.body, "Cannot connect Fake OAuth") || !strings.Contains(nonce.body, reason) {
		t.Errorf("oauth-nonce: %d %s", nonce.status, nonce.body)
	}

	// API-key integrations are unaffected.
	if r := e.linkWith("una", `{"integrationId":"custom.fakekey"}`); r.status != 201 {
		t.Errorf("fakekey link: %d %s", r.status, r.body)
	}
}

func TestIntegrationWithoutIconGetsItsInitial(t *testing.T) {
	e := startProxyEnv(t)
	code, body, err := e.get("/v1/integrations/fakekey/icon.svg", false)
	if err != nil || code != 200 || !strings.Contains(string(body), ">F</text>") {
		t.Fatalf("generated icon: %d %v %s", code, err, body)
	}
	r := e.do("GET", "/projects/dev/sdk/integrations", e.token("icons"), nil, nil)
	var list []struct {
		Name              string
		CustomIntegration struct{ Icon string }
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatal(err)
	}
	for _, v := range list {
		if !strings.HasPrefix(v.CustomIntegration.Icon, e.base+"/v1/integrations/") || !strings.HasSuffix(v.CustomIntegration.Icon, "/icon.svg") {
			t.Errorf("%s: icon %q", v.Name, v.CustomIntegration.Icon)
		}
	}
}
