package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/manifest"
)

const clientSecret = "s3cret-of-the-app"

// parse compiles one manifest from YAML, with every ${…} secret resolving
// to clientSecret.
func parse(t *testing.T, yaml string) *manifest.Integration {
	t.Helper()
	in, probs := manifest.Parse("acme.yaml", []byte(yaml), manifest.Options{ResolveSecrets: true, Secrets: manifest.SecretResolver{
		LookupEnv: func(string) (string, bool) { return clientSecret, true }}})
	if in == nil || probs.HasErrors(false) {
		t.Fatalf("manifest: %v", probs)
	}
	return in
}

// oauth2Manifest is an authorization code integration whose endpoints are
// under base/{{inputs.tenant}}/.
func oauth2Manifest(base, extra string) string {
	return `id: acme
name: Acme
description: test
auth:
  type: oauth2
  inputs:
    - key: tenant
      label: Tenant
  oauth2:
    authorizationUrl: ` + base + `/{{inputs.tenant}}/authorize
    tokenUrl: ` + base + `/{{inputs.tenant}}/token
    revocationUrl: ` + base + `/{{inputs.tenant}}/revoke
    clientId: app-client
    clientSecret: ${ACME_CLIENT_SECRET}
` + extra + `api:
  baseUrl: ` + base + `/api
  testEndpoint: /me
`
}

func ccManifest(base, extra string) string {
	return `id: acme
name: Acme
description: test
auth:
  type: oauth2_client_credentials
  inputs:
    - key: tenant
      label: Tenant
  clientCredentials:
    tokenUrl: ` + base + `/{{inputs.tenant}}/token
` + extra + `api:
  baseUrl: ` + base + `/api
  testEndpoint: /me
`
}

// tokenRequest is what the fake token endpoint received.
type tokenRequest struct {
	Path                 string
	Form                 url.Values
	BasicUser, BasicPass string
	HasBasic             bool
}

// tokenEndpoint is a provider's token endpoint on 127.0.0.1 that answers
// every request with status and body, and records what it got.
type tokenEndpoint struct {
	URL    string
	mu     sync.Mutex
	got    []tokenRequest
	status int
	body   string
}

func newTokenEndpoint(t *testing.T, status int, body string) *tokenEndpoint {
	ep := &tokenEndpoint{status: status, body: body}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token endpoint: %v", err)
		}
		req := tokenRequest{Path: r.URL.Path, Form: r.PostForm}
		req.BasicUser, req.BasicPass, req.HasBasic = r.BasicAuth()
		ep.mu.Lock()
		ep.got = append(ep.got, req)
		ep.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ep.status)
		_, _ = w.Write([]byte(ep.body))
	}))
	t.Cleanup(srv.Close)
	ep.URL = srv.URL
	return ep
}

func (ep *tokenEndpoint) requests() []tokenRequest {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return append([]tokenRequest(nil), ep.got...)
}

// only returns the one request the endpoint got.
func (ep *tokenEndpoint) only(t *testing.T) tokenRequest {
	t.Helper()
	got := ep.requests()
	if len(got) != 1 {
		t.Fatalf("the token endpoint got %d requests, want 1: %+v", len(got), got)
	}
	return got[0]
}

func testClient() oauth.Client {
	return oauth.Client{HTTP: oauth.NewHTTPClient(loopbackAllowed(), 5*time.Second)}
}

var tenant = map[string]string{"tenant": "acme"}

// checkClientAuth checks where the client id and secret were sent.
func checkClientAuth(t *testing.T, req tokenRequest, style, id, secret string) {
	t.Helper()
	switch style {
	case "header":
		if !req.HasBasic || req.BasicUser != id || req.BasicPass != secret {
			t.Errorf("header style: basic auth = %v %q %q, want %q and the secret", req.HasBasic, req.BasicUser, req.BasicPass, id)
		}
		if req.Form.Has("client_secret") {
			t.Errorf("header style: the secret is in the body too: %v", req.Form)
		}
	case "body":
		if req.HasBasic {
			t.Errorf("body style: an Authorization header was sent (%q)", req.BasicUser)
		}
		if req.Form.Get("client_id") != id || req.Form.Get("client_secret") != secret {
			t.Errorf("body style: form = %v, want client_id %q and the secret", req.Form, id)
		}
	}
}

