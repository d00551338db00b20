package demo

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
)

//go:embed templates/*.html templates/*.css templates/*.js
var assets embed.FS

var (
	pages = template.Must(template.New("").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).ParseFS(assets, "templates/*.html"))
	demoCSS    = mustRead("templates/demo.css")
	playJS     = mustRead("templates/playground.js")
	signInPage = "signin.html"
)

func mustRead(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// signIn is what the demo authorization server's page shows.
type signIn struct {
	Fatal    string // the request cannot go on; no form
	Error    string // the form was submitted wrong
	Request  authRequest
	Users    []string
	Selected string // the radio checked: a name of Users, or "other"
	Other    string
}

func (s *Server) renderSignIn(w http.ResponseWriter, status int, p signIn) {
	render(w, status, signInPage, p)
}

// render writes a page under a strict Content-Security-Policy: scripts and
// styles only with this response's nonce, nothing from elsewhere, no framing.
func render(w http.ResponseWriter, status int, name string, data any) {
	nonce := newNonce()
	var buf bytes.Buffer
	err := pages.ExecuteTemplate(&buf, name, map[string]any{"Nonce": nonce, "CSS": template.CSS(demoCSS), "JS": template.JS(playJS), "P": data})
	if err != nil {
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+
		"'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}
