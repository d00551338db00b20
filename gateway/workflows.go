package gateway

import (
	"fmt"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/workflow"
)

// newWorkflows builds the workflow engine on the store; it shares the
// River client startWebhooks builds.
func (s *Server) newWorkflows() (*workflow.Engine, error) {
	runs, ok := s.cfg.Store.(store.WorkflowRuns)
	if !ok {
		return nil, fmt.Errorf("workflows need the SQLite or PostgreSQL store, not %T", s.cfg.Store)
	}
	// The store's per-user choices when it keeps them (the Connect
	// Portal's switches); else every workflow runs with its defaults.
	settings, ok := s.cfg.Store.(workflow.Settings)
	if !ok {
		settings = workflow.DefaultSettings{}
	}
	return workflow.New(workflow.Config{Catalog: s.workflowCatalog, Runs: runs, Connections: s.cfg.Store, Inventory: s.cfg.Store,
		Settings: settings, Limits: s.cfg.Limits.Workflows, Metrics: s.metrics.Registry, Log: s.log.With("component", "workflows")})
}

// hasWorkflows reports whether the catalog loaded at startup has
// workflows (River then runs even without webhooks or health checks).
func (s *Server) hasWorkflows() bool { return len(s.reloader.Catalog().Workflows()) > 0 }

// workflowCatalog is the current catalog as the engine reads it.
func (s *Server) workflowCatalog() workflow.Catalog { return s.reloader.Catalog() }
