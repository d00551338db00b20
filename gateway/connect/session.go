package connect

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/plugboardhq/plugboard/gateway/seal"
)

// A portal session says which user may connect which integration in this
// browser. It lives in a cookie, sealed (AES-GCM) with the gateway's
// encryption key, so it needs no server state and cannot be forged or read.
type portalSession struct {
	ProjectID     string `json:"p"`
	UserID        string `json:"u"`
	IntegrationID string `json:"i"`
	CredentialID  string `json:"c,omitempty"` // reconnect this one
	Opener        string `json:"o,omitempty"` // app origin to post the result to (already allowed)
	Session       string `json:"s,omitempty"` // SDK session key: the flow runs in the SDK's popup
	Account       string `json:"a,omitempty"` // whose account: the user token's name/email, else sub (display only)
	ReturnURL     string `json:"r,omitempty"` // app page the result links back to in a tab (already allowed)
	// Manage: the session replaced a connect session after it connected;
	// it may choose the integration's workflows, never connect again.
	Manage  bool      `json:"m,omitempty"`
	CSRF    string    `json:"x"`
	Expires time.Time `json:"e"`
}

// flow is what the pages at the end of the session's flow need.
func (a portalSession) flow() flowContext {
	return flowContext{ProjectID: a.ProjectID, Account: accountOf(a), Opener: a.Opener, Session: a.Session, ReturnURL: a.ReturnURL}
}

// sameUser reports whether two sessions connect for the same end user.
func (a portalSession) sameUser(b portalSession) bool {
	return a.ProjectID == b.ProjectID && a.UserID == b.UserID
}

// Cookie names, before the __Host- prefix added on HTTPS (cookies.name).
const (
	sessionCookie   = "pb_portal"
	bindingCookie   = "pb_oauth"
	sessionLifetime = 30 * time.Minute
)

var sessionAAD = []byte("plugboard portal session")

var errNoSession = errors.New("no portal session")

// cookies sets and reads the gateway's two browser cookies: the sealed
// portal session and the OAuth browser binding.
type cookies struct {
	secure  bool // the public URL is HTTPS
	keyring *seal.Keyring
}

// name is a cookie's name on this gateway: with the __Host- prefix when
// the public URL is HTTPS, so that the browser only accepts it Secure, for
// Path=/ and without Domain (no sibling subdomain can set or shadow it).
func (c cookies) name(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

// set sets one of the gateway's cookies: HttpOnly, SameSite=Lax, Path=/
// (what __Host- requires), Secure on HTTPS. maxAge < 0 deletes it.
func (c cookies) set(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: c.name(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

func (c cookies) setSession(w http.ResponseWriter, sess portalSession) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	c.set(w, sessionCookie, c.keyring.Seal(b, sessionAAD), int(sessionLifetime.Seconds()))
	return nil
}

// endSession removes the portal session cookie (after a successful
// connect: the session has done its work and must not connect again).
func (c cookies) endSession(w http.ResponseWriter) { c.set(w, sessionCookie, "", -1) }

func (c cookies) session(r *http.Request) (portalSession, error) {
	var sess portalSession
	ck, err := r.Cookie(c.name(sessionCookie))
	if err != nil {
		return sess, errNoSession
	}
	b, err := c.keyring.Open(ck.Value, sessionAAD)
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
// the callback must come from a browser holding the same nonce. The nonce
// names no user: whose account is connected is in the state, which only
// the portal form (after naming the account) creates.
func (c cookies) browserBinding(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(c.name(bindingCookie)); err == nil && len(ck.Value) >= 43 {
		return ck.Value
	}
	v := randomToken(32)
	c.set(w, bindingCookie, v, int(stateLifetime.Seconds())*3)
	return v
}

// sameBrowser checks an OAuth state's browser binding.
func (c cookies) sameBrowser(r *http.Request, binding string) bool {
	ck, err := r.Cookie(c.name(bindingCookie))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashToken(ck.Value)), []byte(binding)) == 1
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// constantEqual compares a secret a request sent with the one expected in
// time independent of where they differ: both are hashed to fixed-length
// digests first (ConstantTimeCompare returns at once on different lengths).
func constantEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
