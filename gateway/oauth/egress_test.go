package oauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/manifest"
)

// recorder is a real server on 127.0.0.1 that records every request body.
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newRecorder(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(b))
		rec.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// integration compiles a manifest with every URL on base.
func integration(t *testing.T, authType, base string) *manifest.Integration {
	t.Helper()
	var auth string
	if authType == "oauth2" {
		auth = `auth:
  type: oauth2
  oauth2:
    authorizationUrl: ` + base + `/authorize
    tokenUrl: ` + base + `/token
    revocationUrl: ` + base + `/revoke
    clientId: the-client
    clientSecret: ${CLIENT_SECRET}
    tokenAuthStyle: body
`
	} else {
		auth = `auth:
  type: oauth2_client_credentials
  clientCredentials:
    tokenUrl: ` + base + `/token
`
	}
	dir := t.TempDir()
	body := "id: acme\nname: Acme\ndescription: test\n" + auth + "api:\n  baseUrl: " + base + "/api\n  testEndpoint: /me\n"
	if err := os.WriteFile(filepath.Join(dir, "acme.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := manifest.LoadPaths([]string{dir}, manifest.Options{ResolveSecrets: true, Secrets: manifest.SecretResolver{
		LookupEnv: func(string) (string, bool) { return "top-secret-client-secret", true }}})
	if err != nil {
		t.Fatal(err)
	}
	ins := res.Integrations()
	if len(ins) != 1 {
		t.Fatalf("manifest: %v", res.Problems())
	}
	return ins[0]
}

func loopbackAllowed() *egress.Guard {
	allow, _ := egress.ParseAllow("127.0.0.0/8")
	return &egress.Guard{Policy: egress.Policy{Allow: allow}}
}

// every OAuth call the gateway makes, against the manifest's endpoints.
func calls(c oauth.Client, oauthIn, ccIn *manifest.Integration) map[string]func() error {
	ctx := context.Background()
	cred := connection.Credential{AccessToken: "the-access-token", RefreshToken: "the-refresh-token"}
	return map[string]func() error{
		"code exchange": func() error {
			_, err := c.Exchange(ctx, oauthIn, nil, "https://gw.example/oauth/callback", "the-code", "the-verifier-0123456789012345678901234567890")
			return err
		},
		"refresh": func() error { _, _, err := c.Refresh(ctx, oauthIn, cred); return err },
		"client credentials": func() error {
			_, err := c.ClientCredentials(ctx, ccIn, "user-client", "user-client-secret", nil)
			return err
		},
		"revocation": func() error { return c.Revoke(ctx, oauthIn, cred) },
	}
}

// A token endpoint that answers 307 (or 308) must not get the secret, the
// code and the verifier re-posted to the Location it names.
func TestOAuthCallsNeverFollowRedirects(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		second := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"stolen","token_type":"bearer"}`)
		})
		first := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, second.URL+r.URL.Path, status)
		})
		c := oauth.Client{HTTP: oauth.NewHTTPClient(loopbackAllowed(), 0)}
		for name, call := range calls(c, integration(t, "oauth2", first.URL), integration(t, "cc", first.URL)) {
			err := call()
			if !errors.Is(err, oauth.ErrRedirect) {
				t.Errorf("%d, %s: err = %v, want ErrRedirect", status, name, err)
			}
		}
		if got := first.got(); len(got) != 4 {
			t.Errorf("%d: first server got %d requests, want 4: %q", status, len(got), got)
		}
		if got := second.got(); len(got) != 0 {
			t.Errorf("%d: the redirect target received %q; it must receive nothing", status, got)
		}
	}
}

// Even a caller-built client that follows redirects does not.
func TestOAuthRefusesRedirectsWithAnyClient(t *testing.T) {
	second := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {})
	first := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, second.URL+"/token", http.StatusTemporaryRedirect)
	})
	c := oauth.Client{HTTP: &http.Client{Transport: loopbackAllowed().NewTransport()}}
	_, _, err := c.Refresh(context.Background(), integration(t, "oauth2", first.URL), connection.Credential{RefreshToken: "rt"})
	if !errors.Is(err, oauth.ErrRedirect) || len(second.got()) != 0 {
		t.Errorf("err = %v, second got %q", err, second.got())
	}
}

// With the default policy, token and revocation endpoints on loopback (or
// resolving to it) are refused before anything is sent.
func TestOAuthCallsGoThroughTheEgressGuard(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {})
	for clientName, c := range map[string]oauth.Client{
		"nil client":     {},
		"default policy": {HTTP: oauth.NewHTTPClient(&egress.Guard{}, 0)},
	} {
		for name, call := range calls(c, integration(t, "oauth2", srv.URL), integration(t, "cc", srv.URL)) {
			if err := call(); !egress.IsRefused(err) {
				t.Errorf("%s, %s: err = %v, want an egress refusal", clientName, name, err)
			}
		}
	}
	if got := srv.got(); len(got) != 0 {
		t.Errorf("the loopback endpoint received %q", got)
	}
}

// The errors say what happened without leaking the client secret.
func TestOAuthRefusalErrorsCarryNoSecret(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {})
	c := oauth.Client{}
	for name, call := range calls(c, integration(t, "oauth2", srv.URL), integration(t, "cc", srv.URL)) {
		err := call()
		if err == nil || strings.Contains(err.Error(), "top-secret") || strings.Contains(err.Error(), "refresh-token") {
			t.Errorf("%s: %v", name, err)
		}
		var re *egress.RefusedError
		if errors.As(err, &re) && re.Addr.Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("%s: refused %s, want 127.0.0.1", name, re.Addr)
		}
	}
}