func TestExchangeSendsCodeVerifierAndClientAuth(t *testing.T) {
	for _, style := range []string{"header", "body"} {
		t.Run(style, func(t *testing.T) {
			ep := newTokenEndpoint(t, 200, `{"access_token":"at-1","token_type":"bearer","refresh_token":"rt-1","expires_in":3600}`)
			in := parse(t, oauth2Manifest(ep.URL, "    tokenAuthStyle: "+style+"\n    tokenParams:\n      resource: \"{{inputs.tenant}}-api\"\n"))
			before := time.Now()
			tok, err := testClient().Exchange(context.Background(), in, tenant, "https://gw.example/oauth/callback", "the-code", verifier)
			if err != nil {
				t.Fatal(err)
			}
			req := ep.only(t)
			if req.Path != "/acme/token" {
				t.Errorf("token URL path = %q, want the tenant's /acme/token", req.Path)
			}
			for k, want := range map[string]string{
				"grant_type": "authorization_code", "code": "the-code", "redirect_uri": "https://gw.example/oauth/callback",
				"code_verifier": verifier, "resource": "acme-api",
			} {
				if got := req.Form.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			checkClientAuth(t, req, style, "app-client", clientSecret)
			if tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" {
				t.Errorf("token = %+v", tok)
			}
			if tok.Expiry.Before(before.Add(time.Hour)) || tok.Expiry.After(time.Now().Add(time.Hour)) {
				t.Errorf("expiry %v is not an hour after the exchange", tok.Expiry)
			}
		})
	}
}

func TestExchangeWithoutPKCESendsNoVerifier(t *testing.T) {
	ep := newTokenEndpoint(t, 200, `{"access_token":"at-1","token_type":"bearer"}`)
	in := parse(t, oauth2Manifest(ep.URL, "    pkce: false\n"))
	if _, err := testClient().Exchange(context.Background(), in, tenant, "https://gw.example/cb", "the-code", verifier); err != nil {
		t.Fatal(err)
	}
	if req := ep.only(t); req.Form.Has("code_verifier") {
		t.Errorf("code_verifier sent with PKCE off: %v", req.Form)
	}
}

func TestRefresh(t *testing.T) {
	old := connection.Credential{AccessToken: "old-at", RefreshToken: "old-rt", TokenType: "bearer", Inputs: tenant}
	for _, tc := range []struct {
		name        string
		answer      string
		wantRefresh string
		wantExpiry  time.Duration // 0: no expiry
	}{
		{"rotated refresh token is kept", `{"access_token":"new-at","token_type":"bearer","refresh_token":"new-rt","expires_in":600}`, "new-rt", 10 * time.Minute},
		{"no refresh token keeps the old one", `{"access_token":"new-at","token_type":"bearer","expires_in":600}`, "old-rt", 10 * time.Minute},
		{"no expires_in means no expiry", `{"access_token":"new-at","token_type":"bearer"}`, "old-rt", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := newTokenEndpoint(t, 200, tc.answer)
			in := parse(t, oauth2Manifest(ep.URL, "    scopes: [read, write]\n"))
			before := time.Now()
			next, exp, err := testClient().Refresh(context.Background(), in, old)
			if err != nil {
				t.Fatal(err)
			}
			req := ep.only(t)
			if req.Path != "/acme/token" || req.Form.Get("grant_type") != "refresh_token" || req.Form.Get("refresh_token") != "old-rt" {
				t.Errorf("refresh request: %s %v", req.Path, req.Form)
			}
			checkClientAuth(t, req, "header", "app-client", clientSecret)
			if next.AccessToken != "new-at" || next.RefreshToken != tc.wantRefresh || next.Inputs["tenant"] != "acme" {
				t.Errorf("credential = %+v, want access new-at, refresh %s, inputs kept", next, tc.wantRefresh)
			}
			switch {
			case tc.wantExpiry == 0 && !exp.IsZero():
				t.Errorf("expiry = %v, want none", exp)
			case tc.wantExpiry != 0 && (exp.Before(before.Add(tc.wantExpiry)) || exp.After(time.Now().Add(tc.wantExpiry))):
				t.Errorf("expiry = %v, want %v after the refresh", exp, tc.wantExpiry)
			}
		})
	}
}

