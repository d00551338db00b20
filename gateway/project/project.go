// Package project is the apps a gateway serves: each project's keys for
// verifying user tokens, and how the Connect Portal names the app. It turns
// a request's bearer user token into the User it speaks for.
package project

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
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

// Config configures a project.
type Config struct {
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
// configured otherwise. Apps mint tokens for a session of their own (the
// SDK's docs suggest about an hour) and the token travels in the OAuth
// popup's URL, where browser history and logs can keep it: a day covers
// long sessions without accepting tokens that never expire.
const DefaultMaxUserTokenLifetime = 24 * time.Hour

// User is an authenticated end user of a project.
type User struct {
	Project *Project
	ID      string // the token's subject
	Account string // how pages name the account: see accountLabel
}

// Registry holds the configured projects. It is immutable once built.
type Registry struct {
	byID map[string]*Project
}

// NewRegistry builds the projects. maxLifetime is the longest user token
// accepted: zero means DefaultMaxUserTokenLifetime, negative no limit.
func NewRegistry(configs []Config, maxLifetime time.Duration) (*Registry, error) {
	switch {
	case maxLifetime == 0:
		maxLifetime = DefaultMaxUserTokenLifetime
	case maxLifetime < 0:
		maxLifetime = 0
	}
	reg := &Registry{byID: map[string]*Project{}}
	for _, pc := range configs {
		v, err := usertoken.NewVerifier(pc.ID, pc.Keys, usertoken.Options{MaxLifetime: maxLifetime})
		if err != nil {
			return nil, fmt.Errorf("project %s: %w", pc.ID, err)
		}
		p := &Project{ID: pc.ID, Verifier: v, Name: DisplayText(pc.Name)}
		if p.Name == "" {
			p.Name = pc.ID
		}
		if pc.Logo != "" {
			if p.Logo, err = loadLogo(pc.Logo); err != nil {
				return nil, fmt.Errorf("project %s: logo: %w", pc.ID, err)
			}
		}
		reg.byID[pc.ID] = p
	}
	return reg, nil
}

// Get returns a project by id.
func (reg *Registry) Get(id string) (*Project, bool) {
	p, ok := reg.byID[id]
	return p, ok
}

// IDs lists the projects' ids.
func (reg *Registry) IDs() []string {
	ids := make([]string, 0, len(reg.byID))
	for id := range reg.byID {
		ids = append(ids, id)
	}
	return ids
}

// Verify checks a user token for a project.
func (reg *Registry) Verify(projectID, token string) (User, *apierror.Error) {
	return reg.verify(projectID, token, true)
}

// verify is Verify; the Account label is made only when withAccount (the
// proxy, on every request, needs only the id).
func (reg *Registry) verify(projectID, token string, withAccount bool) (User, *apierror.Error) {
	p, ok := reg.byID[projectID]
	if !ok {
		return User{}, apierror.New(http.StatusNotFound, apierror.ProjectNotFound, "no project "+apierror.Quote(projectID)+" on this gateway")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return User{}, apierror.New(http.StatusUnauthorized, apierror.TokenMissing, "send the user token as Authorization: Bearer <token>")
	}
	claims, err := p.Verifier.Verify(token)
	if err != nil {
		code, msg := apierror.TokenInvalid, "user token refused: "+err.Error()
		switch {
		case errors.Is(err, usertoken.ErrExpired):
			code = apierror.TokenExpired
		case errors.Is(err, usertoken.ErrLifetime):
			code = apierror.TokenLifetime
			msg += "; user tokens travel in popup URLs, so mint them short-lived (this gateway's limit is --max-user-token-lifetime)"
		}
		return User{}, apierror.New(http.StatusUnauthorized, code, msg)
	}
	u := User{Project: p, ID: claims.Subject}
	if withAccount {
		u.Account = accountLabel(claims)
	}
	return u, nil
}

// Authenticate verifies the bearer user token of a request to
// /projects/{pid}/…. On failure it writes the error and returns false.
func (reg *Registry) Authenticate(w http.ResponseWriter, r *http.Request, projectID string) (User, bool) {
	return reg.authenticate(w, r, projectID, true)
}

func (reg *Registry) authenticate(w http.ResponseWriter, r *http.Request, projectID string, withAccount bool) (User, bool) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	u, fail := reg.verify(projectID, token, withAccount)
	if fail == nil {
		accesslog.SetUser(r.Context(), projectID, u.ID)
	} else if _, known := reg.byID[projectID]; known {
		accesslog.Set(r.Context(), projectID, "", "")
	}
	if fail != nil {
		if fail.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plugboard", error="invalid_token"`)
		}
		apierror.Write(w, fail)
		return User{}, false
	}
	return u, true
}

// AuthenticateUser is Authenticate for callers that need only the user id
// (the proxy route): it skips making the account's display label.
func (reg *Registry) AuthenticateUser(w http.ResponseWriter, r *http.Request, projectID string) (string, bool) {
	u, ok := reg.authenticate(w, r, projectID, false)
	return u.ID, ok
}
