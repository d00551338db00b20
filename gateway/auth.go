package gateway

import (
	"errors"
	"net/http"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// Project is one app using the gateway: its id and the keys that verify its
// user tokens.
type Project struct {
	ID       string
	Verifier *usertoken.Verifier
}

// ProjectConfig configures a project.
type ProjectConfig struct {
	ID   string
	Keys []usertoken.PublicKey
}

// Error codes of user-token authentication.
const (
	CodeProjectNotFound = "project_not_found"
	CodeTokenMissing    = "token_missing"
	CodeTokenInvalid    = "token_invalid"
	CodeTokenExpired    = "token_expired"
)

// user is an authenticated end user of a project.
type user struct {
	project *Project
	id      string
}

// authenticate verifies the user token of a request to /projects/{pid}/….
// On failure it writes the error and returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, projectID string) (user, bool) {
	p, ok := s.projects[projectID]
	if !ok {
		writeError(w, http.StatusNotFound, CodeProjectNotFound, "no project "+quoteID(projectID)+" on this gateway")
		return user{}, false
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="plugboard"`)
		writeError(w, http.StatusUnauthorized, CodeTokenMissing, "send the user token as Authorization: Bearer <token>")
		return user{}, false
	}
	claims, err := p.Verifier.Verify(strings.TrimSpace(token))
	if err != nil {
		code := CodeTokenInvalid
		if errors.Is(err, usertoken.ErrExpired) {
			code = CodeTokenExpired
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="plugboard", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, code, "user token refused: "+err.Error())
		return user{}, false
	}
	return user{project: p, id: claims.Subject}, true
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
