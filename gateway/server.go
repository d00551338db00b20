// Package gateway assembles Plugboard's HTTP server from its feature
// packages and serves it: the public catalog (integration), the connect
// flows and portal (connect), the SDK's management API (sdk), the proxy
// (proxy), and the operators' routes (admin). Each owns its routes; this
// package builds their dependencies, mounts them, keeps the catalog live
// (reload) and shuts down gracefully.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/actions"
	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/connect"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/console"
	"github.com/plugboardhq/plugboard/gateway/demo"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/http1"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/mcp"
	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/origin"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/gateway/ratelimit"
	"github.com/plugboardhq/plugboard/gateway/reload"
	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/sdk"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/tracing"
	"github.com/plugboardhq/plugboard/gateway/webhook"
	"github.com/plugboardhq/plugboard/gateway/workflow"
	"github.com/plugboardhq/plugboard/manifest"
)

// Server is the gateway.
type Server struct {
	cfg          Config
	log          *slog.Logger
	metrics      *metrics.Metrics
	reloader     *reload.Reloader
	handler      http.Handler
	adminHandler http.Handler // /metrics, /admin/v1, probes: for a separate admin listener
	draining     atomic.Bool

	routes []string // the patterns served, on either listener

	console      *console.Console
	recentErrors *accesslog.Recent // the gateway's own error answers, for the console

	creds     *connection.Refresher
	flows     *connect.Flows            // nil without a store
	usage     *connection.UsageRecorder // nil without a store
	actions   *actions.Service          // nil without a store
	hooks     *webhook.Service          // nil without webhook endpoints, health checks or workflows
	workflows *workflow.Engine          // runs workflows on hooks' River client; nil when hooks is
	tester    *proxy.Handler            // the test requests of health checks; nil without a store
	mcp       *mcp.Server               // nil without a store

	tracer   trace.Tracer      // nil: tracing off (observe.go)
	exporter *tracing.Exporter // nil: tracing off
}

// New loads the manifest folder once and assembles the handlers. The
// folder must exist; invalid manifests in it are reported, not fatal.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 20 * time.Second
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	var demoServer *demo.Server
	if cfg.Demo != nil {
		demoServer = demo.New(cfg.PublicURL)
		demoServer.AccessTokenLifetime, demoServer.Log = cfg.Demo.AccessTokenLifetime, cfg.Log
		// The playground is an app on the gateway's own origin: its connect
		// links name that origin, which must be allowed.
		if o := demo.Origin(cfg.PublicURL); o != "" && !slices.Contains(cfg.AllowedOrigins, o) {
			cfg.AllowedOrigins = append(slices.Clip(cfg.AllowedOrigins), o)
		}
	}
	s := &Server{cfg: cfg, log: cfg.Log, metrics: metrics.New(), recentErrors: &accesslog.Recent{}}
	s.reloader = &reload.Reloader{Dir: cfg.ManifestDir, Options: cfg.Manifest, Log: cfg.Log, Metrics: s.metrics, PollInterval: cfg.PollInterval}
	if demoServer != nil {
		s.reloader.Extra = demoServer.Manifests()
	}
	projects, err := project.NewRegistry(cfg.Projects, cfg.MaxUserTokenLifetime)
	if err != nil {
		return nil, err
	}
	if rep := s.reloader.Reload("startup"); rep.Error != "" {
		return nil, fmt.Errorf("manifest folder: %s", rep.Error)
	}
	dir := integration.NewDirectory(s.reloader.Catalog, projects.IDs())
	ops := &admin.Ops{Token: cfg.AdminToken, Reloader: s.reloader, Metrics: s.metrics, Draining: &s.draining, Log: cfg.Log}
	if health := s.healthConfig(); cfg.Store != nil && (cfg.Webhooks != nil || health != nil || s.hasWorkflows()) {
		// Before anything writes: the store enqueues events from now on.
		// River runs for webhooks, health checks, workflows or all; a
		// gateway with none of them does not start it.
		if s.workflows, err = s.newWorkflows(); err != nil {
			return nil, err
		}
		if s.hooks, err = s.startWebhooks(health); err != nil {
			return nil, err
		}
		if cfg.Webhooks != nil {
			ops.Webhooks = s.hooks
		}
		ops.Workflows = s.workflows
	}
	if cfg.Store != nil {
		// Its Disconnector, the connect flows, is set by assemble.
		ops.Connections = &admin.Connections{Store: cfg.Store, Integrations: dir}
		s.countConnections(ops.Connections)
	}

	// Operators' routes: on the public listener, or only on the admin
	// listener when there is one (Serve's admin argument).
	s.console = console.New(console.Options{Token: cfg.AdminToken, Reloader: s.reloader, Connections: ops.Connections, Workflows: ops.Workflows,
		Errors: s.recentErrors, Keyring: cfg.Keyring, Secure: strings.HasPrefix(cfg.PublicURL, "https://"), Log: cfg.Log})
	adminMux := routes.New()
	ops.RegisterProbes(adminMux)
	ops.RegisterAdmin(adminMux)
	s.console.Register(adminMux)
	if cfg.Profiling && cfg.SeparateAdmin {
		registerProfiles(adminMux)
	}
	s.adminHandler = s.instrument(notFoundAsJSON(adminMux.Mux(), " on the admin listener"))

	mux := routes.New()
	ops.RegisterProbes(mux)
	if !cfg.SeparateAdmin {
		ops.RegisterAdmin(mux)
		s.console.Register(mux)
	}
	integration.Catalog{Dir: dir, PublicURL: cfg.PublicURL}.Register(mux)

	var proxyRoute *proxy.Route
	if cfg.Store != nil {
		proxyRoute = s.assemble(mux, dir, projects)
		ops.Connections.Disconnector = s.flows
	}
	if demoServer != nil {
		demoServer.Register(mux)
		// The playground is the first project's app.
		app := &demo.Playground{PublicURL: cfg.PublicURL, Key: cfg.Demo.AppKey}
		if len(cfg.Projects) > 0 {
			app.ProjectID = cfg.Projects[0].ID
		}
		app.Register(mux)
	}
	allowed := origin.Allowlist(cfg.AllowedOrigins)
	s.routes = append(mux.Patterns(), proxy.RoutePattern)
	if cfg.SeparateAdmin {
		s.routes = append(s.routes, adminMux.Patterns()...)
	}
	routed := notFoundAsJSON(mux.Mux(), "")
	s.handler = s.instrument(allowed.CORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Proxy paths are routed before the mux, which would clean them:
		// the proxy checks the API path exactly as it was sent.
		if proxyRoute != nil {
			if _, _, _, ok := proxyRoute.Match(r); ok {
				proxyRoute.ServeHTTP(w, r)
				return
			}
		}
		routed.ServeHTTP(w, r)
	})))
	return s, s.startTracing()
}

