package gateway

import (
	"net/http"
	"strconv"

	"github.com/plugboardhq/plugboard/manifest"
)

// publicIntegration is what apps and the portal may know of an integration:
// presentation and the fields a user will be asked for. Never secrets,
// URLs with credentials, or defaults of secret inputs.
type publicIntegration struct {
	ID          string        `json:"id"`
	SDKName     string        `json:"sdkName"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	AccentColor string        `json:"accentColor"`
	AuthType    string        `json:"authType"`
	Icon        string        `json:"icon,omitempty"`
	Inputs      []publicInput `json:"inputs"`
}

type publicInput struct {
	Key         string   `json:"key"`
	Label       string   `json:"label"`
	Help        string   `json:"help,omitempty"`
	Placeholder string   `json:"placeholder,omitempty"`
	Secret      bool     `json:"secret"`
	Required    bool     `json:"required"`
	Enum        []string `json:"enum,omitempty"`
}

func (s *Server) toPublic(in *manifest.Integration) publicIntegration {
	p := publicIntegration{ID: in.ID, SDKName: in.SDKName(), Name: in.Name, Description: in.Description,
		AccentColor: in.AccentColor, AuthType: string(in.Auth.Type), Inputs: []publicInput{}}
	if in.Icon != nil {
		p.Icon = s.cfg.PublicURL + "/v1/integrations/" + in.ID + "/icon.svg"
	}
	for _, i := range in.Auth.Inputs {
		p.Inputs = append(p.Inputs, publicInput{Key: i.Key, Label: i.Label, Help: i.Help, Placeholder: i.Placeholder, Secret: i.Secret, Required: i.Required, Enum: i.Enum})
	}
	return p
}

func (s *Server) publicIntegrations(w http.ResponseWriter, r *http.Request) {
	cat := s.reloader.Catalog()
	list := make([]publicIntegration, 0, cat.Len())
	for _, in := range cat.Integrations() {
		list = append(list, s.toPublic(in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"revision": cat.Revision(), "integrations": list})
}

// lookup finds an integration by id or by its SDK name (custom.<id>).
func lookup(cat *manifest.Catalog, id string) (*manifest.Integration, bool) {
	if in, ok := cat.Lookup(id); ok {
		return in, true
	}
	if len(id) > len("custom.") && id[:len("custom.")] == "custom." {
		return cat.Lookup(id[len("custom."):])
	}
	return nil, false
}

func (s *Server) publicIntegration(w http.ResponseWriter, r *http.Request) {
	in, ok := lookup(s.reloader.Catalog(), r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeIntegrationMissing, "no integration "+strconv.Quote(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.toPublic(in))
}

// iconCSP forbids everything an SVG could do beyond drawing itself.
const iconCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

func (s *Server) icon(w http.ResponseWriter, r *http.Request) {
	in, ok := lookup(s.reloader.Catalog(), r.PathValue("id"))
	if !ok || in.Icon == nil {
		writeError(w, http.StatusNotFound, CodeIntegrationMissing, "no icon for "+strconv.Quote(r.PathValue("id")))
		return
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
	_, _ = w.Write(in.Icon)
}
