package demo

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// authRequest is an authorization request as the sign-in page carries it
// from the GET to the POST.
type authRequest struct {
	ClientID, RedirectURI, State, Scope, Challenge, Method string
}

func authRequestOf(v url.Values) authRequest {
	return authRequest{ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), State: v.Get("state"),
		Scope: v.Get("scope"), Challenge: v.Get("code_challenge"), Method: v.Get("code_challenge_method")}
}

// check validates an authorization request. fatal problems (unknown
// client, unregistered redirect URI) are shown on a page, never sent to
// the redirect URI; the others go back to the client as error=….
func (s *Server) check(q url.Values, ar authRequest) (fatal, oauthErr, desc string) {
	switch {
	case ar.ClientID != OAuthClientID:
		return "The app asking to sign you in (client_id " + quote(ar.ClientID) + ") is not registered here.", "", ""
	case ar.RedirectURI != s.RedirectURI():
		return "The app's redirect URI " + quote(ar.RedirectURI) + " is not the one registered (" + s.RedirectURI() + ").", "", ""
	case q.Get("response_type") != "code":
		return "", "unsupported_response_type", "response_type must be code"
	case ar.Challenge == "":
		return "", "invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256"
	case ar.Method != "S256":
		return "", "invalid_request", "code_challenge_method must be S256"
	case !challengeRE.MatchString(ar.Challenge):
		return "", "invalid_request", "code_challenge must be 43 base64url characters (SHA-256 of the verifier)"
	}
	return "", "", ""
}

var (
	challengeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	userRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)
	// DemoUsers are offered on the sign-in page; any other name works too.
	DemoUsers = []string{"ada", "grace"}
)

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + s + `"`
}

// backTo redirects the browser to the client with params (and the state).
func backTo(w http.ResponseWriter, r *http.Request, ar authRequest, params url.Values) {
	u, err := url.Parse(ar.RedirectURI)
	if err != nil {
		http.Error(w, "bad redirect URI", http.StatusBadRequest)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// authorizePage is GET /demo/oauth/authorize: the sign-in page.
func (s *Server) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ar := authRequestOf(q)
	fatal, code, desc := s.check(q, ar)
	if fatal != "" {
		s.renderSignIn(w, http.StatusBadRequest, signIn{Fatal: fatal})
		return
	}
	if code != "" {
		backTo(w, r, ar, url.Values{"error": {code}, "error_description": {desc}})
		return
	}
	s.renderSignIn(w, http.StatusOK, signIn{Request: ar, Users: DemoUsers, Selected: DemoUsers[0]})
}

// authorizeDecision is POST /demo/oauth/authorize: Allow or Deny.
func (s *Server) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	f.Set("response_type", "code")
	ar := authRequestOf(f)
	fatal, code, desc := s.check(f, ar)
	if fatal != "" {
		s.renderSignIn(w, http.StatusBadRequest, signIn{Fatal: fatal})
		return
	}
	if code != "" {
		backTo(w, r, ar, url.Values{"error": {code}, "error_description": {desc}})
		return
	}
	if f.Get("decision") != "allow" {
		backTo(w, r, ar, url.Values{"error": {"access_denied"}, "error_description": {"The user denied access."}})
		return
	}
	user := f.Get("user")
	if user == "other" || user == "" {
		user = f.Get("other")
	}
	user = strings.ToLower(strings.TrimSpace(user))
	if !userRE.MatchString(user) {
		s.renderSignIn(w, http.StatusBadRequest, signIn{Request: ar, Users: DemoUsers, Selected: "other", Other: f.Get("other"),
			Error: "Type a name of 1 to 32 letters, digits, dots, dashes or underscores, starting with a letter or digit."})
		return
	}
	now := s.Now()
	c := "code-" + randomString(16)
	s.grants.put(kindCode, c, &grant{subject: user, clientID: ar.ClientID, scope: ar.Scope, expires: now.Add(s.CodeLifetime),
		family: randomString(8), redirectURI: ar.RedirectURI, challenge: ar.Challenge}, now)
	s.Log.Info("demo OAuth: signed in", "user", user)
	backTo(w, r, ar, url.Values{"code": {c}})
}

// tokenError answers the token or revocation endpoint with an RFC 6749 error.
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="plugboard demo"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails
}

// client authenticates the client of a token or revocation request: HTTP
// Basic or client_id/client_secret in the form.
func (s *Server) client(r *http.Request) (string, bool) {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	var want string
	switch id {
	case OAuthClientID:
		want = s.ClientSecret
	case ServiceClientID:
		want = ServiceClientSecret
	default:
		return "", false
	}
	return id, secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
}

// token is POST /demo/oauth/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be a form")
		return
	}
	clientID, ok := s.client(r)
	if !ok {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed (wrong client id or secret)")
		return
	}
	f := r.PostForm
	now := s.Now()
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok, reused := s.grants.use(kindCode, f.Get("code"), now)
		switch {
		case reused:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "the authorization code was already used; the tokens issued for it are revoked")
		case !ok:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "the authorization code is invalid or expired")
		case c.clientID != clientID:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "the authorization code was issued to another client")
		case f.Get("redirect_uri") != c.redirectURI:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
		case f.Get("code_verifier") == "" || subtle.ConstantTimeCompare([]byte(s256(f.Get("code_verifier"))), []byte(c.challenge)) != 1:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed: code_verifier does not match the code_challenge")
		default:
			s.issue(w, c, true, now)
		}
	case "refresh_token":
		old, ok, reused := s.grants.use(kindRefresh, f.Get("refresh_token"), now)
		switch {
		case reused:
			s.Log.Warn("demo OAuth: a rotated refresh token was used again; its tokens are revoked")
			tokenError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was already used (refresh tokens rotate); sign in again")
		case !ok:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is invalid, expired or revoked")
		case old.clientID != clientID:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was issued to another client")
		default:
			s.issue(w, old, true, now)
		}
	case "client_credentials":
		s.issue(w, &grant{subject: "client:" + clientID, clientID: clientID, scope: f.Get("scope")}, false, now)
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code, refresh_token or client_credentials")
	}
}

// issue answers with a new access token for what g grants, and a new
// refresh token (of g's family) when refresh is set.
func (s *Server) issue(w http.ResponseWriter, g *grant, refresh bool, now time.Time) {
	at := "demo-at-" + randomString(16)
	s.grants.put(kindAccess, at, &grant{subject: g.subject, clientID: g.clientID, scope: g.scope, family: g.family,
		expires: now.Add(s.AccessTokenLifetime)}, now)
	body := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(s.AccessTokenLifetime / time.Second)}
	if g.scope != "" {
		body["scope"] = g.scope
	}
	if refresh {
		rt := "demo-rt-" + randomString(16)
		s.grants.put(kindRefresh, rt, &grant{subject: g.subject, clientID: g.clientID, scope: g.scope, family: g.family,
			expires: now.Add(s.RefreshTokenLifetime)}, now)
		body["refresh_token"] = rt
	}
	writeJSON(w, http.StatusOK, body)
}

// revoke is POST /demo/oauth/revoke (RFC 7009): the client's own tokens
// only; unknown tokens are fine.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be a form")
		return
	}
	clientID, ok := s.client(r)
	if !ok {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed (wrong client id or secret)")
		return
	}
	s.grants.revoke(r.PostForm.Get("token"), clientID)
	w.WriteHeader(http.StatusOK)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