// assemble builds the routes that need the store: the proxy, the SDK's
// management API and, with a keyring to seal portal sessions, the connect
// flows and links. It returns the proxy's route, which is served before the mux.
func (s *Server) assemble(mux *routes.Table, dir *integration.Directory, projects *project.Registry) *proxy.Route {
	cfg := s.cfg
	guard := &egress.Guard{Policy: cfg.Egress, Log: cfg.Log, Metrics: s.metrics,
		IsLiteral: func(hostport string) bool { return s.reloader.Catalog().LiteralHost(hostport) }}
	oauthClient := oauth.Client{HTTP: oauth.NewHTTPClient(guard, oauth.DefaultTimeout)}
	s.creds = &connection.Refresher{Store: cfg.Store, OAuth: oauthClient, Metrics: s.metrics, Log: cfg.Log,
		ForcedRefreshCooldown: cfg.Limits.ForcedRefreshCooldown, MaxCached: cfg.Limits.MaxCachedConnections,
		MaxConcurrentRefreshes: cfg.Limits.MaxConcurrentRefreshes}
	s.usage = &connection.UsageRecorder{Store: cfg.Store, Log: cfg.Log}
	proxyHandler := &proxy.Handler{Credentials: s.creds, Egress: guard, MaxBodyBytes: cfg.MaxBodyBytes,
		Metrics: s.metrics, Log: cfg.Log, UserAgent: "plugboard/" + cfg.Version, Usage: s.usage}
	proxyHandler.Init()
	s.tester = proxyHandler
	limits := ratelimit.NewGuard(rateOr(cfg.Limits.ConnectPerUser, DefaultConnectPerUser), rateOr(cfg.Limits.ConnectPerIP, DefaultConnectPerIP),
		cfg.Limits.TrustedProxies, s.metrics)
	allowed := origin.Allowlist(cfg.AllowedOrigins)
	s.flows = &connect.Flows{Connections: cfg.Store, Tickets: cfg.Store, OAuth: oauthClient, Tester: proxyHandler, Credentials: s.creds,
		Integrations: dir, Projects: projects, Origins: allowed, Limits: limits, Keyring: cfg.Keyring, PublicURL: cfg.PublicURL,
		Caps: connect.Caps{PerUserIntegration: cfg.Limits.MaxConnectionsPerUserIntegration, PerUser: cfg.Limits.MaxConnectionsPerUser},
		Log:  cfg.Log, Failed: cfg.ConnectFailed, Checks: cfg.Store}
	if s.hooks != nil {
		s.flows.TestFailed = func(ctx context.Context, c connection.Connection, why string) {
			if err := s.hooks.EmitTestFailed(ctx, c, why); err != nil {
				cfg.Log.Warn("enqueueing connection.test_failed failed", "integration", c.IntegrationID, "error", err.Error())
			}
		}
	}
	api := &sdk.API{Connections: cfg.Store, Flows: s.flows, Integrations: dir, Projects: projects, Origins: allowed, Limits: limits,
		PublicURL: cfg.PublicURL, Log: cfg.Log}
	s.wireUserWorkflows(dir, api)
	api.Register(mux)
	s.actions = &actions.Service{Integrations: dir, Connections: cfg.Store, Projects: projects, Proxy: proxyHandler, Log: cfg.Log}
	s.actions.Register(mux)
	if s.workflows != nil {
		s.workflows.SetCallers(s.actions, proxyHandler)
		s.workflows.Register(mux, projects)
	}
	s.mcp = &mcp.Server{Actions: s.actions, Projects: projects, Version: cfg.Version, Log: cfg.Log}
	s.mcp.Register(mux)
	// The agents' tool lists follow the catalog and the users' connections.
	s.reloader.OnSwap(func(*manifest.Catalog) { s.mcp.CatalogChanged() })
	s.flows.Changed = s.mcp.UserChanged
	if cfg.Keyring != nil {
		// The portal's sessions are sealed with the keyring.
		s.flows.Register(mux)
		api.RegisterLinks(mux)
	}
	return &proxy.Route{Users: projects, Integrations: dir, Handler: proxyHandler}
}

