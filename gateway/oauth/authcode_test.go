package oauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

const verifier = "the-verifier-0123456789012345678901234567890-abcdef"

// authURL renders the authorization URL and parses it.
func authURL(t *testing.T, yaml string, inputs map[string]string) *url.URL {
	t.Helper()
	raw, err := testClient().AuthCodeURL(parse(t, yaml), inputs, "https://gw.example/oauth/callback", "the-state", verifier)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAuthCodeURL(t *testing.T) {
	u := authURL(t, oauth2Manifest("https://idp.example", `    scopes: [read, write, admin]
    scopeSeparator: ","
    authorizationParams:
      prompt: consent
      audience: "{{inputs.tenant}}-api"
`), tenant)
	if u.Scheme != "https" || u.Host != "idp.example" || u.Path != "/acme/authorize" {
		t.Errorf("URL = %s, want https://idp.example/acme/authorize", u)
	}
	sum := sha256.Sum256([]byte(verifier))
	q := u.Query()
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             "app-client",
		"redirect_uri":          "https://gw.example/oauth/callback",
		"state":                 "the-state",
		"scope":                 "read,write,admin",
		"code_challenge":        base64.RawURLEncoding.EncodeToString(sum[:]),
		"code_challenge_method": "S256",
		"prompt":                "consent",
		"audience":              "acme-api",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for k := range q {
		if k == "code_verifier" || k == "client_secret" {
			t.Errorf("the authorization URL carries %s", k)
		}
	}
	if strings.Contains(u.String(), clientSecret) || strings.Contains(u.String(), verifier) {
		t.Errorf("the authorization URL leaks the secret or the verifier: %s", u)
	}
}

func TestAuthCodeURLDefaults(t *testing.T) {
	u := authURL(t, oauth2Manifest("https://idp.example", "    scopes: [read, write]\n"), tenant)
	if got := u.Query().Get("scope"); got != "read write" {
		t.Errorf("scope = %q, want the default space separator", got)
	}
	u = authURL(t, oauth2Manifest("https://idp.example", ""), tenant)
	if u.Query().Has("scope") {
		t.Errorf("scope sent without scopes: %s", u)
	}
}

func TestAuthCodeURLWithoutPKCE(t *testing.T) {
	q := authURL(t, oauth2Manifest("https://idp.example", "    pkce: false\n"), tenant).Query()
	if q.Has("code_challenge") || q.Has("code_challenge_method") {
		t.Errorf("PKCE parameters with pkce: false: %v", q)
	}
}

// An input lands in the URL escaped for where it goes: it cannot add path
// segments or query parameters.
func TestAuthCodeURLEscapesInputs(t *testing.T) {
	u := authURL(t, oauth2Manifest("https://idp.example", "    authorizationParams:\n      audience: \"{{inputs.tenant}}\"\n"),
		map[string]string{"tenant": "a/../b?x=1&state=evil"})
	if u.Host != "idp.example" || u.EscapedPath() != "/a%2F..%2Fb%3Fx=1&state=evil/authorize" {
		t.Errorf("URL = %s: the input escaped its path segment", u)
	}
	if q := u.Query(); q.Get("state") != "the-state" || len(q["state"]) != 1 || q.Get("audience") != "a/../b?x=1&state=evil" || q.Has("x") {
		t.Errorf("query = %v", q)
	}
}

func TestAuthCodeURLMissingInput(t *testing.T) {
	_, err := testClient().AuthCodeURL(parse(t, oauth2Manifest("https://idp.example", "")), nil, "https://gw.example/cb", "s", verifier)
	if err == nil || !strings.Contains(err.Error(), "tenant") {
		t.Errorf("err = %v, want one naming the missing input", err)
	}
}
