package integration_test

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/internal/fakedns"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/manifest"
)

// The manifests in integrations.d are checked against fakes of their
// providers that accept a credential only the way the provider documents
// it: the header or query parameter and its exact scheme, the test
// endpoint's host and path, the token endpoint's client authentication
// (HTTP Basic or form fields) and refresh behaviour (rotated, kept or no
// refresh token; answers without expires_in), and RFC 7009 revocation.
// Each of the manifest's actions is then run with every parameter filled
// and must reach the API, under the base URL, with the credential.
// The gateway's own code sends every request (proxy.Handler.Test and
// oauth.Client, through the egress guard); only DNS (every name is
// 127.0.0.1, the operator allowing loopback) and the port are the test's.

// cred is how the provider's API expects the credential; %s in its
// templates stands for the secret (the typed key or the issued token).
type cred struct {
	kind       string // header, query, basic
	name       string // header or query parameter name
	value      string // header or query value, e.g. "Bearer %s"
	user, pass string // basic
}

func bearer() cred                   { return cred{kind: "header", name: "Authorization", value: "Bearer %s"} }
func header(name, value string) cred { return cred{kind: "header", name: name, value: value} }
func query(name string) cred         { return cred{kind: "query", name: name, value: "%s"} }
func basic(user, pass string) cred   { return cred{kind: "basic", user: user, pass: pass} }

// check reports how r carries the credential wrongly, or "".
func (c cred) check(r *http.Request, secret string) string {
	fill := func(s string) string { return strings.ReplaceAll(s, "%s", secret) }
	switch c.kind {
	case "header":
		if got, want := r.Header.Get(c.name), fill(c.value); got != want {
			return fmt.Sprintf("header %s is %q, want %q", c.name, redact(got, secret), redact(want, secret))
		}
	case "query":
		if got := r.URL.Query().Get(c.name); got != fill(c.value) {
			return fmt.Sprintf("query parameter %s is %q, want the credential", c.name, redact(got, secret))
		}
	case "basic":
		u, p, ok := r.BasicAuth()
		if !ok || u != fill(c.user) || p != fill(c.pass) {
			return fmt.Sprintf("HTTP Basic is %q:%q (ok %v), want %q:%q", redact(u, secret), redact(p, secret), ok, redact(fill(c.user), secret), redact(fill(c.pass), secret))
		}
	}
	if c.name != "Authorization" && c.kind != "basic" && r.Header.Get("Authorization") != "" {
		return "an Authorization header was sent too: " + redact(r.Header.Get("Authorization"), secret)
	}
	return ""
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "<secret>")
}

// tokenSpec is a provider's token endpoint.
type tokenSpec struct {
	url        string // host and path, e.g. oauth2.googleapis.com/token
	clientAuth string // basic or body
	// refresh is what a refresh grant does with the refresh token:
	// "keep" (the answer has none; the old one stays good), "rotate" (a new
	// one each time; the old one is refused from then on) or "none" (the
	// code's answer has no refresh token at all).
	refresh string
	// noExpiresIn: answers have no expires_in.
	noExpiresIn bool
	grant       string            // client credentials: the grant_type expected
	params      map[string]string // other form fields the endpoint requires
	revoke      string            // host and path of an RFC 7009 revocation endpoint
	pkce        bool              // the provider refuses a code exchange without a PKCE verifier
}

// row is one shipped manifest and its provider's documented behaviour.
type row struct {
	id      string
	inputs  map[string]string // what the end user types
	key     string            // api_key and basic: the secret the API expects in cred
	host    string            // the API's host
	test    string            // the test request's path and required query
	method  string            // the test request's method; "" is GET
	body    string            // the test request's JSON body, if any
	cred    cred
	headers map[string]string // other headers the API requires, exactly
	token   *tokenSpec        // oauth2 and client credentials
}

