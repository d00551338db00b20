package integration

import (
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/routes"
)

// Catalog serves the public catalog: what apps may list and show without a
// user token.
type Catalog struct {
	Dir       *Directory
	PublicURL string // base of absolute icon URLs
}

// Register mounts the catalog's routes.
func (c Catalog) Register(mux *routes.Table) {
	mux.HandleFunc("GET /v1/integrations", c.list)
	mux.HandleFunc("GET /v1/integrations/{id}", c.one)
	mux.HandleFunc("GET /v1/integrations/{id}/icon.svg", c.icon)
}

func (c Catalog) list(w http.ResponseWriter, r *http.Request) {
	cat := c.Dir.Catalog()
	list := make([]Public, 0, cat.Len())
	for _, in := range cat.Integrations() {
		list = append(list, PublicView(c.PublicURL, in))
	}
	apierror.JSON(w, http.StatusOK, map[string]any{"revision": cat.Revision(), "integrations": list})
}

func (c Catalog) one(w http.ResponseWriter, r *http.Request) {
	in, ok := c.Dir.Lookup(r.PathValue("id"))
	if !ok {
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.IntegrationMissing, "no integration "+apierror.Quote(r.PathValue("id"))))
		return
	}
	apierror.JSON(w, http.StatusOK, PublicView(c.PublicURL, in))
}

// iconCSP forbids everything an SVG could do beyond drawing itself.
const iconCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

func (c Catalog) icon(w http.ResponseWriter, r *http.Request) {
	in, ok := c.Dir.Lookup(r.PathValue("id"))
	if !ok {
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.IntegrationMissing, "No integration "+apierror.Quote(r.PathValue("id"))+"."))
		return
	}
	icon := in.Icon
	if icon == nil {
		icon = InitialIcon(in)
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", iconCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	etag := `"` + in.Hash[:32] + `"`
	h.Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(icon)
}
