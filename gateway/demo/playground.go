package demo

import (
	"crypto"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// Playground is the page a dev gateway serves at /: a stand-in app that
// picks a user, lists every integration with the user's status, connects
// through the Connect Portal, sends proxied requests and disconnects. Its
// script calls the same public routes an app does; the one extra is its
// stand-in backend, POST /demo/app/token, which mints a user token for the
// picked user with the dev signing key, as an app's backend would with its own.
type Playground struct {
	ProjectID string
	// PublicURL is the gateway's URL; its origin is the page's, which
	// token requests from a browser must come from.
	PublicURL string
	// Key signs user tokens (the dev signing key); nil: the page explains
	// that it cannot mint any.
	Key crypto.Signer
	// TokenLifetime of minted user tokens; default one hour.
	TokenLifetime time.Duration
	Now           func() time.Time
}

// Register mounts the page at / (exactly) and the token endpoint.
func (p *Playground) Register(mux *routes.Table) {
	if p.TokenLifetime <= 0 {
		p.TokenLifetime = time.Hour
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	mux.HandleFunc("GET /{$}", p.page)
	mux.HandleFunc("POST /demo/app/token", p.token)
}

// playgroundPage is what the page template needs.
type playgroundPage struct {
	ProjectID string
	Users     []string
	CanMint   bool
	Hints     map[string]string
}

// Hints say what to type to connect each demo integration.
var hints = map[string]string{
	"demo-apikey":      "API key: " + APIKeyPrefix + "ada (or " + APIKeyPrefix + "<any name>)",
	"demo-basic":       "User name: any demo user, e.g. grace; password: " + BasicPassword,
	"demo-oauth":       "Sign in at the demo OAuth server as ada, grace or anyone",
	"demo-clientcreds": "Client ID: " + ServiceClientID + "; client secret: " + ServiceClientSecret,
}

func (p *Playground) page(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "playground.html", playgroundPage{ProjectID: p.ProjectID, Users: DemoUsers, CanMint: p.Key != nil, Hints: hints})
}

// token is POST /demo/app/token {"user": "ada"}: the playground's stand-in
// for an app backend that signs user tokens for its signed-in users.
func (p *Playground) token(w http.ResponseWriter, r *http.Request) {
	// Whoever may call this may act as any user: only this machine may
	// (a dev gateway started with --listen 0.0.0.0 must not hand user
	// tokens to its network).
	if !fromLoopback(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden", "message": "the demo mints user tokens only for requests from this machine"})
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != originOf(p.PublicURL) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden", "message": "only the playground page may mint tokens"})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "bad_request", "message": `send Content-Type: application/json and {"user": "ada"}`})
		return
	}
	var req struct {
		User string `json:"user"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || !userRE.MatchString(req.User) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request",
			"message": `send {"user": "<name>"}: 1 to 32 lower-case letters, digits, dots, dashes or underscores`})
		return
	}
	if p.Key == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no_signing_key",
			"message": "this gateway has no dev signing key to mint user tokens with (it verifies --project-keys); mint them with your own key"})
		return
	}
	kid, err := usertoken.KeyID(p.Key.Public())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "mint_failed", "message": err.Error()})
		return
	}
	now := p.Now()
	tok, err := usertoken.Mint(p.Key, kid, p.ProjectID, req.User, p.TokenLifetime, now)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "mint_failed", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "user": req.User, "expiresAt": now.Add(p.TokenLifetime).UTC().Format(time.RFC3339)})
}

// originOf is scheme://host[:port] of a URL.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Origin is the origin of the gateway's public URL, which the playground's
// fetches come from; the gateway adds it to the allowed app origins.
func Origin(publicURL string) string { return originOf(publicURL) }

// fromLoopback reports whether r's peer is on this machine.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