var rows = []row{
	// The 11 first manifests.
	{id: "github", host: "api.github.com", test: "/user", cred: bearer(),
		headers: map[string]string{"X-GitHub-Api-Version": "2022-11-28"},
		token:   &tokenSpec{url: "github.com/login/oauth/access_token", clientAuth: "body", refresh: "none", noExpiresIn: true}},
	{id: "google-drive", host: "www.googleapis.com", test: "/drive/v3/about?fields=user", cred: bearer(),
		token: &tokenSpec{url: "oauth2.googleapis.com/token", clientAuth: "body", refresh: "keep", revoke: "oauth2.googleapis.com/revoke"}},
	{id: "hubspot", host: "api.hubapi.com", test: "/crm/v3/objects/contacts?limit=1", cred: bearer(),
		token: &tokenSpec{url: "api.hubapi.com/oauth/v1/token", clientAuth: "body", refresh: "keep"}},
	{id: "jira", inputs: map[string]string{"site": "acme", "email": "ada@example.com", "api_token": "atl-token-1"}, key: "atl-token-1",
		host: "acme.atlassian.net", test: "/rest/api/3/myself", cred: basic("ada@example.com", "%s")},
	{id: "mailchimp", inputs: map[string]string{"dc": "us6", "api_key": "0123abcd-us6"}, key: "0123abcd-us6",
		host: "us6.api.mailchimp.com", test: "/3.0/ping", cred: basic("plugboard", "%s")},
	{id: "notion", host: "api.notion.com", test: "/v1/users/me", cred: bearer(),
		headers: map[string]string{"Notion-Version": "2022-06-28"},
		token:   &tokenSpec{url: "api.notion.com/v1/oauth/token", clientAuth: "basic", refresh: "none", noExpiresIn: true}},
	{id: "onesignal", inputs: map[string]string{"app_id": "6a1f0c2e-1111-2222-3333-444455556666", "api_key": "os_v2_app_k1"}, key: "os_v2_app_k1",
		host: "api.onesignal.com", test: "/apps/6a1f0c2e-1111-2222-3333-444455556666", cred: header("Authorization", "Key %s")},
	{id: "slack", host: "slack.com", test: "/api/auth.test", cred: bearer(),
		token: &tokenSpec{url: "slack.com/api/oauth.v2.access", clientAuth: "basic", refresh: "none", noExpiresIn: true}},
	{id: "stripe", inputs: map[string]string{"secret_key": "rk_test_abc123"}, key: "rk_test_abc123",
		host: "api.stripe.com", test: "/v1/balance", cred: bearer()},
	{id: "zendesk", inputs: map[string]string{"subdomain": "acme"}, host: "acme.zendesk.com", test: "/api/v2/users/me.json", cred: bearer(),
		token: &tokenSpec{url: "acme.zendesk.com/oauth/tokens", clientAuth: "body", refresh: "none", noExpiresIn: true}},
	{id: "zoom", inputs: map[string]string{"account_id": "Zx9_acct"}, host: "api.zoom.us", test: "/v2/users/me", cred: bearer(),
		token: &tokenSpec{url: "zoom.us/oauth/token", clientAuth: "basic", grant: "account_credentials", params: map[string]string{"account_id": "Zx9_acct"}}},

	// OAuth 2.0, authorization code.
	{id: "salesforce", inputs: map[string]string{"my_domain": "acme"}, host: "acme.my.salesforce.com", test: "/services/oauth2/userinfo", cred: bearer(),
		token: &tokenSpec{url: "acme.my.salesforce.com/services/oauth2/token", clientAuth: "body", refresh: "keep", noExpiresIn: true, revoke: "acme.my.salesforce.com/services/oauth2/revoke"}},
	{id: "shopify", inputs: map[string]string{"shop": "acme"}, host: "acme.myshopify.com", test: "/admin/api/2025-07/shop.json", cred: header("X-Shopify-Access-Token", "%s"),
		token: &tokenSpec{url: "acme.myshopify.com/admin/oauth/access_token", clientAuth: "body", refresh: "none", noExpiresIn: true}},
	{id: "asana", host: "app.asana.com", test: "/api/1.0/users/me", cred: bearer(),
		token: &tokenSpec{url: "app.asana.com/-/oauth_token", clientAuth: "body", refresh: "keep", revoke: "app.asana.com/-/oauth_revoke"}},
	{id: "gitlab", host: "gitlab.com", test: "/api/v4/user", cred: bearer(),
		token: &tokenSpec{url: "gitlab.com/oauth/token", clientAuth: "body", refresh: "rotate", revoke: "gitlab.com/oauth/revoke"}},
	{id: "bitbucket", host: "api.bitbucket.org", test: "/2.0/user", cred: bearer(),
		token: &tokenSpec{url: "bitbucket.org/site/oauth2/access_token", clientAuth: "basic", refresh: "keep"}},
	{id: "box", host: "api.box.com", test: "/2.0/users/me", cred: bearer(),
		token: &tokenSpec{url: "api.box.com/oauth2/token", clientAuth: "body", refresh: "rotate", revoke: "api.box.com/oauth2/revoke"}},
	{id: "outlook", inputs: map[string]string{"tenant": "common"}, host: "graph.microsoft.com", test: "/v1.0/me", cred: bearer(),
		token: &tokenSpec{url: "login.microsoftonline.com/common/oauth2/v2.0/token", clientAuth: "body", refresh: "rotate"}},
	{id: "google-calendar", host: "www.googleapis.com", test: "/calendar/v3/users/me/calendarList?maxResults=1", cred: bearer(),
		token: &tokenSpec{url: "oauth2.googleapis.com/token", clientAuth: "body", refresh: "keep", revoke: "oauth2.googleapis.com/revoke"}},
	{id: "gmail", host: "gmail.googleapis.com", test: "/gmail/v1/users/me/profile", cred: bearer(),
		token: &tokenSpec{url: "oauth2.googleapis.com/token", clientAuth: "body", refresh: "keep", revoke: "oauth2.googleapis.com/revoke"}},
	{id: "intercom", host: "api.intercom.io", test: "/me", cred: bearer(), headers: map[string]string{"Intercom-Version": "2.11"},
		token: &tokenSpec{url: "api.intercom.io/auth/eagle/token", clientAuth: "body", refresh: "none", noExpiresIn: true}},
	{id: "calendly", host: "api.calendly.com", test: "/users/me", cred: bearer(),
		token: &tokenSpec{url: "auth.calendly.com/oauth/token", clientAuth: "body", refresh: "rotate", revoke: "auth.calendly.com/oauth/revoke"}},
	{id: "typeform", host: "api.typeform.com", test: "/me", cred: bearer(),
		token: &tokenSpec{url: "api.typeform.com/oauth/token", clientAuth: "body", refresh: "keep"}},
	{id: "airtable", host: "api.airtable.com", test: "/v0/meta/whoami", cred: bearer(),
		token: &tokenSpec{url: "airtable.com/oauth2/v1/token", clientAuth: "basic", refresh: "rotate", pkce: true}},
	{id: "xero", host: "api.xero.com", test: "/connections", cred: bearer(),
		token: &tokenSpec{url: "identity.xero.com/connect/token", clientAuth: "basic", refresh: "rotate", revoke: "identity.xero.com/connect/revocation"}},
	{id: "quickbooks", inputs: map[string]string{"realm_id": "9130350", "environment": "sandbox-quickbooks"}, host: "sandbox-quickbooks.api.intuit.com",
		test: "/v3/company/9130350/companyinfo/9130350", cred: bearer(),
		token: &tokenSpec{url: "oauth.platform.intuit.com/oauth2/v1/tokens/bearer", clientAuth: "basic", refresh: "rotate"}},

	// APIs whose calls are all POSTs: GraphQL and RPC.
	{id: "linear", host: "api.linear.app", test: "/graphql", method: "POST", body: `{"query": "{ viewer { id name email } }"}`, cred: bearer(),
		token: &tokenSpec{url: "api.linear.app/oauth/token", clientAuth: "body", refresh: "rotate"}},
	{id: "monday", host: "api.monday.com", test: "/v2", method: "POST", body: `{"query": "{ me { id name } }"}`, cred: header("Authorization", "%s"),
		headers: map[string]string{"API-Version": "2025-04"},
		token:   &tokenSpec{url: "auth.monday.com/oauth2/token", clientAuth: "body", refresh: "none", noExpiresIn: true}},
	{id: "dropbox", host: "api.dropboxapi.com", test: "/2/users/get_current_account", method: "POST", cred: bearer(),
		token: &tokenSpec{url: "api.dropboxapi.com/oauth2/token", clientAuth: "basic", refresh: "keep"}},

	// API keys and HTTP Basic.
	{id: "freshdesk", inputs: map[string]string{"domain": "acme", "api_key": "fd-key-1"}, key: "fd-key-1",
		host: "acme.freshdesk.com", test: "/api/v2/agents/me", cred: basic("%s", "X")},
	{id: "trello", inputs: map[string]string{"api_key": "0123456789abcdef0123456789abcdef", "token": "ATTA-token-1"}, key: "ATTA-token-1",
		host: "api.trello.com", test: "/1/members/me", cred: header("Authorization", `OAuth oauth_consumer_key="0123456789abcdef0123456789abcdef", oauth_token="%s"`)},
	{id: "pipedrive", inputs: map[string]string{"company_domain": "acme", "api_token": "0123456789abcdef0123456789abcdef01234567"}, key: "0123456789abcdef0123456789abcdef01234567",
		host: "acme.pipedrive.com", test: "/api/v1/users/me", cred: query("api_token")},
	{id: "sendgrid", inputs: map[string]string{"api_key": "SG.abc.def"}, key: "SG.abc.def", host: "api.sendgrid.com", test: "/v3/scopes", cred: bearer()},
	{id: "twilio", inputs: map[string]string{"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "tw-token-1"}, key: "tw-token-1",
		host: "api.twilio.com", test: "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef.json", cred: basic("AC0123456789abcdef0123456789abcdef", "%s")},
	{id: "postmark", inputs: map[string]string{"server_token": "pm-token-1"}, key: "pm-token-1", host: "api.postmarkapp.com", test: "/server", cred: header("X-Postmark-Server-Token", "%s")},
	{id: "pagerduty", inputs: map[string]string{"api_key": "u+pd-key-1"}, key: "u+pd-key-1", host: "api.pagerduty.com", test: "/abilities", cred: header("Authorization", "Token token=%s")},
	{id: "okta", inputs: map[string]string{"org": "acme", "api_token": "00okta-token-1"}, key: "00okta-token-1", host: "acme.okta.com", test: "/api/v1/users/me", cred: header("Authorization", "SSWS %s")},
	{id: "discord", inputs: map[string]string{"bot_token": "MTA.bot-token-1"}, key: "MTA.bot-token-1", host: "discord.com", test: "/api/v10/users/@me", cred: header("Authorization", "Bot %s")},
	{id: "harvest", inputs: map[string]string{"account_id": "123456", "access_token": "hv-token-1"}, key: "hv-token-1",
		host: "api.harvestapp.com", test: "/v2/users/me", cred: bearer(), headers: map[string]string{"Harvest-Account-Id": "123456"}},
	{id: "klaviyo", inputs: map[string]string{"private_key": "pk_abc123"}, key: "pk_abc123", host: "a.klaviyo.com", test: "/api/accounts/",
		cred: header("Authorization", "Klaviyo-API-Key %s"), headers: map[string]string{"revision": "2025-04-15"}},
	{id: "brevo", inputs: map[string]string{"api_key": "xkeysib-1"}, key: "xkeysib-1", host: "api.brevo.com", test: "/v3/account", cred: header("api-key", "%s")},
	{id: "close", inputs: map[string]string{"api_key": "api_close1"}, key: "api_close1", host: "api.close.com", test: "/api/v1/me/", cred: basic("%s", "")},
	{id: "sentry", inputs: map[string]string{"region": "de", "auth_token": "sntrys_1"}, key: "sntrys_1", host: "de.sentry.io", test: "/api/0/organizations/", cred: bearer()},
	{id: "contentful", inputs: map[string]string{"space_id": "yadj1kx9rmg0", "management_token": "CFPAT-1"}, key: "CFPAT-1",
		host: "api.contentful.com", test: "/spaces/yadj1kx9rmg0", cred: bearer()},
	{id: "clickup", inputs: map[string]string{"api_token": "pk_123_ABC"}, key: "pk_123_ABC", host: "api.clickup.com", test: "/api/v2/user", cred: header("Authorization", "%s")},
	{id: "webflow", inputs: map[string]string{"api_token": "wf-token-1"}, key: "wf-token-1", host: "api.webflow.com", test: "/v2/token/introspect", cred: bearer()},
	{id: "figma", inputs: map[string]string{"access_token": "figd_1"}, key: "figd_1", host: "api.figma.com", test: "/v1/me", cred: header("X-Figma-Token", "%s")},

	// OAuth 2.0 client credentials.
	{id: "help-scout", host: "api.helpscout.net", test: "/v2/users/me", cred: bearer(),
		token: &tokenSpec{url: "api.helpscout.net/v2/oauth2/token", clientAuth: "body", grant: "client_credentials"}},
	{id: "auth0", inputs: map[string]string{"tenant": "acme", "region": "eu"}, host: "acme.eu.auth0.com", test: "/api/v2/tenants/settings", cred: bearer(),
		token: &tokenSpec{url: "acme.eu.auth0.com/oauth/token", clientAuth: "body", grant: "client_credentials", params: map[string]string{"audience": "https://acme.eu.auth0.com/api/v2/"}}},
}

// TestBundledManifests runs every row against the fake and checks that
// every shipped manifest has a row.
func TestBundledManifests(t *testing.T) {
	res, err := manifest.LoadPaths([]string{filepath.Join("..", "..", "integrations.d")}, secretOptions())
	if err != nil {
		t.Fatal(err)
	}
	if probs := res.Problems(); len(probs) > 0 {
		t.Fatalf("the shipped manifests have problems:\n%v", probs)
	}
	loaded := map[string]*manifest.Integration{}
	for _, in := range res.Integrations() {
		loaded[in.ID] = in
	}
	env := newProviderEnv(t)
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.id] = true
		t.Run(r.id, func(t *testing.T) {
			in := loaded[r.id]
			if in == nil {
				t.Fatalf("integrations.d has no manifest %s", r.id)
			}
			if err := env.run(t.Context(), r, in); err != nil {
				t.Error(err)
			}
		})
	}
	for id := range loaded {
		if !seen[id] {
			t.Errorf("integrations.d/%s.yaml has no row in this table: add one from the provider's documentation", id)
		}
	}
	actions := 0
	for _, in := range loaded {
		actions += len(in.Actions)
	}
	if got := env.ran.Load(); !t.Failed() && got != int64(actions) {
		t.Errorf("%d of the %d actions ran", got, actions)
	}
	// Issue 18 asked for a catalog of at least 42; this keeps it there.
	if len(loaded) < 42 {
		t.Errorf("%d bundled manifests, want at least 42", len(loaded))
	}
}