// startWebhooks migrates River's tables in the store's database and makes
// the store enqueue connection events; delivery starts with Serve.
func (s *Server) startWebhooks(health *webhook.HealthConfig) (*webhook.Service, error) {
	var wc webhook.Config
	if s.cfg.Webhooks != nil {
		wc = *s.cfg.Webhooks
	}
	wc.Health = health
	wc.Plugins = []webhook.Plugin{s.workflows}
	wc.Guard = &egress.Guard{Policy: egress.Policy{Allow: s.cfg.Egress.Allow, Resolver: s.cfg.Egress.Resolver}, Log: s.log, Metrics: s.metrics}
	wc.Log, wc.Metrics = s.log.With("component", "webhooks"), s.metrics.Registry
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch st := s.cfg.Store.(type) {
	case *store.SQLite:
		return webhook.NewSQLite(ctx, st, wc)
	case *store.Postgres:
		return webhook.NewPostgres(ctx, st, wc)
	}
	return nil, fmt.Errorf("webhooks need the SQLite or PostgreSQL store, not %T", s.cfg.Store)
}

// countConnections registers the gauge plugboard_connections, counted by
// conns when scraped (at most every metrics.ConnectionsCacheTTL).
func (s *Server) countConnections(conns *admin.Connections) {
	statuses := make([]string, len(connection.Healths))
	for i, h := range connection.Healths {
		statuses[i] = string(h)
	}
	s.metrics.CountConnections(func(ctx context.Context) ([]metrics.ConnectionCount, error) {
		counts, err := conns.Counts(ctx)
		out := make([]metrics.ConnectionCount, len(counts))
		for i, c := range counts {
			out[i] = metrics.ConnectionCount{Integration: c.IntegrationID, Status: string(c.Health), Count: c.Count}
		}
		return out, err
	}, statuses, 0, s.log)
}

func rateOr(r, def ratelimit.Rate) ratelimit.Rate {
	if r.IsZero() {
		return def
	}
	return r
}

// Handler returns the HTTP handler of the gateway.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists the route patterns the gateway serves (http.ServeMux
// syntax; the proxy's is matched before the mux).
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// Reloader returns the server's reloader (for SIGHUP and tests).
func (s *Server) Reloader() *reload.Reloader { return s.reloader }

