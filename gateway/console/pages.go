package console

import (
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/reload"
	"github.com/plugboardhq/plugboard/manifest"
)

// fileRow is one manifest file on the integrations page.
type fileRow struct {
	File     string
	ID       string
	Name     string
	AuthType string
	Status   manifest.Status
	LoadedAt time.Time
	Problems []problemRow
}

// problemRow is one located problem, its file relative to the manifest
// folder (file:line:col: message).
type problemRow struct {
	Text    string
	Warning bool
}

type catalogView struct {
	Dir          string
	Revision     string
	BuiltAt      time.Time
	Integrations int
	LastReload   reload.Report
	Files        []fileRow
	Counts       map[string]int
	Connections  map[string]int
	ConnError    string
	Errors       uint64
}

func (c *Console) catalog() catalogView {
	cat := c.reloader.Catalog()
	v := catalogView{Dir: c.reloader.Dir, Revision: cat.Revision(), BuiltAt: cat.BuiltAt(), Integrations: cat.Len(), LastReload: c.reloader.LastReport(),
		Counts: map[string]int{}}
	for _, e := range cat.Entries() {
		f := fileRow{File: c.relative(e.Path), Status: e.Status}
		for _, p := range e.Problems {
			p.File = c.relative(p.File)
			f.Problems = append(f.Problems, problemRow{Text: p.String(), Warning: p.Severity == manifest.Warning})
		}
		if in := e.Integration; in != nil {
			f.ID, f.Name, f.AuthType, f.LoadedAt = in.ID, in.Name, string(in.Auth.Type), e.LoadedAt
		}
		v.Files = append(v.Files, f)
		v.Counts[string(e.Status)]++
	}
	return v
}

// relative names a manifest file relative to the manifest folder, as
// operators know it.
func (c *Console) relative(path string) string {
	if rel, err := filepath.Rel(c.reloader.Dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s session) {
	v := c.catalog()
	if c.connections != nil {
		counts, err := c.connections.Counts(r.Context())
		if err != nil {
			c.log.Error("admin console: counting connections failed", "error", err.Error())
			v.ConnError = "Counting connections failed; see the gateway's log."
		}
		v.Connections = map[string]int{}
		for _, n := range counts {
			v.Connections[string(n.Health)] += n.Count
		}
	}
	_, v.Errors = c.errors.List()
	c.render(w, http.StatusOK, "overview.html", view{Title: "Overview", Nav: "overview", CSRF: s.CSRF(), Data: v})
}

func (c *Console) integrations(w http.ResponseWriter, r *http.Request, s session) {
	c.render(w, http.StatusOK, "integrations.html", view{Title: "Integrations", Nav: "integrations", CSRF: s.CSRF(), Data: c.catalog()})
}

type connectionsView struct {
	Filter   admin.Filter
	Statuses []connection.Health
	Page     admin.Page
	Next     string // URL of the next page; "" on the last
	Filtered bool
}

func (c *Console) listConnections(w http.ResponseWriter, r *http.Request, s session) {
	q := url.Values{}
	for k, vs := range r.URL.Query() {
		if k == "notice" {
			continue
		}
		// The filter form sends empty fields: they select everything.
		if len(vs) == 1 && strings.TrimSpace(vs[0]) == "" {
			continue
		}
		q[k] = vs
	}
	v := view{Title: "Connections", Nav: "connections", CSRF: s.CSRF(), Notice: notice(r.URL.Query())}
	cv := connectionsView{Statuses: connection.Healths}
	f, err := admin.ParseFilter(q)
	if err == nil {
		cv.Filter = f
		cv.Page, err = c.connections.List(r.Context(), f)
	}
	cv.Filtered = f.Project != "" || f.User != "" || f.Integration != "" || f.Status != "" || f.Cursor != ""
	if cv.Page.NextCursor != "" {
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("cursor", cv.Page.NextCursor)
		cv.Next = "/admin/connections?" + next.Encode()
	}
	status := http.StatusOK
	var fe *admin.FilterError
	switch {
	case errors.As(err, &fe):
		status, v.Problem = http.StatusBadRequest, "Filter "+fe.Error()
	case err != nil:
		c.log.Error("admin console: listing connections failed", "error", err.Error())
		status, v.Problem = http.StatusServiceUnavailable, "Listing connections failed; see the gateway's log."
	}
	v.Data = cv
	c.render(w, status, "connections.html", v)
}

func (c *Console) connection(w http.ResponseWriter, r *http.Request, s session) {
	d, err := c.connections.Get(r.Context(), r.PathValue("id"))
	v := view{Title: "Connection", Nav: "connections", CSRF: s.CSRF()}
	switch {
	case errors.Is(err, admin.ErrNotFound):
		v.Problem = "No connection has that id (it may have been disconnected)."
		c.render(w, http.StatusNotFound, "message.html", v)
	case err != nil:
		c.log.Error("admin console: reading a connection failed", "error", err.Error())
		v.Problem = "Reading the connection failed; see the gateway's log."
		c.render(w, http.StatusServiceUnavailable, "message.html", v)
	default:
		v.Data = d
		c.render(w, http.StatusOK, "connection.html", v)
	}
}

// disconnect disconnects as DELETE /admin/v1/connections/{id} does, then
// goes back to the list with a notice.
func (c *Console) disconnect(w http.ResponseWriter, r *http.Request, s session) {
	err := c.connections.Delete(r.Context(), r.PathValue("id"))
	v := view{Title: "Disconnect", Nav: "connections", CSRF: s.CSRF()}
	switch {
	case errors.Is(err, admin.ErrNotFound):
		v.Problem = "No connection has that id (it may have been disconnected already)."
		c.render(w, http.StatusNotFound, "message.html", v)
	case err != nil:
		c.log.Error("admin console: disconnecting failed", "error", err.Error())
		v.Problem = "Disconnecting failed; see the gateway's log."
		c.render(w, http.StatusServiceUnavailable, "message.html", v)
	default:
		http.Redirect(w, r, "/admin/connections?notice=disconnected", http.StatusSeeOther)
	}
}

type errorsView struct {
	Errors []accesslog.GatewayError
	Total  uint64
	Size   int
}

func (c *Console) recentErrors(w http.ResponseWriter, r *http.Request, s session) {
	list, total := c.errors.List()
	size := c.errors.Size
	if size <= 0 {
		size = accesslog.DefaultRecentErrors
	}
	c.render(w, http.StatusOK, "errors.html", view{Title: "Recent errors", Nav: "errors", CSRF: s.CSRF(),
		Data: errorsView{Errors: list, Total: total, Size: size}})
}