// A manifest that sends the credential another way than its provider
// documents fails its row: each mutation of a shipped manifest must.
func TestBundledManifestsRowsCatchMistakes(t *testing.T) {
	env := newProviderEnv(t)
	for _, tc := range []struct {
		name, id, old, new string
		want               string // in the row's error: it failed for this reason
	}{
		{"pagerduty key as a bearer token", "pagerduty", "value: Token token={{inputs.api_key}}", "value: Bearer {{inputs.api_key}}", `want "Token token=<secret>"`},
		{"okta key without SSWS", "okta", "value: SSWS {{inputs.api_token}}", `value: "{{inputs.api_token}}"`, `want "SSWS <secret>"`},
		{"pipedrive key in a header", "pipedrive", "type: query\n    name: api_token", "type: header\n    name: X-Api-Token", "query parameter api_token"},
		{"freshdesk key as password", "freshdesk", "username: \"{{inputs.api_key}}\"\n    password: X", "username: X\n    password: \"{{inputs.api_key}}\"", `want "<secret>":"X"`},
		{"discord bot token as bearer", "discord", "value: Bot {{inputs.bot_token}}", "value: Bearer {{inputs.bot_token}}", `want "Bot <secret>"`},
		{"harvest without its account header", "harvest", "Harvest-Account-Id:", "X-Account-Id:", "header Harvest-Account-Id"},
		{"auth0 without the audience", "auth0", "    tokenParams:\n      audience: https://{{inputs.tenant}}.{{inputs.region}}.auth0.com/api/v2/\n", "", "audience=\"\""},
		{"help-scout client secret in a Basic header", "help-scout", "tokenAuthStyle: body", "tokenAuthStyle: header", "as form fields"},
		{"linear test request as a GET", "linear", "  testMethod: POST\n  testBody: '{\"query\": \"{ viewer { id name email } }\"}'\n", "", "want the test request POST /graphql"},
		{"monday token as bearer", "monday", "value: \"{{credential.access_token}}\"", "value: Bearer {{credential.access_token}}", `want "<secret>"`},
		{"stripe key in X-Api-Key instead of bearer", "stripe", "type: bearer\n    token:", "type: header\n    name: X-Api-Key\n    value:", `want "Bearer <secret>"`},
		{"notion client secret in the body", "notion", "tokenAuthStyle: header", "tokenAuthStyle: body", "want the client id and secret in HTTP Basic"},
		{"github client secret in a Basic header", "github", "tokenAuthStyle: body", "tokenAuthStyle: header", "want client_id and client_secret as form fields"},
		{"jira key as user name", "jira", `username: "{{inputs.email}}"`, `username: "{{inputs.api_token}}"`, `want "ada@example.com":"<secret>"`},
		{"shopify token as bearer", "shopify", "type: header\n    name: X-Shopify-Access-Token\n    value: \"{{credential.access_token}}\"", "type: bearer", `header X-Shopify-Access-Token is ""`},
		{"airtable without PKCE", "airtable", "tokenAuthStyle: header", "tokenAuthStyle: header\n    pkce: false", "requires PKCE"},
		{"zendesk test endpoint", "zendesk", "testEndpoint: /users/me.json", "testEndpoint: /users/me", "want the test request GET /api/v2/users/me.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := mutated(t, tc.id, tc.old, tc.new)
			r := rowOf(t, tc.id)
			err := env.run(t.Context(), r, in)
			if err == nil {
				t.Fatalf("the row of %s passed with the mutated manifest (%q → %q)", tc.id, tc.old, tc.new)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the row failed, but not for the mutation (want %q in the error): %v", tc.want, err)
			}
		})
	}
}

