package fakeprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"time"
)

// authCode is an issued authorization code and what it is bound to.
type authCode struct {
	clientID, redirectURI, challenge, method, scope string
	used                                            bool
	issued                                          time.Time
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><title>Fake Provider – Sign in</title></head><body>
<h1>Sign in to Fake Provider</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<p>An app wants to access your account (scopes: {{.Scope}}).</p>
<form method="post" action="/oauth/authorize">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<label>User <input id="username" name="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="allow" name="decision" value="allow">Allow</button>
<button id="deny" name="decision" value="deny">Deny</button>
</form></body></html>`))

func (p *Provider) checkAuthorizeRequest(w http.ResponseWriter, q url.Values) bool {
	switch {
	case q.Get("client_id") != p.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
	case q.Get("redirect_uri") == "" || (p.RedirectURI != "" && q.Get("redirect_uri") != p.RedirectURI):
		// Real providers show an error page here rather than redirecting.
		http.Error(w, "redirect_uri does not match the registered one", http.StatusBadRequest)
	case p.RequirePKCE && (q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256"):
		http.Error(w, "PKCE (S256) is required", http.StatusBadRequest)
	default:
		return true
	}
	return false
}

func (p *Provider) authorizePage(w http.ResponseWriter, r *http.Request) {
	p.AuthorizeRequests.Add(1)
	q := r.URL.Query()
	if !p.checkAuthorizeRequest(w, q) {
		return
	}
	if p.AutoApprove {
		p.approve(w, r, q)
		return
	}
	p.renderLogin(w, q, "")
}

func (p *Provider) renderLogin(w http.ResponseWriter, q url.Values, errMsg string) {
	hidden := map[string]string{}
	for _, k := range []string{"client_id", "response_type", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope"} {
		hidden[k] = q.Get(k)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, map[string]any{"Hidden": hidden, "Scope": q.Get("scope"), "Error": errMsg})
}

func (p *Provider) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	if !p.checkAuthorizeRequest(w, f) {
		return
	}
	if f.Get("decision") != "allow" {
		back, _ := url.Parse(f.Get("redirect_uri"))
		v := back.Query()
		v.Set("state", f.Get("state"))
		v.Set("error", "access_denied")
		v.Set("error_description", "The user denied access.")
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
		return
	}
	if pw, ok := p.Users[f.Get("username")]; !ok || pw != f.Get("password") {
		p.renderLogin(w, f, "Wrong user name or password.")
		return
	}
	p.approve(w, r, f)
}

// approve issues a code for the authorization request f and redirects
// back with it.
func (p *Provider) approve(w http.ResponseWriter, r *http.Request, f url.Values) {
	back, _ := url.Parse(f.Get("redirect_uri"))
	v := back.Query()
	v.Set("state", f.Get("state"))
	code := "code-" + random(12)
	p.mu.Lock()
	p.codes[code] = &authCode{clientID: f.Get("client_id"), redirectURI: f.Get("redirect_uri"), challenge: f.Get("code_challenge"),
		method: f.Get("code_challenge_method"), scope: f.Get("scope"), issued: time.Now()}
	p.mu.Unlock()
	v.Set("code", code)
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// redeemCode is the authorization_code grant: single-use codes, bound to
// the redirect URI and the PKCE challenge.
func (p *Provider) redeemCode(w http.ResponseWriter, r *http.Request, id, secret string) {
	if id != p.ClientID || secret != p.ClientSecret {
		oauthError(w, 401, "invalid_client", "client authentication failed")
		return
	}
	p.mu.Lock()
	c, ok := p.codes[r.PostForm.Get("code")]
	reused := ok && c.used
	if ok {
		c.used = true
	}
	p.mu.Unlock()
	switch {
	case !ok || reused:
		oauthError(w, 400, "invalid_grant", "authorization code is invalid or was already used")
	case time.Since(c.issued) > 10*time.Minute:
		oauthError(w, 400, "invalid_grant", "authorization code expired")
	case r.PostForm.Get("redirect_uri") != c.redirectURI:
		oauthError(w, 400, "invalid_grant", "redirect_uri does not match the authorization request")
	case c.challenge != "" && s256(r.PostForm.Get("code_verifier")) != c.challenge:
		oauthError(w, 400, "invalid_grant", "PKCE verification failed")
	default:
		p.issue(w, "rt-"+random(12))
	}
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// revoke is RFC 7009: it always answers 200.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	p.RevokeCalls.Add(1)
	_ = r.ParseForm()
	tok := r.PostForm.Get("token")
	p.mu.Lock()
	delete(p.access, tok)
	delete(p.refresh, tok)
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}
