package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// A portal session says which user may connect which integration in this
// browser. It lives in a cookie, sealed (AES-GCM) with the gateway's
// encryption key, so it needs no server state and cannot be forged or read.
type portalSession struct {
	ProjectID     string    `json:"p"`
	UserID        string    `json:"u"`
	IntegrationID string    `json:"i"`
	CredentialID  string    `json:"c,omitempty"` // reconnect this one
	Opener        string    `json:"o,omitempty"` // app origin to post the result to (already allowed)
	Session       string    `json:"s,omitempty"` // SDK session key: the flow runs in the SDK's popup
	Account       string    `json:"a,omitempty"` // whose account: the user token's name/email, else sub (display only)
	CSRF          string    `json:"x"`
	Expires       time.Time `json:"e"`
}

// Cookie names, before the __Host- prefix added on HTTPS (cookieName).
const (
	sessionCookie   = "pb_portal"
	bindingCookie   = "pb_oauth"
	sessionLifetime = 30 * time.Minute
	// Connect links and OAuth states are short-lived and single-use.
	linkLifetime  = 10 * time.Minute
	stateLifetime = 10 * time.Minute
)

var sessionAAD = []byte("plugboard portal session")

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (s *Server) secureCookies() bool { return strings.HasPrefix(s.cfg.PublicURL, "https://") }

// cookieName is a cookie's name on this gateway: with the __Host- prefix
// when the public URL is HTTPS, so that the browser only accepts it Secure,
// for Path=/ and without Domain (no sibling subdomain can set or shadow it).
func (s *Server) cookieName(base string) string {
	if s.secureCookies() {
		return "__Host-" + base
	}
	return base
}

// setCookie sets one of the gateway's cookies: HttpOnly, SameSite=Lax,
// Path=/ (what __Host- requires), Secure on HTTPS. maxAge < 0 deletes it.
func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}

func (s *Server) setSession(w http.ResponseWriter, sess portalSession) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	s.setCookie(w, sessionCookie, s.keyring.Seal(b, sessionAAD), int(sessionLifetime.Seconds()))
	return nil
}

// endSession removes the portal session cookie (after a successful
// connect: the session has done its work and must not connect again).
func (s *Server) endSession(w http.ResponseWriter) { s.setCookie(w, sessionCookie, "", -1) }

var errNoSession = errors.New("no portal session")

func (s *Server) session(r *http.Request) (portalSession, error) {
	var sess portalSession
	c, err := r.Cookie(s.cookieName(sessionCookie))
	if err != nil {
		return sess, errNoSession
	}
	b, err := s.keyring.Open(c.Value, sessionAAD)
	if err != nil {
		return sess, errNoSession
	}
	if err := json.Unmarshal(b, &sess); err != nil || time.Now().After(sess.Expires) {
		return sess, errNoSession
	}
	return sess, nil
}

// sameUser reports whether two sessions connect for the same end user.
func (a portalSession) sameUser(b portalSession) bool {
	return a.ProjectID == b.ProjectID && a.UserID == b.UserID
}

// browserBinding returns this browser's OAuth binding nonce, setting the
// cookie if the browser has none yet. The OAuth state records its hash, and
// the callback must come from a browser holding the same nonce. The nonce
// names no user: whose account is connected is in the state, which only
// the portal form (after naming the account) creates.
func (s *Server) browserBinding(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.cookieName(bindingCookie)); err == nil && len(c.Value) >= 43 {
		return c.Value
	}
	v := randomToken(32)
	s.setCookie(w, bindingCookie, v, int(stateLifetime.Seconds())*3)
	return v
}

// sameBrowser checks the OAuth state's browser binding.
func (s *Server) sameBrowser(r *http.Request, st oauthState) bool {
	c, err := r.Cookie(s.cookieName(bindingCookie))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashToken(c.Value)), []byte(st.Binding)) == 1
}
