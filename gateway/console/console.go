// Package console is the admin console: server-rendered pages under
// /admin/ where an operator, signed in with the admin token, sees the
// catalog (integrations with status and located problems), end users'
// connections (filtered, paginated, disconnectable) and the gateway's
// recent errors. It reads everything through the admin package's Go API
// and the reloader, so it shows what the admin API shows and never a
// secret. Pages use html/template under a strict Content-Security-Policy
// with a per-response nonce, like the Connect Portal.
package console

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/reload"
	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/seal"
)

//go:embed templates/*.html templates/*.css
var assets embed.FS

var (
	pages = template.Must(template.New("").Funcs(template.FuncMap{
		"when": when,
	}).ParseFS(assets, "templates/*.html"))
	css = mustCSS("templates/console.css")
)

func mustCSS(name string) template.CSS {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return template.CSS(b)
}

// Console serves the admin console.
type Console struct {
	token       string
	reloader    *reload.Reloader
	connections *admin.Connections // nil without a store
	workflows   admin.Workflows    // nil without the workflow engine
	errors      *accesslog.Recent
	sessions    *sessions
	log         *slog.Logger
	now         func() time.Time
}

// Options configure a Console.
type Options struct {
	// Token is the admin token operators sign in with; empty disables
	// the console as it disables the admin API.
	Token    string
	Reloader *reload.Reloader
	// Connections lists and disconnects connections; nil (no store)
	// hides the connection pages.
	Connections *admin.Connections
	// Workflows lists workflow runs (the workflow engine); nil hides the
	// runs pages and the last runs' states on the workflows page.
	Workflows admin.Workflows
	// Errors are the gateway's recent errors (the access log middleware
	// feeds them).
	Errors *accesslog.Recent
	// Keyring seals session cookies; nil seals them with a key made at
	// startup (sessions then end when the gateway restarts).
	Keyring *seal.Keyring
	// Secure: the gateway is reached over HTTPS, so the cookie is Secure
	// with the __Host- prefix.
	Secure bool
	Log    *slog.Logger
	Now    func() time.Time // default time.Now
}

// New returns the console.
func New(o Options) *Console {
	c := &Console{token: o.Token, reloader: o.Reloader, connections: o.Connections, workflows: o.Workflows, errors: o.Errors,
		sessions: newSessions(o.Keyring, o.Token, o.Secure), log: o.Log, now: o.Now}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.errors == nil {
		c.errors = &accesslog.Recent{}
	}
	return c
}

// Register mounts the console's routes.
func (c *Console) Register(mux *routes.Table) {
	mux.HandleFunc("GET /admin/{$}", c.signedIn(c.overview))
	mux.HandleFunc("POST /admin/sign-in", c.signIn)
	mux.HandleFunc("POST /admin/sign-out", c.signedIn(c.signOut))
	mux.HandleFunc("GET /admin/integrations", c.signedIn(c.integrations))
	mux.HandleFunc("GET /admin/errors", c.signedIn(c.recentErrors))
	mux.HandleFunc("GET /admin/workflows", c.signedIn(c.workflowsPage))
	if c.workflows != nil {
		mux.HandleFunc("GET /admin/workflow-runs", c.signedIn(c.workflowRuns))
		mux.HandleFunc("GET /admin/workflow-runs/{id}", c.signedIn(c.workflowRun))
	}
	if c.connections != nil {
		mux.HandleFunc("GET /admin/connections", c.signedIn(c.listConnections))
		mux.HandleFunc("GET /admin/connections/{id}", c.signedIn(c.connection))
		mux.HandleFunc("POST /admin/connections/{id}/disconnect", c.signedIn(c.disconnect))
	}
}

// view is what every page template gets.
type view struct {
	Nonce   string
	CSS     template.CSS
	Title   string
	Nav     string // the current section
	CSRF    string // empty when not signed in
	Notice  string
	Problem string // an error to show above the content
	HasConn bool   // the connection pages exist
	HasRuns bool   // the workflow runs pages exist
	Data    any
	// ExtraCSS is added to the page's stylesheet (a diagram's Style).
	ExtraCSS template.CSS
}

func (c *Console) render(w http.ResponseWriter, status int, tmpl string, v view) {
	v.Nonce, v.CSS, v.HasConn, v.HasRuns = newNonce(), css, c.connections != nil, c.workflows != nil
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, tmpl, v); err != nil {
		c.log.Error("admin console: template failed", "template", tmpl, "error", err.Error())
		secureHeaders(w, v.Nonce)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("the admin console page could not be rendered; see the gateway's log\n"))
		return
	}
	secureHeaders(w, v.Nonce)
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// secureHeaders: nothing loads but the page's own nonce'd style; no
// script at all; forms post only here; never framed or cached.
func secureHeaders(w http.ResponseWriter, nonce string) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+
		"'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// signedIn runs h for a signed-in operator; otherwise it shows the
// sign-in form (or says the admin API is disabled). A POST must carry the
// session's CSRF token.
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c.token == "" {
			c.render(w, http.StatusForbidden, "disabled.html", view{Title: "Admin console disabled"})
			return
		}
		s, err := c.sessions.from(r, c.now())
		if err != nil {
			status := http.StatusOK
			if r.URL.Path != "/admin/" {
				status = http.StatusUnauthorized
			}
			c.render(w, status, "signin.html", view{Title: "Sign in"})
			return
		}
		if r.Method == http.MethodPost && !c.validCSRF(w, r, s) {
			c.render(w, http.StatusForbidden, "message.html", view{Title: "Refused", CSRF: s.CSRF(),
				Problem: "This form is stale or did not come from this console (its CSRF token does not match your session). Go back, reload the page and try again."})
			return
		}
		h(w, r, s)
	}
}

func (c *Console) validCSRF(w http.ResponseWriter, r *http.Request, s session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return false
	}
	got := r.PostForm.Get("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF())) == 1
}

// signIn checks the admin token in constant time and starts a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if c.token == "" {
		c.render(w, http.StatusForbidden, "disabled.html", view{Title: "Admin console disabled"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !admin.SameSecret(r.PostForm.Get("token"), c.token) {
		c.log.Warn("admin console: sign-in refused")
		c.render(w, http.StatusUnauthorized, "signin.html", view{Title: "Sign in", Problem: "That is not the admin token."})
		return
	}
	now := c.now()
	c.sessions.set(w, session{ID: newSessionID(), Expires: now.Add(SessionLifetime)}, now)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, _ session) {
	c.sessions.clear(w)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

// when formats a time for the tables: UTC, to the second; "—" for none.
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05Z")
	case *time.Time:
		if v == nil || v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05Z")
	}
	return "—"
}

// notices are the fixed messages a redirect may ask for (?notice=): a
// query parameter never puts its own text on the page.
var notices = map[string]string{
	"disconnected": "The connection was disconnected (revoked at the provider where its manifest declares revocation, then deleted).",
}

func notice(q url.Values) string { return notices[q.Get("notice")] }
