// Package routes is the table the gateway's feature packages mount their
// routes on: an http.ServeMux that also remembers what was mounted, so the
// gateway can say which routes it serves (serve --help is held to it).
package routes

import "net/http"

// Table mounts handlers on a ServeMux and lists their patterns.
type Table struct {
	mux      *http.ServeMux
	patterns []string
}

// New returns an empty table.
func New() *Table { return &Table{mux: http.NewServeMux()} }

// Handle mounts h at pattern (http.ServeMux's syntax).
func (t *Table) Handle(pattern string, h http.Handler) {
	t.mux.Handle(pattern, h)
	t.patterns = append(t.patterns, pattern)
}

// HandleFunc mounts h at pattern.
func (t *Table) HandleFunc(pattern string, h http.HandlerFunc) { t.Handle(pattern, h) }

// Mux is the ServeMux the routes are mounted on.
func (t *Table) Mux() *http.ServeMux { return t.mux }

// Patterns lists the mounted patterns, in mounting order.
func (t *Table) Patterns() []string { return append([]string(nil), t.patterns...) }
