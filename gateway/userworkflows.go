package gateway

import (
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/sdk"
	"github.com/plugboardhq/plugboard/gateway/userworkflows"
	"github.com/plugboardhq/plugboard/manifest"
)

// wireUserWorkflows gives the SDK's API and the Connect Portal one
// service for the users' workflow choices (enable, disable, settings).
func (s *Server) wireUserWorkflows(dir *integration.Directory, api *sdk.API) {
	svc := &userworkflows.Service{Store: s.cfg.Store, Connections: s.cfg.Store, Integrations: dir, Workflows: s.catalogWorkflows}
	api.Workflows = svc
	s.flows.Workflows = svc
}

// catalogWorkflows returns the serving catalog's workflows.
func (s *Server) catalogWorkflows() []*manifest.Workflow {
	return s.reloader.Catalog().Workflows()
}
