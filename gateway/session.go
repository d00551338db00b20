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
	CSRF          string    `json:"x"`
	Expires       time.Time `json:"e"`
}

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

func (s *Server) setSession(w http.ResponseWriter, sess portalSession) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.keyring.Seal(b, sessionAAD), Path: "/connect/",
		MaxAge: int(sessionLifetime.Seconds()), HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	return nil
}

var errNoSession = errors.New("no portal session")

func (s *Server) session(r *http.Request) (portalSession, error) {
	var sess portalSession
	c, err := r.Cookie(sessionCookie)
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

// browserBinding returns this browser's OAuth binding nonce, setting the
// cookie if the browser has none yet. The OAuth state records its hash, and
// the callback must come from a browser holding the same nonce.
func (s *Server) browserBinding(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(bindingCookie); err == nil && len(c.Value) >= 43 {
		return c.Value
	}
	v := randomToken(32)
	http.SetCookie(w, &http.Cookie{Name: bindingCookie, Value: v, Path: "/oauth/",
		MaxAge: int(stateLifetime.Seconds()) * 3, HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	return v
}

// sameBrowser checks the OAuth state's browser binding: the random nonce
// cookie of portal flows, or, for flows the SDK starts (its build-oauth call
// comes from the app's page, which cannot see the gateway's cookies), the
// user cookie its popup's first page set.
func (s *Server) sameBrowser(r *http.Request, st oauthState) bool {
	if user, ok := strings.CutPrefix(st.Binding, "user:"); ok {
		c, err := r.Cookie(userBindingCookie)
		if err != nil {
			return false
		}
		b, err := s.keyring.Open(c.Value, userBindingAAD)
		return err == nil && subtle.ConstantTimeCompare([]byte(hashToken(string(b))), []byte(user)) == 1
	}
	c, err := r.Cookie(bindingCookie)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashToken(c.Value)), []byte(st.Binding)) == 1
}

const userBindingCookie = "pb_oauth_user"

var userBindingAAD = []byte("plugboard oauth user binding")

func userBindingValue(projectID, userID string) string { return projectID + "\x00" + userID }

// bindUser marks this browser as the user's for SDK-started OAuth flows.
func (s *Server) bindUser(w http.ResponseWriter, projectID, userID string) {
	http.SetCookie(w, &http.Cookie{Name: userBindingCookie, Value: s.keyring.Seal([]byte(userBindingValue(projectID, userID)), userBindingAAD),
		Path: "/oauth/", MaxAge: int(stateLifetime.Seconds()) * 3, HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}
