package gateway

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// Project is one app using the gateway: its id, the keys that verify its
// user tokens, and how the Connect Portal names it.
type Project struct {
	ID       string
	Verifier *usertoken.Verifier
	Name     string       // display name; the id when none is configured
	Logo     template.URL // data: URL of the logo image; empty for none
}

// ProjectConfig configures a project.
type ProjectConfig struct {
	ID   string
	Keys []usertoken.PublicKey
	// Name is the app's name as end users know it, shown on every portal
	// page that connects an account ("Connecting Acme CRM to <Name> as
	// <account>"). Empty: the project id.
	Name string
	// Logo is the path of the app's logo (PNG, JPEG, GIF, WebP or SVG, at
	// most MaxLogoBytes), shown next to the name. Empty: no logo.
	Logo string
}

// DefaultMaxUserTokenLifetime is the longest a user token may live unless
// Config.MaxUserTokenLifetime says otherwise. Apps mint tokens for a session
// of their own (the SDK's docs suggest about an hour) and the token travels
// in the OAuth popup's URL, where browser history and logs can keep it: a
// day covers long sessions without accepting tokens that never expire.
const DefaultMaxUserTokenLifetime = 24 * time.Hour

// Error codes of user-token authentication.
const (
	CodeProjectNotFound = "project_not_found"
	CodeTokenMissing    = "token_missing"
	CodeTokenInvalid    = "token_invalid"
	CodeTokenExpired    = "token_expired"
	// CodeTokenLifetime: exp is further from iat (or from now) than
	// Config.MaxUserTokenLifetime allows.
	CodeTokenLifetime = "token_lifetime_exceeded"
)

// user is an authenticated end user of a project.
type user struct {
	project *Project
	id      string
	account string // display: see accountLabel
}

// authError is why a user token was refused.
type authError struct {
	status        int
	code, message string
}

// verifyUser checks a user token for a project.
func (s *Server) verifyUser(projectID, token string) (user, *authError) {
	p, ok := s.projects[projectID]
	if !ok {
		return user{}, &authError{http.StatusNotFound, CodeProjectNotFound, "no project " + quoteID(projectID) + " on this gateway"}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return user{}, &authError{http.StatusUnauthorized, CodeTokenMissing, "send the user token as Authorization: Bearer <token>"}
	}
	claims, err := p.Verifier.Verify(token)
	if err != nil {
		code, msg := CodeTokenInvalid, "user token refused: "+err.Error()
		switch {
		case errors.Is(err, usertoken.ErrExpired):
			code = CodeTokenExpired
		case errors.Is(err, usertoken.ErrLifetime):
			code = CodeTokenLifetime
			msg += "; user tokens travel in popup URLs, so mint them short-lived (this gateway's limit is --max-user-token-lifetime)"
		}
		return user{}, &authError{http.StatusUnauthorized, code, msg}
	}
	return user{project: p, id: claims.Subject, account: accountLabel(claims)}, nil
}

// maxDisplayRunes caps names shown on portal pages.
const maxDisplayRunes = 80

// accountLabel is how portal pages name the end user whose account is being
// connected: the token's name and email when present, else its subject.
func accountLabel(c usertoken.Claims) string {
	name, email := displayText(c.Name), displayText(c.Email)
	switch {
	case name != "" && email != "" && name != email:
		return name + " (" + email + ")"
	case name != "":
		return name
	case email != "":
		return email
	}
	if sub := displayText(c.Subject); sub != "" {
		return sub
	}
	return "an unnamed account"
}

// displayText makes a claim safe to show as a name: no control or format
// characters (bidirectional overrides, zero-width joiners could make one
// name look like another), whitespace collapsed, at most maxDisplayRunes.
func displayText(s string) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			continue
		}
		if n >= maxDisplayRunes {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// authenticate verifies the bearer user token of a request to
// /projects/{pid}/…. On failure it writes the JSON error and returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, projectID string) (user, bool) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	u, fail := s.verifyUser(projectID, token)
	if fail != nil {
		if fail.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plugboard", error="invalid_token"`)
		}
		writeError(w, fail.status, fail.code, fail.message)
		return user{}, false
	}
	return u, true
}

// quoteID quotes an id from a URL for a message, shortened and made printable.
func quoteID(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, s) + `"`
}

// MaxLogoBytes is the largest project logo accepted. The logo is inlined
// (a data: URL) into every portal page that names the app.
const MaxLogoBytes = 64 << 10

// loadLogo reads a project logo into a data: URL. Only regular files, read
// through a limit; the type comes from the content (SVG: from the .svg
// extension and an <svg element), never from what the file claims.
func loadLogo(path string) (template.URL, error) {
	// Stat before opening: opening a FIFO would block until a writer came.
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if opened, err := f.Stat(); err != nil || !os.SameFile(fi, opened) {
		return "", fmt.Errorf("%s changed while it was read", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxLogoBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxLogoBytes {
		return "", fmt.Errorf("%s is larger than %d KiB", path, MaxLogoBytes>>10)
	}
	ct := http.DetectContentType(b)
	switch {
	case ct == "image/png", ct == "image/jpeg", ct == "image/gif", ct == "image/webp":
	case strings.EqualFold(filepath.Ext(path), ".svg") && bytes.Contains(b, []byte("<svg")):
		// Shown with <img>, where an SVG runs no script.
		ct = "image/svg+xml"
	default:
		return "", fmt.Errorf("%s is not a PNG, JPEG, GIF, WebP or SVG image (content looks like %s)", path, ct)
	}
	return template.URL("data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(b)), nil
}