// TestConnection calls the integration's test endpoint with the user's
// default connection (refreshed first if needed), as `plugboard try` does.
func (s *Server) TestConnection(ctx context.Context, projectID, userID, integrationID string) (*proxy.TestResult, error) {
	if s.flows == nil {
		return nil, errors.New("the gateway has no store")
	}
	return s.flows.TestConnection(ctx, projectID, userID, integrationID)
}

// Serve serves on ln until ctx is cancelled, watching the manifest folder
// meanwhile, then shuts down gracefully: /readyz turns 503, the listener
// closes, and in-flight requests get up to ShutdownGrace to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener, admin ...net.Listener) error {
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	}
	defer s.stopTracing()
	var public httpServer
	if s.cfg.NetHTTPServer {
		public = newServer(s.handler)
	} else {
		public = &http1.Server{
			Handler:           s.handler,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			// Only handler panics and misuse reach it (no TLS noise, as
			// net/http's has): a warning an operator sees.
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
	}
	if s.mcp != nil {
		// MCP sessions keep a stream open: end them, or they would hold
		// the shutdown for the whole grace period.
		public.RegisterOnShutdown(s.mcp.Close)
	}
	servers := []httpServer{public}
	listeners := []net.Listener{ln}
	for _, a := range admin {
		servers = append(servers, newServer(s.adminHandler))
		listeners = append(listeners, a)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	s.listenForChanges(watchCtx)
	usageDone := make(chan struct{})
	if s.usage != nil {
		go func() { s.usage.Run(watchCtx); close(usageDone) }()
	} else {
		close(usageDone)
	}
	if s.hooks != nil {
		if err := s.hooks.Start(watchCtx); err != nil {
			return fmt.Errorf("starting webhook delivery: %w", err)
		}
	}
	if err := s.reloader.Start(watchCtx); err != nil {
		s.log.Error("cannot watch the manifest folder; reload with SIGHUP or POST /admin/v1/reload", "error", err)
	}
	errc := make(chan error, len(servers))
	for i := range servers {
		go func(srv httpServer, l net.Listener) { errc <- srv.Serve(l) }(servers[i], listeners[i])
	}
	select {
	case err := <-errc:
		for _, srv := range servers {
			_ = srv.Close()
		}
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	if s.cfg.DrainDelay > 0 {
		s.log.Info("draining: /readyz answers 503, still serving", "delay", s.cfg.DrainDelay.String())
		time.Sleep(s.cfg.DrainDelay)
	}
	s.log.Info("shutting down", "grace", s.cfg.ShutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			s.log.Warn("grace period over; closing remaining connections", "error", err)
			_ = srv.Close()
		}
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	if s.hooks != nil {
		// Deliveries in flight get what is left of the grace period; one
		// cut short is made again (River rescues it), by this or another replica.
		if err := s.hooks.Stop(shutdownCtx); err != nil {
			s.log.Warn("stopping webhook delivery", "error", err.Error())
		}
	}
	if s.creds != nil {
		// Token refreshes begun in the background (refresh-ahead while
		// every refresh slot was taken) get what is left of the grace
		// period: one that obtained a rotated refresh token stores it.
		if err := s.creds.Shutdown(shutdownCtx); err != nil {
			s.log.Warn("grace period over before the background token refreshes ended", "error", err.Error())
		}
	}
	stopWatch() // and write the connections' last uses noted so far
	<-usageDone
	s.log.Info("stopped")
	return nil
}

// Both listeners' servers: a request's head within 10 s and 64 KiB, an
// idle keep-alive connection closed after 120 s.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// httpServer is net/http's server or the gateway's own (http1).
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
	RegisterOnShutdown(func())
}

// listenForChanges keeps the connection cache in step with other replicas:
// when the store tells of a change (another replica's refresh, connect or
// disconnect), the cached connection is dropped, so the next request reads
// the new one.
func (s *Server) listenForChanges(ctx context.Context) {
	n, ok := s.cfg.Store.(store.Notifier)
	if !ok || s.creds == nil {
		return
	}
	go func() {
		err := n.Listen(ctx, func(projectID, userID, integrationID string) {
			if projectID == "" && userID == "" && integrationID == "" {
				s.creds.ForgetAll()
				if s.mcp != nil {
					s.mcp.CatalogChanged() // recomputes every user's tools
				}
				return
			}
			s.creds.Forget(projectID, userID, integrationID)
			if s.mcp != nil {
				s.mcp.UserChanged(projectID, userID)
			}
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("listening for connection changes stopped; cached connections expire after 30s", "error", err.Error())
		}
	}()
}
