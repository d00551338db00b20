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
		code := CodeTokenInvalid
		if errors.Is(err, usertoken.ErrExpired) {
			code = CodeTokenExpired
		}
		return user{}, &authError{http.StatusUnauthorized, code, "user token refused: " + err.Error()}
	}
	return user{project: p, id: claims.Subject}, nil
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
