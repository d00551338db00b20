package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/manifest"
)

// RoutePattern is the proxy's route as metrics name it (r.Pattern); the
// custom.{integration} spelling is the same route.
const RoutePattern = "ANY /projects/{pid}/sdk/proxy/custom/{integration}/{path...}"

// Users authenticates the caller of a project's API. When it fails it has
// written the error.
type Users interface {
	AuthenticateUser(w http.ResponseWriter, r *http.Request, projectID string) (userID string, ok bool)
}

// Integrations finds the integration a proxy path names: its id, or
// another reference the SDK uses.
type Integrations interface {
	Resolve(projectID, ref string) (*manifest.Integration, bool)
}

// Route is the proxy's HTTP route:
//
//	ANY /projects/{pid}/sdk/proxy/custom/{integration}/{api path}
//	ANY /projects/{pid}/sdk/proxy/custom.{integration}/{api path}
//
// It must see the path as it was sent (r.URL.EscapedPath()), before a mux
// cleans it: the API path is checked as the caller wrote it.
type Route struct {
	Users        Users
	Integrations Integrations
	Handler      *Handler
}

// Match reports whether r is for the proxy and, if so, what it names.
// ok with empty values is still the proxy's (an unknown integration).
func (rt *Route) Match(r *http.Request) (projectID, integrationRef, apiPath string, ok bool) {
	return parseRoute(r.URL.EscapedPath())
}

// ServeHTTP authenticates the user, finds the integration and proxies the
// request.
func (rt *Route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pid, ref, path, ok := rt.Match(r)
	if !ok {
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.NotFound, "no route for "+r.Method+" "+r.URL.Path))
		return
	}
	r.Pattern = RoutePattern
	userID, ok := rt.Users.AuthenticateUser(w, r, pid)
	if !ok {
		return
	}
	in, ok := rt.Integrations.Resolve(pid, ref)
	if !ok {
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.IntegrationMissing, "no integration "+quoteID(ref)+"; the proxy path is /projects/{project}/sdk/proxy/custom/{integration}/{api path}"))
		return
	}
	accesslog.SetIntegration(r.Context(), in.ID)
	rt.Handler.Serve(w, r, Request{ProjectID: pid, UserID: userID, Integration: in, Path: path})
}

// parseRoute parses /projects/{pid}/sdk/proxy/custom/{id}/{path…} or
// …/proxy/custom.{id}/{path…} from the path exactly as it was sent (escaped,
// uncleaned), so that the API path can be checked as the caller wrote it.
// ok is false when the path is not a proxy path at all.
func parseRoute(escaped string) (projectID, integrationID, apiPath string, ok bool) {
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

// quoteID quotes an id from a URL for a message, shortened and made printable.
func quoteID(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, s) + `"`
}
