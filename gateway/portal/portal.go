// Package portal renders the Connect Portal: the branded pages where an end
// user connects an account. It only renders; the gateway decides what to
// show. Pages are server-rendered with html/template and a few lines of
// script, under a strict Content-Security-Policy with a per-response nonce.
package portal

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
)

//go:embed templates/*.html templates/*.css templates/*.js
var assets embed.FS

var (
	pages = template.Must(template.New("").Funcs(template.FuncMap{
		"json": func(v any) (template.JS, error) {
			b, err := json.Marshal(v)
			return template.JS(b), err
		},
		// dict passes named values to a sub-template.
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
	}).ParseFS(assets, "templates/*.html"))
	css   = mustRead("templates/portal.css")
	js    = mustRead("templates/portal.js")
	uiCSS = mustRead("templates/ui.css")
	uiJS  = mustRead("templates/ui.js")
)

func mustRead(name string) template.CSS {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return template.CSS(b)
}

// Integration is what the portal shows of an integration.
type Integration struct {
	ID          string
	Name        string
	Description string
	AccentColor string // validated #RRGGBB
	IconURL     string // empty: show the initial
	AuthType    string
	// Unavailable, when set, says for the gateway's operator why the
	// integration cannot be connected here yet (which setting is missing,
	// never a value): the form is replaced by that explanation.
	Unavailable string
}

// Initial is the letter shown when there is no icon.
func (i Integration) Initial() string {
	for _, r := range i.Name {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// App is the app (the gateway's project) an account is connected to.
type App struct {
	Name string
	Logo template.URL // a data: URL the gateway built from the configured file; empty for none
}

// Switch is the question asked when this browser already has a portal
// session for another account: which one to go on with.
type Switch struct {
	Current    string // the account of the session already open here
	CurrentURL string // its portal page, to keep going with it
	Action     string // POST here to replace it with Page.Account's
}

// Field is one form field.
type Field struct {
	// Type picks the control: "" or "string" a text box (a list with
	// Enum), "number" a number box, "boolean" a checkbox (checked when
	// Value is "true"). Connect forms use text boxes only.
	Type        string
	Key         string
	Label       string
	Help        string
	Placeholder string
	Secret      bool
	Required    bool
	Enum        []string
	Value       string // re-filled after an error (never for secrets)
	Error       string
}

// Workflow is one workflow of a connected integration, with the user's
// choice: a form with an enable switch and the workflow's settings.
type Workflow struct {
	ID          string
	Title       string
	Description string
	Enabled     bool
	Fields      []Field // the settings, in the file's order
	Action      string  // the form posts here
	// Notice says why the last save was refused (Fields say where);
	// Saved that it succeeded.
	Notice string
	Saved  bool
}

// ProviderError is what a provider answered when a test or exchange failed.
type ProviderError struct {
	Status  int
	Message string
}

// Page is one portal page.
type Page struct {
	Integration Integration
	// App and Account say whose account is connected to which app; forms
	// show them above anything the user can submit ("Connecting Acme to
	// Shop as ada@example.com").
	App     App
	Account string
	// Switch, when set, asks which of two accounts to go on with.
	Switch *Switch
	// Form: Fields, Action, CSRF, Submit; Notice and Provider explain a failed attempt.
	Fields   []Field
	Action   string
	CSRF     string
	Submit   string
	Notice   string
	Provider *ProviderError
	// Result: Title and Message; Success picks the style.
	Result  bool
	Success bool
	Title   string
	Message string
	// Redirect: the provider's authorization URL to go to.
	Redirect string
	// ReturnURL: a result page opened in a tab links back to this app
	// page ("Back to <App.Name>"; already checked against the app
	// origins). In a popup the page closes instead.
	ReturnURL string
	// Opener: when the page runs in a popup, the result is posted to this
	// origin (already checked against the configured app origins).
	Opener  string
	Payload any
	// WorkflowPage: the integration's Workflows, each a form posting with
	// CSRF. Title names the page.
	WorkflowPage bool
	Workflows    []Workflow
	// WorkflowsURL, on a success page, links to the integration's
	// workflows ("Choose workflows").
	WorkflowsURL string
	// AutoClose closes the window as soon as the page has loaded (a popup
	// the SDK opened and is waiting to see closed).
	AutoClose bool
}

// Options are deployment settings of the portal.
type Options struct {
	// FrameAncestors are the app origins allowed to embed the portal.
	FrameAncestors []string
	Log            *slog.Logger
}

// Render writes page with its status and security headers.
func Render(w http.ResponseWriter, status int, page Page, opts Options) {
	nonce := newNonce()
	var buf bytes.Buffer
	data := map[string]any{"Page": page, "Nonce": nonce, "CSS": css, "JS": template.JS(js)}
	if err := pages.ExecuteTemplate(&buf, "page.html", data); err != nil {
		if opts.Log != nil {
			opts.Log.Error("portal template failed", "error", err.Error())
		}
		http.Error(w, "the connect page could not be rendered", http.StatusInternalServerError)
		return
	}
	writeSecure(w, nonce, opts)
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// RenderUI writes the Connect Portal page that the @useparagon/connect SDK
// loads in its iframe ({CONNECT_PUBLIC_URL}/ui). Its script trusts messages
// only from the embedding window on one of the app origins.
func RenderUI(w http.ResponseWriter, appOrigins []string, opts Options) {
	nonce := newNonce()
	var buf bytes.Buffer
	if appOrigins == nil {
		appOrigins = []string{}
	}
	data := map[string]any{"Nonce": nonce, "CSS": css, "UICSS": uiCSS, "UIJS": template.JS(uiJS), "Config": map[string]any{"origins": appOrigins}}
	if err := pages.ExecuteTemplate(&buf, "ui.html", data); err != nil {
		http.Error(w, "the connect page could not be rendered", http.StatusInternalServerError)
		return
	}
	writeSecure(w, nonce, opts)
	w.WriteHeader(http.StatusOK)
	_, _ = buf.WriteTo(w)
}

func writeSecure(w http.ResponseWriter, nonce string, opts Options) {
	h := w.Header()
	ancestors := "'self'"
	for _, o := range opts.FrameAncestors {
		ancestors += " " + o
	}
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+
		"'; form-action 'self'; frame-ancestors "+ancestors+"; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}
