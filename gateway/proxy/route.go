package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/manifest"
)

// RoutePattern is the proxy's route, as metrics and logs name it.
const RoutePattern = "ANY /projects/{pid}/sdk/proxy/custom/{integration}/{path...}"

// parseTarget parses /projects/{pid}/sdk/proxy/custom/{id}/{path…} or
// …/proxy/custom.{id}/{path…} from the path exactly as it was sent (escaped,
// uncleaned), so that the API path can be checked as the caller wrote it.
// ok is false when the path is not a proxy path at all.
func parseTarget(escaped string) (projectID, integrationID, apiPath string, ok bool) {
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

// Users authenticates the bearer user token of a request for a project;
// on failure it has written the error.
type Users interface {
	AuthenticateUser(w http.ResponseWriter, r *http.Request, projectID string) (userID string, ok bool)
}

// Integrations resolves what a caller names an integration by.
type Integrations interface {
	Resolve(projectID, ref string) (*manifest.Integration, bool)
}

// Route is the proxy's route: it authenticates the user, resolves the
// integration and hands the request to the Handler.
type Route struct {
	Users        Users
	Integrations Integrations
	Handler      *Handler
}

// Match reports whether r is for the proxy, with what it names.
func (rt *Route) Match(r *http.Request) (projectID, integrationRef, apiPath string, ok bool) {
	return parseTarget(r.URL.EscapedPath())
}

// ServeHTTP serves a request Match accepted.
func (rt *Route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pid, ref, path, _ := rt.Match(r)
	r.Pattern = RoutePattern
	userID, ok := rt.Users.AuthenticateUser(w, r, pid)
	if !ok {
		return
	}
	in, ok := rt.Integrations.Resolve(pid, ref)
	if !ok {
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.IntegrationMissing,
			"no integration "+apierror.Quote(ref)+"; the proxy path is /projects/{project}/sdk/proxy/custom/{integration}/{api path}"))
		return
	}
	r = r.WithContext(egress.WithIntegration(r.Context(), in.ID))
	rt.Handler.Serve(w, r, Request{ProjectID: pid, UserID: userID, Integration: in, Path: path})
}