func rowOf(t *testing.T, id string) row {
	for _, r := range rows {
		if r.id == id {
			return r
		}
	}
	t.Fatalf("no row %s", id)
	return row{}
}

// mutated loads integrations.d/<id>.yaml with old replaced by new.
func mutated(t *testing.T, id, old, new string) *manifest.Integration {
	t.Helper()
	src := filepath.Join("..", "..", "integrations.d")
	data, err := os.ReadFile(filepath.Join(src, id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s.yaml no longer contains %q; update the mutation", id, old)
	}
	dir := t.TempDir()
	icon, err := os.ReadFile(filepath.Join(src, id+".svg"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{id + ".yaml": []byte(strings.Replace(string(data), old, new, 1)), id + ".svg": icon} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := manifest.LoadPaths([]string{dir}, secretOptions())
	if err != nil {
		t.Fatal(err)
	}
	ins := res.Integrations()
	if len(ins) != 1 {
		t.Fatalf("the mutated manifest does not load: %v", res.Problems())
	}
	return ins[0]
}

// secretOptions resolves every ${NAME} to "v-NAME".
func secretOptions() manifest.Options {
	return manifest.Options{ResolveSecrets: true, Secrets: manifest.SecretResolver{LookupEnv: func(k string) (string, bool) { return "v-" + k, true }}}
}

// providerEnv is the fake provider (one TLS server on 127.0.0.1 answering
// for every host), the DNS server and the gateway's clients.
type providerEnv struct {
	fake  *fakeProvider
	proxy *proxy.Handler
	oauth oauth.Client
	creds *oneConnection
	ran   atomic.Int64 // actions run
}

// oneConnection is the proxy's store of credentials: the one connection
// the current row made.
type oneConnection struct {
	mu   sync.Mutex
	conn *connection.Connection
}

func (o *oneConnection) set(c *connection.Connection) {
	o.mu.Lock()
	o.conn = c
	o.mu.Unlock()
}

func (o *oneConnection) Default(context.Context, string, string, string) (*connection.Connection, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn == nil {
		return nil, connection.ErrNotFound
	}
	return o.conn, nil
}

func (o *oneConnection) Fresh(_ context.Context, _ *manifest.Integration, c *connection.Connection, _ string) (*connection.Connection, error) {
	return c, nil
}

func (o *oneConnection) Retry401(context.Context, *connection.Connection) bool { return false }

func newProviderEnv(t *testing.T) *providerEnv {
	t.Helper()
	dns := fakedns.New(netip.MustParseAddr("127.0.0.1"))
	t.Cleanup(dns.Close)
	ca := newTestCA(t)
	fake := &fakeProvider{}
	srv := httptest.NewUnstartedServer(fake)
	srv.TLS = &tls.Config{GetCertificate: ca.certificate}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	guard := &egress.Guard{Policy: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Resolver: dns.Resolver()}}
	// Every provider listens on the fake's port instead of 443; the name
	// is still resolved (by the fake DNS) and checked by the guard.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return guard.DialContext(ctx, network, net.JoinHostPort(host, port))
	}
	// The proxy's own client, and the OAuth client's transport.
	pc := proxy.NewTransport(guard)
	pc.Dial, pc.TLS = dial, &tls.Config{RootCAs: ca.pool}
	t.Cleanup(pc.CloseIdleConnections)
	tr := guard.NewTransport()
	tr.TLSClientConfig = &tls.Config{RootCAs: ca.pool}
	tr.DialContext = dial
	creds := &oneConnection{}
	h := &proxy.Handler{Transport: pc, UserAgent: "plugboard-test", Credentials: creds}
	h.Init()
	hc := oauth.NewHTTPClient(guard, 10*time.Second)
	hc.Transport = tr
	return &providerEnv{fake: fake, proxy: h, oauth: oauth.Client{HTTP: hc}, creds: creds}
}

const redirectURI = "https://gateway.example.com/oauth/callback"

// run connects an account of row r with manifest in and checks it, as the
// gateway would: the code exchange (or client credentials, or typed
// inputs), the test request, a refresh and the revocation.
func (e *providerEnv) run(ctx context.Context, r row, in *manifest.Integration) error {
	f := e.fake
	f.reset(r, in)
	conn := &connection.Connection{ProjectID: "dev", UserID: "ada", IntegrationID: in.ID, Status: connection.StatusValid}
	inputs := r.inputs
	switch in.Auth.Type {
	case manifest.AuthOAuth2:
		if r.token == nil {
			return errors.New("an OAuth 2.0 manifest, but the row has no token endpoint")
		}
		tok, err := e.oauth.Exchange(ctx, in, inputs, redirectURI, "code-ok", "verifier-0123456789-0123456789-0123456789")
		if err != nil {
			return fmt.Errorf("code exchange: %v%s", err, f.problems())
		}
		var exp time.Time
		conn.Credential, exp = oauth.FromToken(tok, inputs, false)
		if r.token.noExpiresIn != exp.IsZero() {
			return fmt.Errorf("code exchange: expiry %v, but the provider sends expires_in: %v", exp, !r.token.noExpiresIn)
		}
	case manifest.AuthClientCredentials:
		if r.token == nil {
			return errors.New("a client credentials manifest, but the row has no token endpoint")
		}
		tok, err := e.oauth.ClientCredentials(ctx, in, "typed-client-id", "typed-client-secret", inputs)
		if err != nil {
			return fmt.Errorf("client credentials: %v%s", err, f.problems())
		}
		conn.Credential, _ = oauth.FromToken(tok, inputs, true)
		conn.Credential.ClientID, conn.Credential.ClientSecret = "typed-client-id", "typed-client-secret"
	default:
		if r.token != nil {
			return fmt.Errorf("a %s manifest, but the row has a token endpoint", in.Auth.Type)
		}
		conn.Credential.Inputs = inputs
	}
	if err := e.test(ctx, in, conn); err != nil {
		return err
	}
	if in.Auth.Type != manifest.AuthOAuth2 {
		if err := e.actions(ctx, r, in, conn); err != nil {
			return err
		}
		return f.err()
	}

	// A refresh, as the gateway makes it when the token expires or the
	// API answers 401.
	next, _, err := e.oauth.Refresh(ctx, in, conn.Credential)
	switch r.token.refresh {
	case "none":
		if !errors.Is(err, oauth.ErrNoRefreshToken) {
			return fmt.Errorf("refresh: %v, want no refresh token to refresh with%s", err, f.problems())
		}
	case "keep", "rotate":
		if err != nil {
			return fmt.Errorf("refresh: %v%s", err, f.problems())
		}
		if rotated := next.RefreshToken != conn.Credential.RefreshToken; rotated != (r.token.refresh == "rotate") {
			return fmt.Errorf("refresh: refresh token rotated %v, want %s", rotated, r.token.refresh)
		}
		if next.AccessToken == conn.Credential.AccessToken {
			return errors.New("refresh: the access token did not change")
		}
		if r.token.refresh == "rotate" {
			// The old refresh token is spent: the provider refuses it and the
			// user must reconnect.
			if _, _, err := e.oauth.Refresh(ctx, in, conn.Credential); !oauth.NeedsReconnect(err) {
				return fmt.Errorf("refresh with a rotated-out refresh token: %v, want invalid_grant", err)
			}
			f.forgive() // that refusal was the point
		}
		conn.Credential = next
		if err := e.test(ctx, in, conn); err != nil {
			return fmt.Errorf("after the refresh: %v", err)
		}
	}
	if err := e.actions(ctx, r, in, conn); err != nil {
		return err
	}
	if r.token.revoke == "" && in.Auth.OAuth2.RevocationURL != nil {
		return errors.New("the manifest declares a revocation URL, but the row has none")
	}
	if r.token.revoke != "" {
		if err := e.oauth.Revoke(ctx, in, conn.Credential); err != nil {
			return fmt.Errorf("revoke: %v%s", err, f.problems())
		}
		if !f.revoked() {
			return errors.New("revoke: the revocation endpoint was not called")
		}
	}
	return f.err()
}

// actions runs each of the manifest's actions, with every parameter
// filled, through the proxy as the actions service does; the provider
// must get the rendered request on the API's host with the credential.
func (e *providerEnv) actions(ctx context.Context, r row, in *manifest.Integration, conn *connection.Connection) error {
	e.creds.set(conn)
	defer e.creds.set(nil)
	base, err := in.API.BaseURL.Render(manifest.Vars{Inputs: conn.Credential.Inputs})
	if err != nil {
		return err
	}
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	for _, a := range in.Actions {
		params, err := sampleParameters(in.ID+"."+a.Name, a.Schema)
		if err != nil {
			return err
		}
		if errs := a.Check(params); len(errs) > 0 {
			return fmt.Errorf("action %s: the sample parameters do not pass its schema: %v", a.Name, errs)
		}
		req, err := a.Render(params)
		if err != nil {
			return fmt.Errorf("action %s: %v", a.Name, err)
		}
		call := proxy.Call{Method: req.Method, Path: req.Path, Header: http.Header{"Accept": {"application/json"}}, Body: req.Body}
		q := url.Values{}
		for _, nv := range req.Query {
			q.Add(nv.Name, nv.Value)
		}
		call.Query = q.Encode()
		for _, nv := range req.Headers {
			call.Header.Set(nv.Name, nv.Value)
		}
		if req.Body != nil {
			call.Header.Set("Content-Type", "application/json; charset=utf-8")
		}
		e.fake.expect(&expected{method: req.Method, path: strings.TrimSuffix(u.EscapedPath(), "/") + req.Path, query: q, headers: req.Headers, body: req.Body})
		res := e.proxy.Do(ctx, proxy.Request{ProjectID: "dev", UserID: "ada", Integration: in, Path: req.Path}, call, 1<<20)
		e.fake.expect(nil)
		if res.GatewayError || res.Status != http.StatusOK {
			return fmt.Errorf("action %s: %d %s%s", a.Name, res.Status, res.Body, e.fake.problems())
		}
		e.ran.Add(1)
	}
	return e.fake.err()
}

// samples are values for parameters whose pattern a generic sample would
// not match, by integration.action.parameter.
var samples = map[string]any{
	"airtable.list_records.base_id":   "appABCDEFGHIJKLMN",
	"discord.send_message.channel_id": "123456789012345678",
}

// sampleParameters fills every parameter of an action's schema.
func sampleParameters(prefix string, schema json.RawMessage) (map[string]any, error) {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for name, raw := range s.Properties {
		if v, ok := samples[prefix+"."+name]; ok {
			out[name] = v
			continue
		}
		v, err := sampleValue(raw)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %v", prefix, name, err)
		}
		out[name] = v
	}
	return out, nil
}

