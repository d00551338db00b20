package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/seal"
)

// On HTTPS the session cookie is __Host-, Secure, Path=/.
func TestSignInCookieOnHTTPS(t *testing.T) {
	c := New(Options{Token: "console-admin-token-123456", Secure: true})
	mux := routes.New()
	c.Register(mux)
	req := httptest.NewRequest("POST", "https://gw.example.com/admin/sign-in", strings.NewReader(url.Values{"token": {"console-admin-token-123456"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	mux.Mux().ServeHTTP(rec, req)
	ck := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"__Host-plugboard_console=", "Path=/;", "Secure", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %q", ck, want)
		}
	}
	if rec.Code != http.StatusSeeOther || strings.Contains(ck, "console-admin-token-123456") {
		t.Errorf("sign-in: %d %q", rec.Code, ck)
	}
}

// A session opens until it expires, and only with the admin token it was
// made under; with or without a keyring.
func TestSessionSealing(t *testing.T) {
	entry, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.ParseKeyring(entry)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	for name, ring := range map[string]*seal.Keyring{"keyring": kr, "startup key": nil} {
		s := newSessions(ring, "token-one-0123456789", false)
		sealed := s.seal(session{ID: "abc", Expires: now.Add(time.Hour)})
		if got, err := s.open(sealed, now); err != nil || got.ID != "abc" {
			t.Errorf("%s: open: %v %v", name, got, err)
		}
		if _, err := s.open(sealed, now.Add(time.Hour)); err == nil {
			t.Errorf("%s: an expired session opened", name)
		}
		if _, err := s.open(sealed[:len(sealed)-2]+"xx", now); err == nil {
			t.Errorf("%s: a tampered session opened", name)
		}
		other := newSessions(ring, "token-two-0123456789", false)
		other.key = s.key
		if _, err := other.open(sealed, now); err == nil {
			t.Errorf("%s: a session opened after the admin token changed", name)
		}
	}
}
