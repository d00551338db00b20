package gateway

import (
	"crypto"
	"log/slog"
	"net/netip"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connect"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/ratelimit"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/webhook"
	"github.com/plugboardhq/plugboard/gateway/workflow"
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
	// Profiling serves Go's runtime profiles (net/http/pprof) under
	// /debug/pprof/ on the admin listener; it needs SeparateAdmin, since
	// profiles are fetched without the admin token (as Caddy's admin
	// endpoint serves them). The command line is not served.
	Profiling bool
	// DrainDelay keeps serving after SIGTERM with /readyz at 503, so load
	// balancers take the replica out before the listener closes.
	DrainDelay time.Duration
	// NetHTTPServer serves the public listener with net/http's server
	// instead of the gateway's own HTTP/1.1 server (gateway/http1): the
	// fallback, should a client need something only net/http does. The
	// admin listener always uses net/http's.
	NetHTTPServer bool
	PollInterval  time.Duration // periodic rescan as a safety net for missed file events
	Manifest      manifest.Options
	Log           *slog.Logger
	Version       string
	// AccessLog writes one info line ("access") per request: its id,
	// route, project, integration, user, method, status, gateway error
	// code, upstream status and durations; never tokens, query strings,
	// bodies or other header values. Successful probes are logged at
	// debug. Off: requests are logged at debug only.
	AccessLog bool
	// Tracing exports OpenTelemetry traces by OTLP/HTTP when the process
	// environment configures an endpoint (tracing.FromEnv: the standard
	// OTEL_* variables); without one no exporter runs.
	Tracing bool

	Projects []project.Config
	// MaxUserTokenLifetime refuses user tokens that live longer (exp-iat,
	// or exp-now without iat): they travel in popup URLs. Zero means
	// project.DefaultMaxUserTokenLifetime; negative means no limit.
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
	// Webhooks sends connection events to the apps' endpoints, delivered
	// by River from the store's database (SQLite or PostgreSQL); nil sends
	// none. Its Guard, Log and Metrics are set by New (the guard applies
	// Egress.Allow; a literal loopback host is not enough for a webhook).
	Webhooks *webhook.Config
	// HealthTick and HealthWorkers tune the periodic health checks that
	// manifests ask for (api.healthCheck): how often the schedule looks
	// for due checks (webhook.DefaultHealthTick) and how many checks a
	// replica makes at a time (webhook.DefaultHealthWorkers).
	HealthTick    time.Duration
	HealthWorkers int
	// HealthNow is the health schedule's clock (tests); nil is time.Now.
	HealthNow func() time.Time
	// Limits against abuse: connect rates per user and address, caps on
	// connections, the forced-refresh cooldown; zero fields take defaults.
	Limits Limits
	// ConnectFailed, if set, is told of every failed connect attempt with
	// its cause (apierror.Error.Cause), which responses never carry:
	// `plugboard try` prints it. It must not block.
	ConnectFailed func(integrationID string, e *apierror.Error)
	// Demo, when set, serves the demo API and OAuth server under /demo/,
	// adds the demo integrations (demo-apikey, demo-basic, demo-oauth,
	// demo-clientcreds) to the catalog, serves the playground at / and
	// allows PublicURL as an app origin. Dev mode only: `plugboard serve`
	// never sets it in production.
	Demo *Demo
}

// Demo configures the demo (see Config.Demo).
type Demo struct {
	// AppKey signs the user tokens the playground's stand-in app backend
	// mints for the picked user (the dev signing key); nil: the
	// playground cannot get tokens and says so.
	AppKey crypto.Signer
	// AccessTokenLifetime of the demo OAuth server (default
	// demo.DefaultAccessTokenLifetime); tests shorten it.
	AccessTokenLifetime time.Duration
}

// Defaults of Limits.
var (
	DefaultConnectPerUser                   = ratelimit.Rate{Count: 10, Per: time.Minute, Burst: 10}
	DefaultConnectPerIP                     = ratelimit.Rate{Count: 120, Per: time.Minute, Burst: 120}
	DefaultMaxConnectionsPerUserIntegration = connect.DefaultMaxConnectionsPerUserIntegration
	DefaultMaxConnectionsPerUser            = connect.DefaultMaxConnectionsPerUser
)

// Limits protect providers, the operator's OAuth clients and the store
// from one user or one address. Zero fields take their defaults.
type Limits struct {
	// ConnectPerUser limits connect attempts of one end user (project and
	// user token subject): credential creation (POST …/sdk/credentials),
	// Connect Portal submits, build-oauth and connect-link creation. Each
	// attempt may call the provider, which makes an unlimited endpoint a
	// key-guessing oracle. Default 10/m; ratelimit.Disabled turns it off.
	ConnectPerUser ratelimit.Rate
	// ConnectPerIP limits the same routes plus connect-link opening and
	// OAuth callbacks by client address (IPv6 by /64). It does not apply to
	// connect-link creation, which app backends call for all their users.
	// Default 120/m; ratelimit.Disabled turns it off.
	ConnectPerIP ratelimit.Rate
	// TrustedProxies are the peers (reverse proxies, load balancers) whose
	// X-Forwarded-For is believed; the client address is then its right-most
	// hop that is not a trusted proxy. Empty (the default): the TCP peer is
	// the client and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// MaxConnectionsPerUserIntegration caps the connections one user holds
	// for one integration; one more is refused before the provider is
	// called. Reconnecting an existing one is always allowed. Default 25;
	// negative: no cap.
	MaxConnectionsPerUserIntegration int
	// MaxConnectionsPerUser caps a user's connections over all
	// integrations. Default 100; negative: no cap.
	MaxConnectionsPerUser int
	// ForcedRefreshCooldown: after an upstream 401 made the gateway refresh
	// a connection's token, further 401s of that connection within this
	// time are passed on without calling the token endpoint again (per
	// process). Expiry-driven refreshes are not affected. Default 30s;
	// negative disables the cooldown.
	ForcedRefreshCooldown time.Duration
	// MaxCachedConnections bounds the decrypted connections kept in
	// memory (least recently used go first). Default 10,000.
	MaxCachedConnections int
	// Workflows bounds workflow runs: concurrent runs per project and per
	// user, queued runs per user, a run's duration, payload size, how long
	// a request trigger waits (workflow.Limits; zero fields take its
	// defaults).
	Workflows workflow.Limits
	// MaxConcurrentRefreshes caps the token refreshes in flight at once
	// per integration (per process); more wait their turn. Default 16
	// (connection.DefaultMaxConcurrentRefreshes); negative: no cap.
	MaxConcurrentRefreshes int
}
