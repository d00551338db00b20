// Package gateway is Plugboard's HTTP server: it serves the catalog of
// integrations loaded from the manifest folder, keeps it live, and exposes
// health, metrics and the admin API.
package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/gateway/reload"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
	"github.com/plugboardhq/plugboard/manifest"
)

// Config is everything the server needs; cmd/plugboard fills it from flags,
// environment and the config file.
type Config struct {
	PublicURL     string        // base of absolute links (icons, later OAuth redirect URIs)
	ManifestDir   string        // folder of manifests, watched for changes
	AdminToken    string        // bearer token for /admin/v1; empty disables the admin API
	ShutdownGrace time.Duration // how long in-flight requests may take to finish on shutdown
	// SeparateAdmin serves /metrics and /admin/v1 only on the admin
	// listener given to Serve, not on the public one.
	SeparateAdmin bool
	// DrainDelay keeps serving after SIGTERM with /readyz at 503, so load
	// balancers take the replica out before the listener closes.
	DrainDelay   time.Duration
	PollInterval time.Duration // periodic rescan as a safety net for missed file events
	Manifest     manifest.Options
	Log          *slog.Logger
	Version      string

	Projects []ProjectConfig
	// MaxUserTokenLifetime refuses user tokens that live longer (exp-iat,
	// or exp-now without iat): they travel in popup URLs. Zero means
	// DefaultMaxUserTokenLifetime; negative means no limit.
	MaxUserTokenLifetime time.Duration
	// AllowedOrigins are the app origins that may embed the portal, receive
	// its results by postMessage, and call the API from browsers (CORS).
	AllowedOrigins []string
	// Keyring seals portal sessions (and the store's secrets).
	Keyring      *seal.Keyring
	Store        store.Store // connections; required for the proxy and SDK routes
	MaxBodyBytes int64       // request body limit of proxied calls; default 10 MiB
	// Egress is which special addresses (loopback, private, link-local …)
	// outbound calls may reach: the proxy, test requests, token and
	// revocation endpoints. The zero value refuses them all; tests with
	// upstreams on 127.0.0.1 allow 127.0.0.0/8 as an operator would.
	Egress egress.Policy
	// Limits against abuse: connect rates per user and address, caps on
	// connections, the forced-refresh cooldown; zero fields take defaults.
	Limits Limits
}

// Server is the gateway.
type Server struct {
	cfg          Config
	log          *slog.Logger
	metrics      *metrics.Metrics
	reloader     *reload.Reloader
	handler      http.Handler
	adminHandler http.Handler // /metrics, /admin/v1, health: for a separate admin listener
	draining     atomic.Bool

	projects   map[string]*Project
	store      store.Store
	creds      *connection.Refresher
	proxy      *proxy.Handler
	proxyRoute *proxy.Route
	oauth      oauth.Client
	keyring    *seal.Keyring
	limiters   limiters
}

