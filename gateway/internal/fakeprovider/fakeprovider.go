// Package fakeprovider is a stand-in for a third-party API and its OAuth
// token endpoint, for tests. It behaves like real providers where it
// matters: wrong or expired tokens get 401, access tokens expire, refresh
// tokens rotate and a reused one is refused with invalid_grant.
package fakeprovider

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Provider is a running fake provider.
type Provider struct {
	Server *httptest.Server
	URL    string

	ClientID     string
	ClientSecret string
	// TokenLifetime is the expires_in of issued access tokens; 0 omits it.
	TokenLifetime time.Duration
	// RefreshTokenLifetime is the refresh_token_expires_in sent with a new
	// refresh token (as GitHub apps and others do); 0 omits it. The fake
	// does not expire refresh tokens itself.
	RefreshTokenLifetime time.Duration
	// TokenDelay slows the token endpoint (to widen refresh races).
	TokenDelay time.Duration
	// RotateRefreshTokens issues a new refresh token on each refresh and
	// revokes the old one.
	RotateRefreshTokens bool

	// Gate holds /api/gated-events between its first and second event.
	Gate chan struct{}

	TokenCalls atomic.Int64 // requests to the token endpoint
	APICalls   atomic.Int64
	// TokenInFlight is how many token requests are being answered now;
	// MaxTokenInFlight the most there ever were at once.
	TokenInFlight, MaxTokenInFlight atomic.Int64
	// TokenGate, when not nil, holds every token request until it is
	// closed (after TokenInFlight counts it).
	TokenGate chan struct{}

	// RedirectURI is the only redirect URI registered for the client; empty
	// accepts any (set it to test mismatches).
	RedirectURI string
	// Users maps user names to passwords for the login form.
	Users map[string]string
	// RequirePKCE refuses authorization requests without a code challenge.
	RequirePKCE bool

	RevokeCalls atomic.Int64

	// AutoApprove behaves like a provider where the browser is signed in
	// and has consented before: the authorization page redirects back with
	// a code at once, without showing anything (what makes login CSRF
	// silent).
	AutoApprove bool
	// AuthorizeRequests counts visits to the authorization page.
	AuthorizeRequests atomic.Int64

	mu      sync.Mutex
	codes   map[string]*authCode
	access  map[string]time.Time // access token -> expiry (zero: none)
	refresh map[string]bool      // live refresh tokens
	revoked map[string]bool      // rotated-out refresh tokens
	uses    map[string]int       // refresh token -> refresh requests presenting it
	apiKeys map[string]bool      // accepted API keys (X-Api-Key or bearer)
}

// New starts a fake provider on 127.0.0.1.
func New() *Provider {
	p := &Provider{ClientID: "client-" + random(4), ClientSecret: "secret-" + random(8), TokenLifetime: time.Hour,
		RotateRefreshTokens: true, Gate: make(chan struct{}), Users: map[string]string{"octo": "hunter2"},
		codes: map[string]*authCode{}, access: map[string]time.Time{}, refresh: map[string]bool{}, revoked: map[string]bool{}, uses: map[string]int{}, apiKeys: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", p.token)
	mux.HandleFunc("GET /oauth/authorize", p.authorizePage)
	mux.HandleFunc("POST /oauth/authorize", p.authorizeSubmit)
	mux.HandleFunc("POST /oauth/revoke", p.revoke)
	mux.HandleFunc("/api/", p.api)
	p.Server = httptest.NewServer(mux)
	p.URL = p.Server.URL
	return p
}

// Close stops the server.
func (p *Provider) Close() { p.Server.Close() }

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// IssueTokens creates a token pair as if a user had just connected; the
// access token expires after lifetime (negative: already expired).
func (p *Provider) IssueTokens(lifetime time.Duration) (access, refresh string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	access, refresh = "at-"+random(12), "rt-"+random(12)
	p.access[access] = time.Now().Add(lifetime)
	p.refresh[refresh] = true
	return access, refresh
}

// AddAPIKey makes key a valid API key.
func (p *Provider) AddAPIKey(key string) {
	p.mu.Lock()
	p.apiKeys[key] = true
	p.mu.Unlock()
}

// RemoveAPIKey makes key invalid (an API key deleted at the provider).
func (p *Provider) RemoveAPIKey(key string) {
	p.mu.Lock()
	delete(p.apiKeys, key)
	p.mu.Unlock()
}

// RevokeAccess makes an access token invalid before its expiry.
func (p *Provider) RevokeAccess(token string) {
	p.mu.Lock()
	delete(p.access, token)
	p.mu.Unlock()
}

// RefreshUses is how many refresh requests presented rt, accepted or not.
func (p *Provider) RefreshUses(rt string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uses[rt]
}

// RefreshTokenLive reports whether a refresh token is currently valid.
func (p *Provider) RefreshTokenLive(rt string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refresh[rt]
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.TokenCalls.Add(1)
	n := p.TokenInFlight.Add(1)
	defer p.TokenInFlight.Add(-1)
	for m := p.MaxTokenInFlight.Load(); n > m && !p.MaxTokenInFlight.CompareAndSwap(m, n); m = p.MaxTokenInFlight.Load() {
	}
	if p.TokenGate != nil {
		select {
		case <-p.TokenGate:
		case <-r.Context().Done():
			return
		}
	}
	// Read the form first: only then does net/http notice a client that
	// hangs up during the delay.
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "bad form")
		return
	}
	if p.TokenDelay > 0 {
		select {
		case <-time.After(p.TokenDelay):
		case <-r.Context().Done():
		}
		// A client that hung up before the grant was processed gets nothing
		// and changes nothing (its refresh token is not rotated).
		if r.Context().Err() != nil {
			return
		}
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	switch r.PostForm.Get("grant_type") {
	case "refresh_token":
		if id != p.ClientID || secret != p.ClientSecret {
			oauthError(w, 401, "invalid_client", "client authentication failed")
			return
		}
		rt := r.PostForm.Get("refresh_token")
		p.mu.Lock()
		p.uses[rt]++
		live := p.refresh[rt]
		if live && p.RotateRefreshTokens {
			delete(p.refresh, rt)
			p.revoked[rt] = true
		}
		p.mu.Unlock()
		if !live {
			oauthError(w, 400, "invalid_grant", "refresh token is invalid or was already used")
			return
		}
		next := ""
		if p.RotateRefreshTokens {
			next = "rt-" + random(12)
		}
		p.issue(w, next)
	case "authorization_code":
		p.redeemCode(w, r, id, secret)
	case "client_credentials", "account_credentials":
		if id == "" || secret == "" || !strings.HasPrefix(secret, "good") {
			oauthError(w, 401, "invalid_client", "client authentication failed")
			return
		}
		p.issue(w, "")
	default:
		oauthError(w, 400, "unsupported_grant_type", "grant type not supported")
	}
}