func TestRefreshWithoutRefreshTokenNeedsReconnect(t *testing.T) {
	ep := newTokenEndpoint(t, 200, `{}`)
	in := parse(t, oauth2Manifest(ep.URL, ""))
	_, _, err := testClient().Refresh(context.Background(), in, connection.Credential{AccessToken: "at", Inputs: tenant})
	if !errors.Is(err, oauth.ErrNoRefreshToken) || !oauth.NeedsReconnect(err) {
		t.Errorf("err = %v, want ErrNoRefreshToken", err)
	}
	if got := ep.requests(); len(got) != 0 {
		t.Errorf("the token endpoint was called: %+v", got)
	}
}

// A refusal says what the provider answered, tells apart "reconnect" from
// "try again later", and never carries the refresh token or the secret.
func TestRefreshRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		answer    string
		code      string
		reconnect bool
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"the refresh token was revoked"}`, "invalid_grant", true},
		{"invalid_client", 401, `{"error":"invalid_client"}`, "invalid_client", true},
		{"server error", 503, `{"error":"temporarily_unavailable"}`, "temporarily_unavailable", false},
		{"5xx without a body", 502, ``, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := newTokenEndpoint(t, tc.status, tc.answer)
			in := parse(t, oauth2Manifest(ep.URL, ""))
			old := connection.Credential{AccessToken: "old-at", RefreshToken: "old-rt", Inputs: tenant}
			got, _, err := testClient().Refresh(context.Background(), in, old)
			var pe *oauth.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want a *ProviderError", err, err)
			}
			if pe.Status != tc.status || pe.Code != tc.code {
				t.Errorf("ProviderError = %+v, want status %d code %q", pe, tc.status, tc.code)
			}
			if oauth.NeedsReconnect(err) != tc.reconnect {
				t.Errorf("NeedsReconnect = %v, want %v", !tc.reconnect, tc.reconnect)
			}
			if got.RefreshToken != "old-rt" || got.AccessToken != "old-at" {
				t.Errorf("a refused refresh changed the credential: %+v", got)
			}
			if msg := err.Error(); strings.Contains(msg, "old-rt") || strings.Contains(msg, clientSecret) {
				t.Errorf("error leaks a secret: %s", msg)
			}
		})
	}
}

func TestClientCredentials(t *testing.T) {
	for _, style := range []string{"header", "body"} {
		t.Run(style, func(t *testing.T) {
			ep := newTokenEndpoint(t, 200, `{"access_token":"cc-at","token_type":"bearer","expires_in":120}`)
			in := parse(t, ccManifest(ep.URL, "    scopes: [a.read, a.write]\n    scopeSeparator: \",\"\n    tokenAuthStyle: "+style+
				"\n    tokenParams:\n      audience: \"{{inputs.tenant}}\"\n"))
			tok, err := testClient().ClientCredentials(context.Background(), in, "user-client", "user-secret", tenant)
			if err != nil {
				t.Fatal(err)
			}
			req := ep.only(t)
			if req.Path != "/acme/token" || req.Form.Get("grant_type") != "client_credentials" ||
				req.Form.Get("scope") != "a.read,a.write" || req.Form.Get("audience") != "acme" {
				t.Errorf("request: %s %v", req.Path, req.Form)
			}
			checkClientAuth(t, req, style, "user-client", "user-secret")
			if tok.AccessToken != "cc-at" {
				t.Errorf("token = %+v", tok)
			}
		})
	}
}

// Client credentials can always get a new token, so a response without
// expires_in is given an assumed lifetime; the user's client id and secret
// stay in the credential.
func TestRefreshClientCredentialsAssumesALifetime(t *testing.T) {
	ep := newTokenEndpoint(t, 200, `{"access_token":"cc-at-2","token_type":"bearer"}`)
	in := parse(t, ccManifest(ep.URL, ""))
	old := connection.Credential{AccessToken: "cc-at-1", ClientID: "user-client", ClientSecret: "user-secret", Inputs: tenant}
	before := time.Now()
	next, exp, err := testClient().Refresh(context.Background(), in, old)
	if err != nil {
		t.Fatal(err)
	}
	checkClientAuth(t, ep.only(t), "header", "user-client", "user-secret")
	if next.AccessToken != "cc-at-2" || next.ClientID != "user-client" || next.ClientSecret != "user-secret" {
		t.Errorf("credential = %+v", next)
	}
	if exp.Before(before.Add(oauth.AssumedLifetime)) || exp.After(time.Now().Add(oauth.AssumedLifetime)) {
		t.Errorf("expiry = %v, want AssumedLifetime after the exchange", exp)
	}
}

func TestClientCredentialsRefused(t *testing.T) {
	ep := newTokenEndpoint(t, 401, `{"error":"invalid_client","error_description":"bad secret"}`)
	in := parse(t, ccManifest(ep.URL, ""))
	_, err := testClient().ClientCredentials(context.Background(), in, "user-client", "user-secret", tenant)
	var pe *oauth.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_client" || pe.Description != "bad secret" || !oauth.NeedsReconnect(err) {
		t.Errorf("err = %v, want invalid_client", err)
	}
	if strings.Contains(err.Error(), "user-secret") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

// FromToken keeps the inputs and, for client credentials only, assumes a
// lifetime when the provider gave none.
func TestFromToken(t *testing.T) {
	tok := &oauth2.Token{AccessToken: "at", RefreshToken: "rt", TokenType: "bearer"}
	cred, exp := oauth.FromToken(tok, tenant, false)
	if cred.AccessToken != "at" || cred.RefreshToken != "rt" || cred.Inputs["tenant"] != "acme" || !exp.IsZero() {
		t.Errorf("FromToken = %+v, %v", cred, exp)
	}
	before := time.Now()
	if _, exp := oauth.FromToken(tok, nil, true); exp.Before(before.Add(oauth.AssumedLifetime)) || exp.After(time.Now().Add(oauth.AssumedLifetime)) {
		t.Errorf("assumed expiry = %v", exp)
	}
}

// A refresh token's own lifetime (refresh_token_expires_in, a number or a
// string) is kept with it; a rotated refresh token without one clears it,
// and an answer without a new refresh token keeps the old one's.
func TestRefreshTokenLifetime(t *testing.T) {
	soon := time.Now().Add(time.Hour)
	old := connection.Credential{AccessToken: "old-at", RefreshToken: "old-rt", RefreshExpiresAt: soon, Inputs: tenant}
	for _, tc := range []struct {
		name, answer string
		want         time.Duration // 0: none; -1: the old one's
	}{
		{"number", `{"access_token":"a","refresh_token":"r2","refresh_token_expires_in":15897600}`, 15897600 * time.Second},
		{"string", `{"access_token":"a","refresh_token":"r2","refresh_token_expires_in":"3600"}`, time.Hour},
		{"rotated without a lifetime", `{"access_token":"a","refresh_token":"r2"}`, 0},
		{"nonsense", `{"access_token":"a","refresh_token":"r2","refresh_token_expires_in":"soon"}`, 0},
		{"not rotated", `{"access_token":"a"}`, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := newTokenEndpoint(t, 200, tc.answer)
			in := parse(t, oauth2Manifest(ep.URL, ""))
			before := time.Now()
			next, _, err := testClient().Refresh(context.Background(), in, old)
			if err != nil {
				t.Fatal(err)
			}
			got := next.RefreshExpiresAt
			switch {
			case tc.want == -1 && !got.Equal(soon):
				t.Errorf("refresh token lifetime %v, want the old one's %v", got, soon)
			case tc.want == 0 && !got.IsZero():
				t.Errorf("refresh token lifetime %v, want none", got)
			case tc.want > 0 && (got.Before(before.Add(tc.want)) || got.After(time.Now().Add(tc.want))):
				t.Errorf("refresh token expires %v, want %v after the refresh", got, tc.want)
			}
		})
	}
}
