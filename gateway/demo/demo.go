// Package demo is what a dev gateway serves so that a newcomer can see every
// flow work without the internet: a demo API and a demo OAuth 2.0
// authorization server under /demo/, manifests for one integration of each
// auth type pointing at them, and a playground page at / that uses the
// gateway's public routes as an app would.
//
// It is for dev mode only: the gateway mounts it only when its
// configuration asks for it, and `plugboard serve` refuses to in production.
// Its state lives in memory, is bounded, and is lost on restart.
package demo

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/routes"
)

// Defaults of Server's limits and lifetimes.
const (
	// DefaultAccessTokenLifetime is short on purpose: a person trying the
	// playground sees the gateway refresh a token within minutes.
	DefaultAccessTokenLifetime  = 120 * time.Second
	DefaultRefreshTokenLifetime = 24 * time.Hour
	DefaultCodeLifetime         = 2 * time.Minute
	// DefaultMaxTokens caps each kind of grant kept in memory
	// (authorization codes, access tokens, refresh tokens); past it the
	// expired go first, then those closest to expiring.
	DefaultMaxTokens = 10000
	// DefaultMaxProjects caps the demo API's /projects per user, and
	// DefaultMaxUsers the users whose projects are kept.
	DefaultMaxProjects = 50
	DefaultMaxUsers    = 1000
)

// Demo client credentials. They are not secrets: the demo server accepts
// them from anyone, and only in dev mode.
const (
	// OAuthClientID is the client the gateway's demo-oauth integration is
	// registered as; its secret is generated per process (Server.ClientSecret)
	// and handed to that manifest through a secret reference.
	OAuthClientID = "plugboard-demo"
	// ServiceClientID and ServiceClientSecret are what a user types to
	// connect demo-clientcreds (client credentials).
	ServiceClientID     = "demo-service"
	ServiceClientSecret = "demo-service-secret"
	// BasicPassword is the password of every demo user over HTTP Basic.
	BasicPassword = "demo-password"
	// APIKeyPrefix starts every valid demo API key: demo-key-<user>.
	APIKeyPrefix = "demo-key-"
)

// Server is the demo API and the demo authorization server. Set the fields,
// then call Register; the zero values of the limits take their defaults.
type Server struct {
	// BaseURL is where browsers and the gateway itself reach the gateway
	// (its public URL, e.g. http://127.0.0.1:8080); the demo lives under
	// BaseURL/demo/ and the OAuth redirect URI it accepts is
	// BaseURL/oauth/callback.
	BaseURL string
	// ClientSecret is the demo OAuth client's secret; New generates one.
	ClientSecret string
	// AccessTokenLifetime is the expires_in of access tokens (default 120 s).
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime bounds refresh tokens (default 24 h); each
	// refresh replaces the refresh token (rotation).
	RefreshTokenLifetime time.Duration
	// CodeLifetime bounds authorization codes (default 2 min).
	CodeLifetime time.Duration
	// MaxTokens caps each kind of grant held in memory (default 10,000).
	MaxTokens int
	Log       *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time

	grants   *grants
	projects *projectStore
}

// New returns a demo server for a gateway reached at baseURL, with a fresh
// client secret.
func New(baseURL string) *Server {
	return &Server{BaseURL: strings.TrimRight(baseURL, "/"), ClientSecret: "demo-" + randomString(16)}
}

func (s *Server) init() {
	if s.AccessTokenLifetime <= 0 {
		s.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if s.RefreshTokenLifetime <= 0 {
		s.RefreshTokenLifetime = DefaultRefreshTokenLifetime
	}
	if s.CodeLifetime <= 0 {
		s.CodeLifetime = DefaultCodeLifetime
	}
	if s.MaxTokens <= 0 {
		s.MaxTokens = DefaultMaxTokens
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	s.BaseURL = strings.TrimRight(s.BaseURL, "/")
	s.grants = newGrants(s.MaxTokens)
	s.projects = newProjectStore(DefaultMaxUsers, DefaultMaxProjects)
}

// Register mounts the demo API and the authorization server under /demo/.
func (s *Server) Register(mux *routes.Table) {
	s.init()
	mux.HandleFunc("GET /demo/oauth/authorize", s.authorizePage)
	mux.HandleFunc("POST /demo/oauth/authorize", s.authorizeDecision)
	mux.HandleFunc("POST /demo/oauth/token", s.token)
	mux.HandleFunc("POST /demo/oauth/revoke", s.revoke)
	mux.HandleFunc("GET /demo/api/me", s.api(s.me))
	mux.HandleFunc("GET /demo/api/projects", s.api(s.listProjects))
	mux.HandleFunc("POST /demo/api/projects", s.api(s.createProject))
	mux.HandleFunc("GET /demo/api/echo", s.api(s.echo))
	mux.HandleFunc("POST /demo/api/echo", s.api(s.echo))
}

// Handler serves the demo alone (tests of this package).
func (s *Server) Handler() http.Handler {
	t := routes.New()
	s.Register(t)
	return t.Mux()
}

// RedirectURI is the one redirect URI the demo client has registered: the
// gateway's OAuth callback.
func (s *Server) RedirectURI() string { return s.BaseURL + "/oauth/callback" }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
