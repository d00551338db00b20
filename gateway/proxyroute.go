package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/proxy"
)

const proxyRoute = "ANY /projects/{pid}/sdk/proxy/custom/{integration}/{path...}"

// proxyTarget parses /projects/{pid}/sdk/proxy/custom/{id}/{path…} or
// …/proxy/custom.{id}/{path…} from the path exactly as it was sent (escaped,
// uncleaned), so that the API path can be checked as the caller wrote it.
// ok is false when the path is not a proxy path at all.
func proxyTarget(escaped string) (projectID, integrationID, apiPath string, ok bool) {
	rest, ok := strings.CutPrefix(escaped, "/projects/")
	if !ok {
		return "", "", "", false
	}
	pid, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", "", false
	}
	rest, ok = strings.CutPrefix(rest, "sdk/proxy/")
	if !ok {
		return "", "", "", false
	}
	if after, found := strings.CutPrefix(rest, "custom/"); found {
		rest = after
	} else if after, found := strings.CutPrefix(rest, "custom."); found {
		rest = after
	} else {
		rest = "" // not a custom integration: reported as unknown
	}
	id, path, hasPath := strings.Cut(rest, "/")
	if hasPath {
		path = "/" + path
	}
	pid, err1 := url.PathUnescape(pid)
	id, err2 := url.PathUnescape(id)
	if err1 != nil || err2 != nil {
		return "", "", "", true
	}
	return pid, id, path, true
}

// serveProxy authenticates the user and hands the request to the proxy.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request, pid, id, path string) {
	u, ok := s.authenticate(w, r, pid)
	if !ok {
		return
	}
	in, ok := s.resolveIntegration(u.project.ID, id)
	if !ok {
		writeError(w, http.StatusNotFound, CodeIntegrationMissing, "no integration "+quoteID(id)+"; the proxy path is /projects/{project}/sdk/proxy/custom/{integration}/{api path}")
		return
	}
	r = r.WithContext(egress.WithIntegration(r.Context(), in.ID))
	s.proxy.Serve(w, r, proxy.Request{ProjectID: u.project.ID, UserID: u.id, Integration: in, Path: path})
}