func sampleValue(raw json.RawMessage) (any, error) {
	var p struct {
		Type    string          `json:"type"`
		Enum    []any           `json:"enum"`
		Minimum *float64        `json:"minimum"`
		Pattern string          `json:"pattern"`
		Items   json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	if len(p.Enum) > 0 {
		if f, ok := p.Enum[0].(float64); ok && p.Type == "integer" {
			return json.Number(fmt.Sprint(int64(f))), nil
		}
		return p.Enum[0], nil
	}
	switch p.Type {
	case "string":
		if p.Pattern != "" {
			return nil, fmt.Errorf("has a pattern: add a value to samples")
		}
		return "sample-1", nil
	case "integer":
		if p.Minimum != nil {
			return json.Number(fmt.Sprint(int64(*p.Minimum) + 1)), nil
		}
		return json.Number("2"), nil
	case "number":
		return json.Number("2.5"), nil
	case "boolean":
		return true, nil
	case "array":
		v, err := sampleValue(p.Items)
		if err != nil {
			return nil, err
		}
		return []any{v}, nil
	case "object":
		return map[string]any{"k": "v"}, nil
	}
	return nil, fmt.Errorf("type %q", p.Type)
}

func (e *providerEnv) test(ctx context.Context, in *manifest.Integration, conn *connection.Connection) error {
	if in.API.TestEndpoint == nil {
		return errors.New("the manifest has no testEndpoint")
	}
	res, err := e.proxy.Test(ctx, in, conn)
	if err != nil {
		return fmt.Errorf("test request: %v%s", err, e.fake.problems())
	}
	if !res.OK() {
		return fmt.Errorf("test request to %s: %d %s%s", res.Endpoint, res.Status, res.Excerpt, e.fake.problems())
	}
	return e.fake.err()
}

// fakeProvider answers for the current row's hosts.
type fakeProvider struct {
	mu       sync.Mutex
	row      row
	clientID string
	secret   string
	seq      int
	access   map[string]bool // live access tokens
	refresh  map[string]bool // live refresh tokens
	spent    map[string]bool // rotated-out refresh tokens
	errs     []string
	didRev   bool
	want     *expected // an action's request, instead of the test request
}

// expected is the request an action must arrive as.
type expected struct {
	method, path string
	query        url.Values
	headers      []manifest.NameValue
	body         []byte
}

func (f *fakeProvider) expect(x *expected) {
	f.mu.Lock()
	f.want = x
	f.mu.Unlock()
}

func (f *fakeProvider) reset(r row, in *manifest.Integration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.row, f.seq, f.errs, f.didRev, f.want = r, 0, nil, false, nil
	f.access, f.refresh, f.spent = map[string]bool{}, map[string]bool{}, map[string]bool{}
	f.clientID, f.secret = "typed-client-id", "typed-client-secret"
	if o := in.Auth.OAuth2; o != nil {
		f.clientID, _ = o.ClientID.Render(manifest.Vars{Inputs: r.inputs})
		f.secret, _ = o.ClientSecret.Value()
	}
}

func (f *fakeProvider) fail(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeProvider) problems() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) == 0 {
		return ""
	}
	return "\n\tthe provider saw: " + strings.Join(f.errs, "\n\tthe provider saw: ")
}

