// Package sdk is the management API that the @useparagon/connect SDK
// speaks (shared/paragon-sdk-protocol.md): the user and their
// integrations, credentials, uninstalling, connect links, and the JSON side
// of the install popup. Shapes follow what the SDK reads. Connecting itself
// is package connect's.
package sdk

import (
	"log/slog"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connect"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/origin"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/ratelimit"
	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/userworkflows"
	"github.com/plugboardhq/plugboard/manifest"
)

// API serves the management API. Every field is required but Limits
// (nil: no rate limits), Workflows and Log.
type API struct {
	Connections  store.Connections
	Flows        *connect.Flows
	Integrations *integration.Directory
	Projects     *project.Registry
	Origins      origin.Allowlist
	Limits       *ratelimit.Guard
	// Workflows, if set, serves the users' workflow choices (enable,
	// disable, settings); nil: the catalog has no workflows.
	Workflows *userworkflows.Service
	PublicURL string
	Log       *slog.Logger
}

// Register mounts the API's routes but those of RegisterLinks.
func (a *API) Register(mux *routes.Table) {
	mux.HandleFunc("POST /projects/{pid}/sdk/credentials", a.limitIP(a.createCredential))
	mux.HandleFunc("GET /projects/{pid}/sdk/credentials/{id}", a.getCredential)
	mux.HandleFunc("PATCH /projects/{pid}/sdk/credentials/{id}", a.updateCredential)
	mux.HandleFunc("DELETE /projects/{pid}/sdk/credentials/{id}", a.deleteCredential)
	mux.HandleFunc("POST /projects/{pid}/sdk/workflows/{id}", a.enableWorkflow)
	mux.HandleFunc("DELETE /projects/{pid}/sdk/workflows/{id}", a.disableWorkflow)
	mux.HandleFunc("GET /projects/{pid}/sdk/me", a.me)
	mux.HandleFunc("PATCH /projects/{pid}/sdk/me", a.setMeta)
	mux.HandleFunc("GET /projects/{pid}/sdk/integrations", a.integrations)
	mux.HandleFunc("DELETE /projects/{pid}/sdk/integrations/{integrationId}", a.uninstall)
}

// RegisterLinks mounts the routes that hand out connect links (which open
// portal sessions, sealed with the gateway's keyring).
func (a *API) RegisterLinks(mux *routes.Table) {
	mux.HandleFunc("POST /projects/{pid}/sdk/connect-links", a.createConnectLink)
	mux.HandleFunc("GET /v2/projects/{pid}/sdk/actions/build-oauth", a.limitIP(a.buildOAuth))
	mux.HandleFunc("GET /projects/{pid}/sdk/actions/session-id/{key}", a.sessionGet)
	mux.HandleFunc("DELETE /projects/{pid}/sdk/actions/session-id/{key}", a.sessionDelete)
}

// limitIP refuses requests beyond the per-address rate before h runs.
func (a *API) limitIP(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.Limits != nil {
			if e := a.Limits.CheckIP(r); e != nil {
				apierror.Write(w, e)
				return
			}
		}
		h(w, r)
	}
}

// user authenticates the request's user token for its project, and takes
// one connect attempt from the user's bucket when attempt is set. On
// failure it has answered.
func (a *API) user(w http.ResponseWriter, r *http.Request, attempt bool) (project.User, bool) {
	u, ok := a.Projects.Authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return u, false
	}
	if attempt && a.Limits != nil {
		if e := a.Limits.CheckUser(r, u.Project.ID, u.ID); e != nil {
			apierror.Write(w, e)
			return u, false
		}
	}
	return u, true
}

// resolve finds the integration ref names for the project, and notes it
// for the access log.
func (a *API) resolve(r *http.Request, projectID, ref string) (*manifest.Integration, bool) {
	in, ok := a.Integrations.Resolve(projectID, ref)
	if ok {
		accesslog.SetIntegration(r.Context(), in.ID)
	}
	return in, ok
}

func notFound(ref string) *apierror.Error {
	return apierror.New(http.StatusNotFound, apierror.IntegrationMissing, "No integration "+apierror.Quote(ref)+".")
}

func storeUnavailable(what string) *apierror.Error {
	return apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, what)
}
