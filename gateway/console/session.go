package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/seal"
)

// SessionLifetime is how long a console sign-in lasts.
const SessionLifetime = 8 * time.Hour

const cookieBase = "plugboard_console"

// session is a signed-in operator: a random id (the CSRF token derives
// from it) and an expiry. The cookie holds it sealed, never the admin token.
type session struct {
	ID      string
	Expires time.Time
}

// CSRF is the token every state-changing form carries: derived from the
// session's id, so it is bound to that session and useless without it.
func (s session) CSRF() string {
	h := sha256.Sum256([]byte("plugboard console csrf\x00" + s.ID))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// sessions seals and opens session cookies: with the gateway's keyring
// when there is one (sessions survive restarts and work on every
// replica), otherwise with an HMAC key made at startup. Either way the
// admin token is mixed in, so changing it ends every session.
type sessions struct {
	keyring *seal.Keyring
	key     []byte // HMAC key when keyring is nil
	aad     []byte // a hash of the admin token
	secure  bool   // HTTPS: Secure and the __Host- prefix
}

func newSessions(kr *seal.Keyring, adminToken string, secure bool) *sessions {
	aad := sha256.Sum256([]byte("plugboard console session\x00" + adminToken))
	s := &sessions{keyring: kr, aad: aad[:], secure: secure}
	if kr == nil {
		s.key = make([]byte, 32)
		_, _ = rand.Read(s.key)
	}
	return s
}

func (c *sessions) name() string {
	if c.secure {
		return "__Host-" + cookieBase
	}
	return cookieBase
}

func (c *sessions) path() string {
	if c.secure {
		return "/" // what __Host- requires
	}
	return "/admin/"
}

func (c *sessions) seal(s session) string {
	payload := s.ID + "." + strconv.FormatInt(s.Expires.Unix(), 10)
	if c.keyring != nil {
		return c.keyring.Seal([]byte(payload), c.aad)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + c.mac(payload)
}

func (c *sessions) mac(payload string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write(c.aad)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errNoSession = errors.New("not signed in")

func (c *sessions) open(value string, now time.Time) (session, error) {
	var payload string
	if c.keyring != nil {
		b, err := c.keyring.Open(value, c.aad)
		if err != nil {
			return session{}, errNoSession
		}
		payload = string(b)
	} else {
		enc, mac, ok := strings.Cut(value, ".")
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if !ok || err != nil || !hmac.Equal([]byte(mac), []byte(c.mac(string(b)))) {
			return session{}, errNoSession
		}
		payload = string(b)
	}
	id, exp, ok := strings.Cut(payload, ".")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || id == "" {
		return session{}, errNoSession
	}
	s := session{ID: id, Expires: time.Unix(unix, 0)}
	if !now.Before(s.Expires) {
		return session{}, errNoSession
	}
	return s, nil
}

func (c *sessions) set(w http.ResponseWriter, s session, now time.Time) {
	http.SetCookie(w, &http.Cookie{Name: c.name(), Value: c.seal(s), Path: c.path(), MaxAge: int(s.Expires.Sub(now).Seconds()),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

func (c *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: c.name(), Value: "", Path: c.path(), MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

func (c *sessions) from(r *http.Request, now time.Time) (session, error) {
	ck, err := r.Cookie(c.name())
	if err != nil {
		return session{}, errNoSession
	}
	return c.open(ck.Value, now)
}

func newSessionID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