func (f *fakeProvider) err() error {
	if p := f.problems(); p != "" {
		return errors.New(strings.TrimPrefix(p, "\n\t"))
	}
	return nil
}

func (f *fakeProvider) forgive() {
	f.mu.Lock()
	f.errs = nil
	f.mu.Unlock()
}

func (f *fakeProvider) revoked() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.didRev
}

func (f *fakeProvider) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.row
	at := req.Host + req.URL.Path
	switch {
	case r.token != nil && at == r.token.url:
		f.tokenEndpoint(w, req)
	case r.token != nil && r.token.revoke != "" && at == r.token.revoke:
		f.revokeEndpoint(w, req)
	case req.Host == r.host:
		f.api(w, req)
	default:
		f.fail("%s %s: no such endpoint at this provider", req.Method, at)
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
	}
}

func (f *fakeProvider) api(w http.ResponseWriter, req *http.Request) {
	r := f.row
	w.Header().Set("Content-Type", "application/json")
	if f.want != nil {
		if !f.actionRequest(req) {
			http.Error(w, `{"error":"bad_request"}`, http.StatusBadRequest)
			return
		}
	} else if !f.testRequest(req) {
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
		return
	}
	for k, v := range r.headers {
		if got := req.Header.Get(k); got != v {
			f.fail("header %s is %q, want %q", k, got, v)
		}
	}
	ok := false
	var why string
	if r.token == nil {
		why = r.cred.check(req, r.key)
		ok = why == ""
	} else {
		for tok := range f.access {
			if why = r.cred.check(req, tok); why == "" {
				ok = true
				break
			}
		}
		if len(f.access) == 0 {
			why = "no access token was issued"
		}
	}
	if !ok {
		f.fail("API credential: %s", why)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"unauthorized"}`))
		return
	}
	_, _ = w.Write([]byte(`{"id":"me-1","name":"Ada"}`))
}

// actionRequest checks an action's request against what it rendered.
func (f *fakeProvider) actionRequest(req *http.Request) bool {
	x := f.want
	if req.Method != x.method || req.URL.EscapedPath() != x.path {
		f.fail("action: %s %s, want %s %s", req.Method, req.URL.EscapedPath(), x.method, x.path)
		return false
	}
	for k := range x.query {
		if req.URL.Query().Get(k) != x.query.Get(k) {
			f.fail("action: query %s=%q, want %q", k, req.URL.Query().Get(k), x.query.Get(k))
			return false
		}
	}
	for _, h := range x.headers {
		if req.Header.Get(h.Name) != h.Value {
			f.fail("action: header %s=%q, want %q", h.Name, req.Header.Get(h.Name), h.Value)
			return false
		}
	}
	body, _ := io.ReadAll(req.Body)
	if string(body) != string(x.body) {
		f.fail("action: body %q, want %q", body, x.body)
		return false
	}
	return true
}

// testRequest checks the test request against the row.
func (f *fakeProvider) testRequest(req *http.Request) bool {
	r := f.row
	path, wantQuery, _ := strings.Cut(r.test, "?")
	method := cmp.Or(r.method, http.MethodGet)
	if req.Method != method || req.URL.Path != path {
		f.fail("%s %s, want the test request %s %s", req.Method, req.URL.Path, method, path)
		return false
	}
	body, _ := io.ReadAll(req.Body)
	if r.body != "" {
		var got, want any
		if ct := req.Header.Get("Content-Type"); ct != "application/json" || json.Unmarshal(body, &got) != nil || json.Unmarshal([]byte(r.body), &want) != nil || !reflect.DeepEqual(got, want) {
			f.fail("test request body %q (%s), want %s as application/json", body, ct, r.body)
			return false
		}
	} else if len(body) > 0 {
		f.fail("test request body %q, want none", body)
		return false
	}
	want, _ := url.ParseQuery(wantQuery)
	for k := range want {
		if req.URL.Query().Get(k) != want.Get(k) {
			f.fail("test request query %s=%q, want %q", k, req.URL.Query().Get(k), want.Get(k))
			return false
		}
	}
	return true
}

// clientAuth checks how the client authenticated at the token or
// revocation endpoint.
func (f *fakeProvider) clientAuth(req *http.Request, where string) bool {
	id, secret, hasBasic := req.BasicAuth()
	form := req.PostForm
	switch f.row.token.clientAuth {
	case "basic":
		if !hasBasic || id != url.QueryEscape(f.clientID) && id != f.clientID || secret != f.secret {
			f.fail("%s: want the client id and secret in HTTP Basic (got basic %v)", where, hasBasic)
			return false
		}
		if form.Get("client_secret") != "" {
			f.fail("%s: client_secret in the body as well as in HTTP Basic", where)
			return false
		}
	case "body":
		if form.Get("client_id") != f.clientID || form.Get("client_secret") != f.secret {
			f.fail("%s: want client_id and client_secret as form fields (got client_id %v, client_secret %v, basic %v)", where, form.Has("client_id"), form.Has("client_secret"), hasBasic)
			return false
		}
		if hasBasic {
			f.fail("%s: an Authorization header as well as form fields", where)
			return false
		}
	}
	return true
}

func (f *fakeProvider) tokenEndpoint(w http.ResponseWriter, req *http.Request) {
	ts := f.row.token
	w.Header().Set("Content-Type", "application/json")
	refuse := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if req.Method != http.MethodPost || req.ParseForm() != nil || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f.fail("token endpoint: %s %s, want a form POST", req.Method, req.Header.Get("Content-Type"))
		refuse("invalid_request")
		return
	}
	if !f.clientAuth(req, "token endpoint") {
		refuse("invalid_client")
		return
	}
	for k, v := range ts.params {
		if req.PostForm.Get(k) != v {
			f.fail("token endpoint: %s=%q, want %q", k, req.PostForm.Get(k), v)
			refuse("invalid_request")
			return
		}
	}
	issueRefresh := ts.refresh == "keep" || ts.refresh == "rotate"
	switch g := req.PostForm.Get("grant_type"); {
	case ts.grant != "":
		if g != ts.grant {
			f.fail("token endpoint: grant_type %q, want %q", g, ts.grant)
			refuse("unsupported_grant_type")
			return
		}
		issueRefresh = false
	case g == "authorization_code":
		if req.PostForm.Get("code") != "code-ok" || req.PostForm.Get("redirect_uri") != redirectURI {
			f.fail("token endpoint: code %q, redirect_uri %q", req.PostForm.Get("code"), req.PostForm.Get("redirect_uri"))
			refuse("invalid_grant")
			return
		}
		if ts.pkce && req.PostForm.Get("code_verifier") == "" {
			f.fail("token endpoint: no code_verifier, and this provider requires PKCE")
			refuse("invalid_grant")
			return
		}
	case g == "refresh_token":
		rt := req.PostForm.Get("refresh_token")
		if !f.refresh[rt] {
			f.fail("token endpoint: refresh token %s is not live (spent %v)", rt, f.spent[rt])
			refuse("invalid_grant")
			return
		}
		if ts.refresh == "rotate" {
			delete(f.refresh, rt)
			f.spent[rt] = true
		} else {
			issueRefresh = false
		}
	default:
		f.fail("token endpoint: grant_type %q", g)
		refuse("unsupported_grant_type")
		return
	}
	f.seq++
	ans := map[string]any{"access_token": fmt.Sprintf("at-%s-%d", f.row.id, f.seq), "token_type": "bearer"}
	f.access[ans["access_token"].(string)] = true
	if !ts.noExpiresIn {
		ans["expires_in"] = 3600
	}
	if issueRefresh {
		rt := fmt.Sprintf("rt-%s-%d", f.row.id, f.seq)
		f.refresh[rt] = true
		ans["refresh_token"] = rt
	}
	_ = json.NewEncoder(w).Encode(ans)
}

func (f *fakeProvider) revokeEndpoint(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.ParseForm() != nil {
		f.fail("revocation endpoint: %s, want a form POST", req.Method)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if !f.clientAuth(req, "revocation endpoint") {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	tok := req.PostForm.Get("token")
	if !f.refresh[tok] && !f.access[tok] {
		f.fail("revocation endpoint: token %q is not one this provider issued", tok)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	delete(f.refresh, tok)
	delete(f.access, tok)
	f.didRev = true
	w.WriteHeader(http.StatusOK)
}

// testCA issues a certificate for whatever name a client asks for.
type testCA struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	pool  *x509.CertPool
	mu    sync.Mutex
	leafs map[string]*tls.Certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "plugboard test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, leafs: map[string]*tls.Certificate{}}
}

func (ca *testCA) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	name := hello.ServerName
	if c := ca.leafs[name]; c != nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ca.leafs[name] = c
	return c, nil
}