// New loads the manifest folder once and prepares the handlers. The folder
// must exist; invalid manifests in it are reported, not fatal.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 20 * time.Second
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, log: cfg.Log, metrics: metrics.New()}
	s.reloader = &reload.Reloader{
		Dir: cfg.ManifestDir, Options: cfg.Manifest, Log: cfg.Log, Metrics: s.metrics,
		PollInterval: cfg.PollInterval,
	}
	s.projects = map[string]*Project{}
	maxLifetime := cfg.MaxUserTokenLifetime
	switch {
	case maxLifetime == 0:
		maxLifetime = DefaultMaxUserTokenLifetime
	case maxLifetime < 0:
		maxLifetime = 0
	}
	for _, pc := range cfg.Projects {
		v, err := usertoken.NewVerifier(pc.ID, pc.Keys, usertoken.Options{MaxLifetime: maxLifetime})
		if err != nil {
			return nil, fmt.Errorf("project %s: %w", pc.ID, err)
		}
		p := &Project{ID: pc.ID, Verifier: v, Name: displayText(pc.Name)}
		if p.Name == "" {
			p.Name = pc.ID
		}
		if pc.Logo != "" {
			if p.Logo, err = loadLogo(pc.Logo); err != nil {
				return nil, fmt.Errorf("project %s: logo: %w", pc.ID, err)
			}
		}
		s.projects[pc.ID] = p
	}
	guard := &egress.Guard{Policy: cfg.Egress, Log: cfg.Log, Metrics: s.metrics,
		IsLiteral: func(hostport string) bool { return s.reloader.Catalog().LiteralHost(hostport) }}
	s.oauth = oauth.Client{HTTP: oauth.NewHTTPClient(guard, oauth.DefaultTimeout)}
	s.store = cfg.Store
	s.keyring = cfg.Keyring
	s.creds = &connection.Refresher{Store: cfg.Store, OAuth: s.oauth, Metrics: s.metrics, Log: cfg.Log,
		ForcedRefreshCooldown: cfg.Limits.ForcedRefreshCooldown, MaxCached: cfg.Limits.MaxCachedConnections}
	s.limiters = newLimiters(cfg.Limits)
	s.proxy = &proxy.Handler{Credentials: s.creds, Egress: guard, MaxBodyBytes: cfg.MaxBodyBytes,
		Metrics: s.metrics, Log: cfg.Log, UserAgent: "plugboard/" + cfg.Version}
	s.proxy.Init()
	s.proxyRoute = &proxy.Route{Users: proxyUsers{s}, Integrations: proxyIntegrations{s}, Handler: s.proxy}
	if rep := s.reloader.Reload("startup"); rep.Error != "" {
		return nil, fmt.Errorf("manifest folder: %s", rep.Error)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler of the gateway.
func (s *Server) Handler() http.Handler { return s.handler }

// Reloader returns the server's reloader (for SIGHUP and tests).
func (s *Server) Reloader() *reload.Reloader { return s.reloader }

func (s *Server) routes() http.Handler {
	// Operators' routes: on the public listener, or only on the admin
	// listener when there is one (Serve's admin argument).
	ops := func(mux *http.ServeMux) {
		mux.Handle("GET /metrics", s.metrics.Handler())
		mux.Handle("GET /admin/v1/integrations", s.admin(s.adminIntegrations))
		mux.Handle("POST /admin/v1/reload", s.admin(s.adminReload))
	}
	adminMux := http.NewServeMux()
	adminMux.HandleFunc("GET /healthz", s.healthz)
	adminMux.HandleFunc("GET /readyz", s.readyz)
	ops(adminMux)
	adminMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no route for "+r.Method+" "+r.URL.Path+" on the admin listener")
	})
	s.adminHandler = s.instrument(adminMux)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if !s.cfg.SeparateAdmin {
		ops(mux)
	}
	mux.HandleFunc("GET /v1/integrations", s.publicIntegrations)
	mux.HandleFunc("GET /v1/integrations/{id}", s.publicIntegration)
	mux.HandleFunc("GET /v1/integrations/{id}/icon.svg", s.icon)
	if s.store != nil {
		mux.HandleFunc("POST /projects/{pid}/sdk/credentials", s.limitIP(false, s.createCredential))
		mux.HandleFunc("GET /projects/{pid}/sdk/credentials/{id}", s.getCredential)
		mux.HandleFunc("DELETE /projects/{pid}/sdk/credentials/{id}", s.deleteCredential)
		mux.HandleFunc("GET /projects/{pid}/sdk/me", s.sdkMe)
		mux.HandleFunc("PATCH /projects/{pid}/sdk/me", s.sdkSetMeta)
		mux.HandleFunc("GET /projects/{pid}/sdk/integrations", s.sdkIntegrations)
		mux.HandleFunc("DELETE /projects/{pid}/sdk/integrations/{integrationId}", s.sdkUninstall)
		if s.keyring != nil {
			mux.HandleFunc("POST /projects/{pid}/sdk/connect-links", s.createConnectLink)
			mux.HandleFunc("GET /connect/link/{code}", s.limitIP(true, s.openConnectLink))
			mux.HandleFunc("POST /connect/switch/{code}", s.switchSession)
			mux.HandleFunc("GET /connect/portal/{id}", s.showPortal)
			mux.HandleFunc("POST /connect/portal/{id}", s.limitIP(true, s.submitPortal))
			mux.HandleFunc("GET /oauth/callback", s.limitIP(true, s.oauthCallback))
			mux.HandleFunc("GET /connect/ui", s.connectUI)
			mux.HandleFunc("GET /projects/{pid}/sdk/actions/oauth-nonce", s.sdkOAuthNonce)
			mux.HandleFunc("GET /v2/projects/{pid}/sdk/actions/build-oauth", s.limitIP(false, s.sdkBuildOAuth))
			mux.HandleFunc("GET /projects/{pid}/sdk/actions/session-id/{key}", s.sdkSessionGet)
			mux.HandleFunc("DELETE /projects/{pid}/sdk/actions/session-id/{key}", s.sdkSessionDelete)
		}
	}
	return s.instrument(s.cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Proxy paths are routed before the mux, which would clean them:
		// the proxy checks the API path exactly as it was sent.
		if _, _, _, ok := s.proxyRoute.Match(r); ok && s.store != nil {
			s.proxyRoute.ServeHTTP(w, r)
			return
		}
		serveMux(mux, w, r)
	})))
}

