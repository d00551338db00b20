package connect

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/seal"
)

func testKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	entry, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// With an HTTPS public URL every cookie the gateway sets has the __Host-
// prefix, which the browser only accepts Secure, with Path=/ and no Domain:
// a sibling subdomain cannot plant or shadow it. (The browser tests run on
// http, so this checks the cookie-setting code directly.)
func TestCookiesUseHostPrefixOnHTTPS(t *testing.T) {
	for _, tc := range []struct {
		publicURL, prefix string
		secure            bool
	}{
		{"https://connect.example.com", "__Host-", true},
		{"http://127.0.0.1:8080", "", false},
	} {
		t.Run(tc.publicURL, func(t *testing.T) {
			s := (&Flows{PublicURL: tc.publicURL, Keyring: testKeyring(t)}).cookies()
			rec := httptest.NewRecorder()
			sess := portalSession{ProjectID: "dev", UserID: "u", IntegrationID: "fakekey", CSRF: "c", Expires: time.Now().Add(time.Minute)}
			if err := s.setSession(rec, sess); err != nil {
				t.Fatal(err)
			}
			binding := s.browserBinding(rec, httptest.NewRequest("GET", "/", nil))
			s.endSession(rec)
			cookies := rec.Result().Cookies()
			if len(cookies) != 3 {
				t.Fatalf("cookies: %v", rec.Header().Values("Set-Cookie"))
			}
			for i, want := range []string{"pb_portal", "pb_oauth", "pb_portal"} {
				c := cookies[i]
				if c.Name != tc.prefix+want || c.Secure != tc.secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
					t.Errorf("cookie %d: %s", i, rec.Header().Values("Set-Cookie")[i])
				}
			}
			if cookies[2].MaxAge >= 0 {
				t.Error("endSession does not delete the cookie")
			}
			// The gateway reads back what it set, under the same name.
			req := httptest.NewRequest("GET", "/connect/portal/fakekey", nil)
			req.AddCookie(cookies[0])
			req.AddCookie(cookies[1])
			if got, err := s.session(req); err != nil || got.UserID != "u" {
				t.Errorf("session read back: %+v, %v", got, err)
			}
			if s.browserBinding(httptest.NewRecorder(), req) != binding {
				t.Error("binding not read back")
			}
			// A cookie under the other name is not taken for the session.
			other := httptest.NewRequest("GET", "/", nil)
			other.AddCookie(&http.Cookie{Name: strings.TrimPrefix("__Host-pb_portal", tc.prefix), Value: cookies[0].Value})
			if tc.prefix != "" {
				other = httptest.NewRequest("GET", "/", nil)
				other.AddCookie(&http.Cookie{Name: "pb_portal", Value: cookies[0].Value}) // planted by a sibling subdomain
			}
			if _, err := s.session(other); err == nil && tc.prefix != "" {
				t.Error("an unprefixed cookie is read on HTTPS")
			}
		})
	}
}

func TestConstantEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"csrf-token", "csrf-token", true},
		{"csrf-token", "csrf-tokeN", false},
		{"csrf", "csrf-token", false},
		{"", "", false}, // an empty expected value never matches
		{"x", "", false},
	} {
		if got := constantEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("constantEqual(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
