package gateway

import (
	"net/http"
	"time"

	"github.com/plugboardhq/plugboard/gateway/reload"
	"github.com/plugboardhq/plugboard/manifest"
)

type adminCatalog struct {
	Revision     string             `json:"revision"`
	BuiltAt      time.Time          `json:"builtAt"`
	Integrations int                `json:"integrations"`
	LastReload   reload.Report      `json:"lastReload"`
	Files        []adminIntegration `json:"files"`
}

type adminIntegration struct {
	File     string            `json:"file"`
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	AuthType string            `json:"authType,omitempty"`
	Status   manifest.Status   `json:"status"`
	Hash     string            `json:"hash,omitempty"`
	LoadedAt *time.Time        `json:"loadedAt,omitempty"`
	Problems manifest.Problems `json:"problems"`
}

// adminIntegrations lists every manifest file: what is served from it
// (ok), whether that is a last good version (stale), or nothing (rejected),
// with the located problems of the file as it is on disk.
func (s *Server) adminIntegrations(w http.ResponseWriter, r *http.Request) {
	cat := s.reloader.Catalog()
	out := adminCatalog{Revision: cat.Revision(), BuiltAt: cat.BuiltAt(), Integrations: cat.Len(), LastReload: s.reloader.LastReport(), Files: []adminIntegration{}}
	for _, e := range cat.Entries() {
		ai := adminIntegration{File: e.Path, Status: e.Status, Problems: e.Problems}
		if ai.Problems == nil {
			ai.Problems = manifest.Problems{}
		}
		if in := e.Integration; in != nil {
			loaded := e.LoadedAt
			ai.ID, ai.Name, ai.AuthType, ai.Hash, ai.LoadedAt = in.ID, in.Name, string(in.Auth.Type), in.Hash, &loaded
		}
		out.Files = append(out.Files, ai)
	}
	writeJSON(w, http.StatusOK, out)
}

// adminReload rescans the manifest folder now and answers with the report.
func (s *Server) adminReload(w http.ResponseWriter, r *http.Request) {
	rep := s.reloader.Reload("admin API")
	if rep.Problems == nil {
		rep.Problems = manifest.Problems{}
	}
	writeJSON(w, http.StatusOK, rep)
}