// serveMux serves r with mux, turning the mux's own plain-text 404 and 405
// answers into the gateway's JSON errors (a 405 keeps its Allow header).
func serveMux(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	h, pattern := mux.Handler(r)
	if pattern != "" {
		mux.ServeHTTP(w, r)
		return
	}
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch {
	case rec.status == http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+rec.header.Get("Allow"))
	case rec.status >= 300 && rec.status < 400:
		w.Header().Set("Location", rec.header.Get("Location"))
		w.WriteHeader(rec.status)
	default:
		writeError(w, http.StatusNotFound, CodeNotFound, "no route for "+r.Method+" "+r.URL.Path)
	}
}

// headerRecorder keeps the status and headers a handler writes, not its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// instrument records metrics per route pattern and logs each request at
// debug level. It never logs query strings or headers, which may hold tokens.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.HTTPRequests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
		s.metrics.HTTPDuration.WithLabelValues(route).Observe(elapsed.Seconds())
		s.log.Debug("request", "method", r.Method, "route", route, "status", sw.status, "duration_ms", float64(elapsed.Microseconds())/1000)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz is ready once a catalog is loaded, and not ready while draining, so
// a load balancer stops sending traffic before the listener closes.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.draining.Load():
		writeError(w, http.StatusServiceUnavailable, CodeNotReady, "shutting down")
	case s.reloader.Catalog() == nil:
		writeError(w, http.StatusServiceUnavailable, CodeNotReady, "no catalog loaded yet")
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
	}
}

// admin guards the admin API with the admin bearer token.
func (s *Server) admin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if s.cfg.AdminToken == "" {
			writeError(w, http.StatusForbidden, CodeAdminDisabled, "the admin API is disabled: start the gateway with --admin-token or PLUGBOARD_ADMIN_TOKEN")
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plugboard-admin"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "admin API: send Authorization: Bearer <admin token>")
			return
		}
		h(w, r)
	})
}

// Serve serves on ln until ctx is cancelled, watching the manifest folder
// meanwhile, then shuts down gracefully: /readyz turns 503, the listener
// closes, and in-flight requests get up to ShutdownGrace to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener, admin ...net.Listener) error {
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	}
	servers := []*http.Server{newServer(s.handler)}
	listeners := []net.Listener{ln}
	for _, a := range admin {
		servers = append(servers, newServer(s.adminHandler))
		listeners = append(listeners, a)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	s.listenForChanges(watchCtx)
	if err := s.reloader.Start(watchCtx); err != nil {
		s.log.Error("cannot watch the manifest folder; reload with SIGHUP or POST /admin/v1/reload", "error", err)
	}
	errc := make(chan error, len(servers))
	for i := range servers {
		go func(srv *http.Server, l net.Listener) { errc <- srv.Serve(l) }(servers[i], listeners[i])
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
	s.log.Info("stopped")
	return nil
}

// listenForChanges keeps the connection cache in step with other replicas:
// when the store tells of a change (another replica's refresh, connect or
// disconnect), the cached connection is dropped, so the next request reads
// the new one.
func (s *Server) listenForChanges(ctx context.Context) {
	n, ok := s.store.(store.Notifier)
	if !ok {
		return
	}
	go func() {
		err := n.Listen(ctx, func(projectID, userID, integrationID string) {
			if projectID == "" && userID == "" && integrationID == "" {
				s.creds.ForgetAll()
				return
			}
			s.creds.Forget(projectID, userID, integrationID)
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("listening for connection changes stopped; cached connections expire after 30s", "error", err.Error())
		}
	}()
}
