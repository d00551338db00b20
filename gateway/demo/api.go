package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// caller is who a demo API request authenticated as, and how.
type caller struct {
	User    string    `json:"user"`
	Auth    string    `json:"auth"` // api_key, basic, oauth2, client_credentials
	Expires time.Time `json:"-"`
	Token   string    `json:"-"`
}

// authenticate checks a demo API request's credential as a real API does:
// X-Api-Key: demo-key-<user>, HTTP Basic <user>:demo-password, or a bearer
// access token from the demo authorization server.
func (s *Server) authenticate(r *http.Request) (caller, string) {
	if key := r.Header.Get("X-Api-Key"); key != "" {
		user, ok := strings.CutPrefix(key, APIKeyPrefix)
		if !ok || !userRE.MatchString(user) {
			return caller{}, "the API key is not valid (demo keys look like " + APIKeyPrefix + "ada)"
		}
		return caller{User: user, Auth: "api_key"}, ""
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if !userRE.MatchString(user) || pass != BasicPassword {
			return caller{}, "wrong user name or password (every demo user's password is " + BasicPassword + ")"
		}
		return caller{User: user, Auth: "basic"}, ""
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return caller{}, "no credential: send X-Api-Key, HTTP Basic or a bearer access token"
	}
	g, ok := s.grants.live(kindAccess, tok, s.Now())
	if !ok {
		return caller{}, "the access token is invalid, expired or revoked"
	}
	c := caller{User: g.subject, Auth: "oauth2", Expires: g.expires, Token: tok}
	if strings.HasPrefix(g.subject, "client:") {
		c.Auth = "client_credentials"
	}
	return c, ""
}

// api wraps a demo API handler with authentication: a missing or wrong
// credential gets 401 with a JSON error, as from a real API.
func (s *Server) api(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, problem := s.authenticate(r)
		if problem != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plugboard demo", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "message": problem})
			return
		}
		h(w, r, c)
	}
}

// me is GET /demo/api/me: who the credential belongs to. For bearer tokens
// it also says when the token expires and ends with the token's last
// characters, so a refresh can be seen.
func (s *Server) me(w http.ResponseWriter, r *http.Request, c caller) {
	body := map[string]any{"user": c.User, "name": displayName(c.User), "auth": c.Auth}
	if c.Token != "" {
		body["token"] = map[string]any{"endsWith": c.Token[len(c.Token)-6:], "expiresAt": c.Expires.UTC().Format(time.RFC3339),
			"expiresIn": int(c.Expires.Sub(s.Now()).Round(time.Second) / time.Second)}
	}
	writeJSON(w, http.StatusOK, body)
}

func displayName(user string) string {
	if u, ok := strings.CutPrefix(user, "client:"); ok {
		return "Service account " + u
	}
	return strings.ToUpper(user[:1]) + user[1:]
}

// project is one item of the demo API's /projects.
type project struct {
	ID      int       `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// projectStore keeps each user's projects, bounded in users and projects.
type projectStore struct {
	mu       sync.Mutex
	maxUsers int
	maxEach  int
	byUser   map[string][]project
}

func newProjectStore(maxUsers, maxEach int) *projectStore {
	return &projectStore{maxUsers: maxUsers, maxEach: maxEach, byUser: map[string][]project{}}
}

// list returns user's projects, seeding two for a user seen first.
func (p *projectStore) list(user string, now time.Time) []project {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]project(nil), p.seedLocked(user, now)...)
}

func (p *projectStore) seedLocked(user string, now time.Time) []project {
	if ps, ok := p.byUser[user]; ok {
		return ps
	}
	if len(p.byUser) >= p.maxUsers {
		// Forget someone: the demo is not a database.
		users := make([]string, 0, len(p.byUser))
		for u := range p.byUser {
			users = append(users, u)
		}
		sort.Strings(users)
		delete(p.byUser, users[0])
	}
	ps := []project{{1, "Analytical Engine", now}, {2, "Compiler", now}}
	p.byUser[user] = ps
	return ps
}

// add creates a project; false when the user has the most allowed.
func (p *projectStore) add(user, name string, now time.Time) (project, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.seedLocked(user, now)
	if len(ps) >= p.maxEach {
		return project{}, false
	}
	next := project{ID: ps[len(ps)-1].ID + 1, Name: name, Created: now}
	p.byUser[user] = append(ps, next)
	return next, true
}

// listProjects is GET /demo/api/projects.
func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c caller) {
	writeJSON(w, http.StatusOK, map[string]any{"projects": s.projects.list(c.User, s.Now())})
}

// createProject is POST /demo/api/projects {"name": "…"}.
func (s *Server) createProject(w http.ResponseWriter, r *http.Request, c caller) {
	var req struct {
		Name string `json:"name"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Name) == "" || len(req.Name) > 100 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "message": `send JSON {"name": "…"} with a name of 1 to 100 characters`})
		return
	}
	p, ok := s.projects.add(c.User, strings.TrimSpace(req.Name), s.Now())
	if !ok {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "too_many_projects", "message": "a demo user has at most 50 projects"})
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

// echo is ANY /demo/api/echo: the request as the API received it, with
// the credential headers masked (the point of the gateway is that the
// app never sees them).
func (s *Server) echo(w http.ResponseWriter, r *http.Request, c caller) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10)) // what was read is echoed
	headers := map[string]string{}
	for name, v := range r.Header {
		value := strings.Join(v, ", ")
		switch name {
		case "Authorization", "X-Api-Key":
			value = "(a " + c.Auth + " credential, hidden)"
		}
		headers[name] = value
	}
	writeJSON(w, http.StatusOK, map[string]any{"method": r.Method, "path": r.URL.EscapedPath(), "query": r.URL.RawQuery,
		"headers": headers, "body": string(body), "user": c.User})
}