func (p *Provider) issue(w http.ResponseWriter, refresh string) {
	p.mu.Lock()
	at := "at-" + random(12)
	exp := time.Time{}
	if p.TokenLifetime > 0 {
		exp = time.Now().Add(p.TokenLifetime)
	}
	p.access[at] = exp
	if refresh != "" {
		p.refresh[refresh] = true
	}
	p.mu.Unlock()
	body := map[string]any{"access_token": at, "token_type": "Bearer"}
	if p.TokenLifetime > 0 {
		body["expires_in"] = int(p.TokenLifetime.Seconds())
	}
	if refresh != "" {
		body["refresh_token"] = refresh
		if p.RefreshTokenLifetime > 0 {
			body["refresh_token_expires_in"] = int(p.RefreshTokenLifetime.Seconds())
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// authorized checks the bearer token or API key of an API request.
func (p *Provider) authorized(r *http.Request) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if key := r.Header.Get("X-Api-Key"); key != "" {
		return p.apiKeys[key]
	}
	if key := r.URL.Query().Get("api_key"); key != "" {
		return p.apiKeys[key]
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	if p.apiKeys[tok] {
		return true
	}
	exp, ok := p.access[tok]
	return ok && (exp.IsZero() || time.Now().Before(exp))
}

// api serves /api/…: /api/me, /api/echo (everything about the request),
// /api/events (server-sent events, one per 50 ms), /api/slow?ms=, /api/big?bytes=,
// /api/empty (204), /api/text, /api/status?code=.
func (p *Provider) api(w http.ResponseWriter, r *http.Request) {
	p.APICalls.Add(1)
	if !p.authorized(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"message":"Bad credentials"}`)
		return
	}
	route := strings.TrimPrefix(r.URL.Path, "/api")
	if strings.HasPrefix(route, "/echo/") {
		route = "/echo"
	}
	switch route {
	case "/me":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"login":"octo","id":42}`)
	case "/echo":
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Set-Cookie", "provider_session=1")
		_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.EscapedPath(), "query": r.URL.RawQuery,
			"headers": r.Header, "body": string(body), "host": r.Host})
	case "/events":
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: event %d\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	case "/gated-events":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-p.Gate:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: second\n\n")
	case "/slow":
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms")) // absent: 0
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"slow":true}`)
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes")) // absent: 0
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := make([]byte, 32<<10)
		for n > 0 {
			k := min(n, len(chunk))
			_, _ = w.Write(chunk[:k])
			n -= k
		}
	case "/upload":
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"received":%d}`, n)
	case "/empty":
		w.WriteHeader(http.StatusNoContent)
	case "/text":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "plain text")
	case "/status":
		code, _ := strconv.Atoi(r.URL.Query().Get("code")) // absent: 0
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"message":"status %d"}`, code)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Not Found"}`)
	}
}
