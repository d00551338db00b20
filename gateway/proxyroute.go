package gateway

import (
	"net/http"

	"github.com/plugboardhq/plugboard/manifest"
)

// proxyUsers and proxyIntegrations are the server as proxy.Route's
// proxy.Users and proxy.Integrations.
type proxyUsers struct{ s *Server }

func (u proxyUsers) AuthenticateUser(w http.ResponseWriter, r *http.Request, projectID string) (string, bool) {
	usr, ok := u.s.authenticate(w, r, projectID)
	return usr.id, ok
}

type proxyIntegrations struct{ s *Server }

func (i proxyIntegrations) Resolve(projectID, ref string) (*manifest.Integration, bool) {
	return i.s.resolveIntegration(projectID, ref)
}
