package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plugboardhq/plugboard/gateway"
	"github.com/plugboardhq/plugboard/gateway/demo"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/usertoken"
	"github.com/plugboardhq/plugboard/gateway/webhook"
	"github.com/plugboardhq/plugboard/manifest"
)

const serveHelp = `
Run the gateway: load the manifest folder, keep it live as files change
(file events, SIGHUP, POST /admin/v1/reload), store users' connections
encrypted, and proxy apps' calls to integrations' APIs with the user's
credential injected.

Every flag can also be set with an environment variable: --public-url is
PLUGBOARD_PUBLIC_URL, and so on; NAME_FILE (e.g. PLUGBOARD_ADMIN_TOKEN_FILE,
PLUGBOARD_ENCRYPTION_KEYS_FILE, PLUGBOARD_STORE_FILE) reads the value from a
file instead, as mounted secrets are. A flag on the command line wins over
the environment, which wins over the config file, which wins over the
built-in default.

Modes: "dev" needs no configuration: it generates an admin token, a user-token
signing key pair and an encryption key into the data folder, serves one
project (--project, default "dev"), and tolerates unset secret variables
(those integrations load, and fail only when a flow needs the secret).
"production" refuses to start without an admin token, PLUGBOARD_ENCRYPTION_KEYS
and PLUGBOARD_PROJECT_KEYS (naming every one missing), and rejects manifests
whose secrets are unset.
The default, "auto", is dev when --listen is a loopback address, else
production.

Every request gets an access log line at info level (--access-log=false
turns it off; the lines are written in batches, at the latest
--access-log-flush after they are logged, other records at once) and an
id: a sane X-Request-Id from the caller, or a new one, echoed in the answer
and sent upstream. Traces: set
OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and the
gateway exports OpenTelemetry spans by OTLP/HTTP; the other OTEL_* variables
apply, OTEL_SDK_DISABLED=true turns it off; without them, nothing is traced.

Outbound calls (proxied requests, test requests, token and revocation
endpoints) never reach loopback, private (RFC 1918), link-local (cloud
metadata 169.254.169.254), unique-local, CGNAT, multicast or other special
addresses, checked on the address actually dialled after DNS, and never
follow redirects on OAuth calls. --egress-allow opens ranges, e.g.
--egress-allow 10.0.0.0/8 for an API inside your network. Dev mode also lets
a host a manifest writes literally as localhost or 127.0.0.1 (not one
templated from user inputs) reach loopback, for local testing.

Manifests' secret references: ${NAME} reads an environment variable, never
one of the gateway's own (PLUGBOARD_*, PG*, HTTP_PROXY and kin) and, when
--secret-env-allow is set, only the names it lists; ${file:path} reads a
regular file of at most 64 KiB inside the manifest's folder or a
--secrets-dir folder, judged after following symbolic links, never inside
--data. A refused reference makes that manifest invalid, in every mode.

Routes (serve_test.go holds this list to the routes the gateway mounts):
  Operators
  GET    /healthz                          process alive
  GET    /readyz                           a catalog is loaded and not shutting down
  GET    /metrics                          Prometheus metrics (plugboard_*)
  GET    /admin/v1/integrations            every manifest file, status, problems (admin token)
  POST   /admin/v1/reload                  rescan now (admin token)
  GET    /admin/v1/connections             end users' connections: ?project= &user= &integration=
                                           &status= &cursor= &limit= (admin token; never secrets)
  GET    /admin/v1/connections/{id}        one in detail: status and why, non-secret inputs, times
  DELETE /admin/v1/connections/{id}        disconnect it (revoked where declared)
  GET    /admin/{$}                        admin console: sign-in form, then the overview (revision, counts)
  POST   /admin/sign-in                    sign in with the admin token (session cookie, 8 h)
  POST   /admin/sign-out                   end the console session
  GET    /admin/integrations               console: manifest files, status, located problems
  GET    /admin/errors                     console: recent gateway errors, newest first
  GET    /admin/connections                console: connections, filtered and paginated
  GET    /admin/connections/{id}           console: one connection (never secrets)
  POST   /admin/connections/{id}/disconnect console: disconnect it
  GET    /admin/workflows                  console: workflow files, each workflow drawn (with its last run)
  GET    /admin/workflow-runs              console: workflow runs, filtered and paginated
  GET    /admin/workflow-runs/{id}         console: one run step by step
  GET    /admin/v1/webhooks/deliveries     webhook deliveries: ?status=failed|pending|delivered
  POST   /admin/v1/webhooks/deliveries/{id}/redeliver   send a failed one again
                                           (webhook routes: with projects[].webhooks in --config)
  GET    /admin/v1/workflows               loaded workflows: integration, trigger, file
  GET    /admin/v1/workflow-runs           workflow runs, newest first: ?project= &user= &workflow=
                                           &status= &cursor= &limit=
  GET    /admin/v1/workflow-runs/{id}      one run step by step: status, attempts, times, output, error
                                           (workflow routes: with a store, when webhooks, health checks
                                           or workflows are configured at startup)
                                           (/metrics, /admin/v1 and the console move to --admin-listen when set)
  GET    /debug/pprof/{$}                  with --pprof, on --admin-listen only and without a token: Go's profiles
  GET    /debug/pprof/{name}               one named profile: heap, allocs, goroutine, mutex, block, threadcreate
  GET    /debug/pprof/profile              CPU profile (?seconds=30), for go tool pprof
  GET    /debug/pprof/trace                execution trace (?seconds=5)
  GET    /debug/pprof/symbol               symbol lookup, for go tool pprof
  Public catalog (no token; never secrets)
  GET    /v1/integrations                  every integration's public metadata
  GET    /v1/integrations/{id}             one integration
  GET    /v1/integrations/{id}/icon.svg    its sanitised icon
  The app, with a user token (Authorization: Bearer; {pid} is the project)
  ANY    /projects/{pid}/sdk/proxy/custom/{integration}/{path...}
                                           the proxy: the user's credential injected
  POST   /projects/{pid}/sdk/credentials   connect an api_key/basic/client-credentials
                                           integration (tested before it is stored)
  GET    /projects/{pid}/sdk/credentials/{id}    one of the user's credentials
  PATCH  /projects/{pid}/sdk/credentials/{id}    its workflows' choices: {"config": {"workflowSettings": {…}}}
  DELETE /projects/{pid}/sdk/credentials/{id}    disconnect it (revoked where declared)
  POST   /projects/{pid}/sdk/connect-links       a single-use Connect Portal link
  GET    /projects/{pid}/sdk/me                  the user and their integrations (SDK)
  PATCH  /projects/{pid}/sdk/me                  user metadata (accepted, not kept)
  GET    /projects/{pid}/sdk/integrations        integrations as the SDK lists them
  DELETE /projects/{pid}/sdk/integrations/{integrationId}   uninstall (SDK)
  POST   /projects/{pid}/sdk/workflows/{id}      enable a workflow for the user (body: {"settings": {…}}?)
  DELETE /projects/{pid}/sdk/workflows/{id}      disable it (its settings are kept)
  GET    /projects/{pid}/sdk/actions             the actions of the user's connected integrations, as tools
  POST   /projects/{pid}/sdk/actions             run one: {"action": …, "parameters": {…}}, through the proxy
  POST   /projects/{pid}/mcp                     MCP server (Streamable HTTP) for AI agents: the actions as tools
  GET    /projects/{pid}/mcp                     its stream of notifications (tools/list_changed)
  DELETE /projects/{pid}/mcp                     end an MCP session
  POST   /projects/{pid}/sdk/triggers/{workflowId}  run a request-triggered workflow (SDK workflow());
                                           answers with its response step once the run ends
  POST   /v2/projects/{pid}/sdk/events/trigger      an app event (SDK event()): starts the user's
                                           enabled workflows that listen for it; answers the run ids
                                           (both: X-Paragon-Credential picks the user's connection runs use)
  POST   /events/projects/{pid}/sdk/triggers/{workflowId}  the same two under /events, for an SDK
  POST   /events/v2/projects/{pid}/sdk/events/trigger     whose HERMES_PUBLIC_URL is <gateway>/events
  GET    /v2/projects/{pid}/sdk/actions/build-oauth         the SDK popup's connect link
  GET    /projects/{pid}/sdk/actions/session-id/{key}       the SDK popup's result
  DELETE /projects/{pid}/sdk/actions/session-id/{key}       forget it
  End users' browsers (the Connect Portal)
  GET    /projects/{pid}/sdk/actions/oauth-nonce  the SDK popup's first page
  GET    /connect/ui                       the page the SDK's connect() frames
  GET    /connect/link/{code}              open a connect link (starts a portal session)
  POST   /connect/switch/{code}            replace another account's portal session
  GET    /connect/portal/{id}              the connect form
  POST   /connect/portal/{id}              submit it (API key, client credentials, or on to OAuth)
  GET    /connect/portal/{id}/workflows    the integration's workflows: a switch and settings each
  POST   /connect/portal/{id}/workflows/{wid}   save one
  GET    /oauth/callback                   the OAuth redirect URI (<public URL>/oauth/callback)
  Dev mode only: the demo (--demo, on by default in dev mode, refused in production)
  GET    /{$}                              the playground (exactly /; nothing else at the root)
  POST   /demo/app/token                   the playground's stand-in app backend: a user token for {"user": "ada"}
  GET    /demo/oauth/authorize             demo OAuth server: the sign-in page (PKCE S256 required)
  POST   /demo/oauth/authorize             Allow or Deny
  POST   /demo/oauth/token                 authorization_code, refresh_token (rotating), client_credentials
  POST   /demo/oauth/revoke                token revocation (RFC 7009)
  GET    /demo/api/me                      demo API: whose credential this is
  GET    /demo/api/projects                the user's demo projects
  POST   /demo/api/projects                create one: {"name": "…"}
  GET    /demo/api/echo                    the request as the API received it
  POST   /demo/api/echo
`

type serveOptions struct {
	listen, publicURL, manifests, data, logFormat, logLevel, adminToken, mode string
	storePath, project, projectKeys, config, allowedOrigins, adminListen      string
	projectName, projectLogo                                                  string
	grace, poll, drain, maxTokenLifetime, accessLogFlush                      time.Duration
	maxBody                                                                   int64
	demo, accessLog, pprof, netHTTP                                           bool
	egressAllow                                                               string
	limits                                                                    limitFlags
	secrets                                                                   secretFlags
	fileProjects                                                              []project.Config // from the config file
	fileWebhooks                                                              *webhook.Config  // from the config file; nil: none
}

func runServe(args []string, stdout, stderr io.Writer) (err error) {
	o, fs, err := parseServeFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	var logs *logBuffer // set.logs, once resolved
	defer func() { err = o.startFailure(stderr, logs, err) }()
	set, err := o.resolve(fs, stderr)
	if err != nil {
		return err
	}
	logs = set.logs
	if set.logs != nil {
		defer set.logs.flushEvery(o.accessLogFlush)()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, kr, err := openCredentials(ctx, &o, set)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			set.log.Warn("closing the credential store", "error", err)
		}
	}()
	// Listen before building the server so that the default public URL has
	// the real port when --listen asks for any free one (port 0).
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	if o.publicURL == "" {
		o.publicURL = defaultPublicURL(o.listen, ln.Addr())
	}
	srv, err := gateway.New(o.gatewayConfig(set, st, kr))
	if err != nil {
		_ = ln.Close() // unused; the error that matters is err
		return err
	}
	if set.dev {
		// With JSON logs nothing else may reach stderr: the banner is then one record.
		if o.logFormat == "json" {
			logDevMode(set.log, o, ln.Addr().String(), srv.Reloader().Catalog())
		} else {
			printDevBanner(stderr, o, ln.Addr().String(), srv.Reloader().Catalog())
		}
	}
	admin, err := o.adminListener(set.log)
	if err != nil {
		_ = ln.Close() // unused; the error that matters is err
		return err
	}
	set.log.Info("listening", "addr", ln.Addr().String(), "mode", modeName(set.dev), "manifests", o.manifests, "version", version)
	set.log.Info("egress: outbound calls reach public addresses only, plus the allowed ranges", "egress_allow", fmt.Sprint(set.egressAllow), "literal_loopback", set.dev)
	return serveUntilSignalled(ctx, srv, ln, admin)
}

// parseServeFlags reads serve's flags, then fills those not given from the
// environment, then from the config file (whose projects it returns in o).
func parseServeFlags(args []string, stdout, stderr io.Writer) (serveOptions, *flag.FlagSet, error) {
	fs := newFlagSet("serve", "[flags]", serveHelp, stderr)
	var o serveOptions
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on, host:port")
	fs.StringVar(&o.adminListen, "admin-listen", "", "separate address for /metrics, /admin/v1 and the admin console /admin/ (then not served on --listen), e.g. 0.0.0.0:9090 inside a cluster")
	fs.BoolVar(&o.pprof, "pprof", false, "serve Go's runtime profiles under /debug/pprof/ on --admin-listen (without the admin token: keep that address private), for go tool pprof")
	fs.StringVar(&o.publicURL, "public-url", "", "external base URL of the gateway, used in links and OAuth redirect URIs (default http://<listen>)")
	fs.StringVar(&o.manifests, "manifests", "integrations.d", "folder of integration manifests, watched for changes")
	fs.StringVar(&o.data, "data", ".plugboard", "folder for the embedded store and generated dev keys")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json (json: nothing but JSON records on stderr, the dev banner included)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.adminToken, "admin-token", "", "bearer token for /admin/v1 (at least 16 characters; generated in dev mode)")
	fs.StringVar(&o.mode, "mode", "auto", "dev, production, or auto (dev on a loopback --listen address)")
	fs.DurationVar(&o.grace, "shutdown-grace", 20*time.Second, "on SIGTERM/SIGINT, how long in-flight requests may take to finish")
	fs.BoolVar(&o.netHTTP, "net-http-server", false, "serve the public listener with Go's net/http server instead of Plugboard's own HTTP/1.1 server (a fallback; the admin listener always uses net/http)")
	fs.DurationVar(&o.drain, "drain-delay", 0, "on SIGTERM/SIGINT, keep serving this long with /readyz at 503 before closing the listener, so load balancers stop sending traffic first")
	fs.DurationVar(&o.poll, "poll-interval", 10*time.Second, "periodic rescan of the manifest folder, a safety net for missed file events (0 disables)")
	fs.StringVar(&o.storePath, "store", "", "credential store: a SQLite file path (default <data>/plugboard.db), or a postgres:// URL shared by several replicas")
	fs.StringVar(&o.project, "project", "dev", "id of the project served (the {projectId} in /projects/{projectId}/…)")
	fs.StringVar(&o.projectKeys, "project-keys", "", "comma-separated PEM files of the public keys that verify the project's user tokens (dev: generated <data>/signing-key.pub.pem)")
	fs.StringVar(&o.projectName, "project-name", "", "the app's name as its users know it, shown on every Connect Portal page that connects an account (default: the project id)")
	fs.StringVar(&o.projectLogo, "project-logo", "", "the app's logo shown next to its name: a PNG, JPEG, GIF, WebP or SVG file of at most 64 KiB")
	fs.DurationVar(&o.maxTokenLifetime, "max-user-token-lifetime", project.DefaultMaxUserTokenLifetime, "refuse user tokens that live longer (exp-iat, or exp-now without iat): they travel in the OAuth popup's URL; 0 means no limit")
	fs.Int64Var(&o.maxBody, "max-body-bytes", 10<<20, "largest request body the proxy forwards, in bytes")
	fs.StringVar(&o.allowedOrigins, "allowed-origins", "", "comma-separated app origins (https://app.example.com) that may embed the Connect Portal and receive its results")
	fs.StringVar(&o.egressAllow, "egress-allow", "", "comma-separated CIDRs that outbound calls may reach although they are private or special (e.g. 10.0.0.0/8,fd00::/8); by default only public addresses")
	fs.BoolVar(&o.accessLog, "access-log", true, "log one line per request at info level: request id, route, project, integration, user, method, status, error code, upstream status, durations (never tokens, query strings or bodies)")
	fs.DurationVar(&o.accessLogFlush, "access-log-flush", 100*time.Millisecond, "write access lines in batches, at the latest this long after they are logged (and whenever 64 KiB wait, another record is logged, or serve stops); 0 writes each at once")
	fs.BoolVar(&o.demo, "demo", true, "dev mode: also serve the demo integrations (demo-apikey, demo-basic, demo-oauth, demo-clientcreds), their demo API and OAuth server under /demo/, and the playground at /; refused in production")
	addLimitFlags(fs, &o.limits)
	o.secrets.register(fs)
	fs.StringVar(&o.config, "config", "plugboard.yaml", "configuration file (optional when left at its default); see schemas/config.schema.json")
	if err := parseFlags(fs, args, stdout); err != nil {
		return o, fs, err
	}
	if fs.NArg() > 0 {
		return o, fs, o.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnv(fs, os.LookupEnv); err != nil {
		return o, fs, o.usageError(stderr, "%v", err)
	}
	var err error
	if o.fileProjects, o.fileWebhooks, err = applyConfigFile(fs, o.config); err != nil {
		return o, fs, o.usageError(stderr, "%v", err)
	}
	return o, fs, nil
}

// usageError reports a usage error (exit status 2): a line of text, or a
// JSON log record with --log-format json, so that nothing but JSON reaches
// stderr once the flags are read.
func (o serveOptions) usageError(stderr io.Writer, format string, a ...any) error {
	if o.logFormat == "json" {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error("plugboard serve: "+fmt.Sprintf(format, a...), "exit_status", exitUsage)
	} else {
		fmt.Fprintf(stderr, "plugboard serve: "+format+"\n", a...)
	}
	return exitError{exitUsage}
}

// startFailure reports why serve stopped with an error as a JSON log record
// with --log-format json (exit status 1); otherwise run prints it as text.
// Either comes after everything logged before: the access lines still
// waiting in logs (nil: none are batched) are written first.
func (o serveOptions) startFailure(stderr io.Writer, logs *logBuffer, err error) error {
	if err != nil && logs != nil {
		_ = logs.Flush() // a failed write to stderr leaves nowhere to report it
	}
	var ee exitError
	if err == nil || o.logFormat != "json" || errors.As(err, &ee) {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	var m missingSettings
	if errors.As(err, &m) {
		log.Error("plugboard serve: production mode needs settings that are missing", "missing", []string(m), "exit_status", exitInvalid)
	} else {
		log.Error("plugboard serve: "+err.Error(), "exit_status", exitInvalid)
	}
	return exitError{exitInvalid}
}

// serveSettings are what the options resolve to before anything starts.
type serveSettings struct {
	log          *slog.Logger
	logs         *logBuffer // access lines waiting for their batch; nil: written at once
	dev          bool
	egressAllow  []netip.Prefix
	limits       gateway.Limits
	secretPolicy manifest.SecretPolicy
	projects     []project.Config
}

// resolve checks the options and works out the mode, the policies and the
// projects; it creates the data folder and, in dev mode, the admin token.
// Usage errors are printed and returned as exit status 2.
func (o *serveOptions) resolve(fs *flag.FlagSet, stderr io.Writer) (serveSettings, error) {
	var set serveSettings
	usage := func(format string, a ...any) (serveSettings, error) {
		return set, o.usageError(stderr, format, a...)
	}
	var err error
	if o.pprof && o.adminListen == "" {
		return usage("--pprof needs --admin-listen: profiles are served only on the admin listener")
	}
	if o.accessLogFlush < 0 {
		return usage("--access-log-flush %s: want a duration of 0 or more", o.accessLogFlush)
	}
	logTo := stderr
	if o.accessLog && o.accessLogFlush > 0 {
		set.logs = &logBuffer{w: stderr}
		logTo = set.logs
	}
	if set.log, err = newLogger(logTo, o.logFormat, o.logLevel); err != nil {
		return usage("%v", err)
	}
	if set.logs != nil {
		set.log = slog.New(batchingHandler{Handler: set.log.Handler(), buf: set.logs, fastJSON: o.logFormat == "json"})
	}
	if set.dev, err = resolveMode(o.mode, o.listen); err != nil {
		return usage("%v", err)
	}
	if set.egressAllow, err = egress.ParseAllow(o.egressAllow); err != nil {
		return usage("--egress-allow: %v", err)
	}
	if set.limits, err = o.limits.limits(); err != nil {
		return usage("%v", err)
	}
	if set.secretPolicy, err = o.secrets.policy(o.data); err != nil {
		return usage("%v", err)
	}
	if err := checkDemo(o.demo, setByUser(fs, "demo"), set.dev); err != nil {
		return usage("%v", err)
	}
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return set, fmt.Errorf("data folder: %w", err)
	}
	if set.dev && o.adminToken == "" {
		if o.adminToken, err = devSecret(filepath.Join(o.data, "admin-token")); err != nil {
			return set, err
		}
	}
	projectFlags := setByUser(fs, "project") || setByUser(fs, "project-keys")
	set.projects = o.fileProjects
	if len(set.projects) > 0 && !projectFlags && (setByUser(fs, "project-name") || setByUser(fs, "project-logo")) {
		return usage("--project-name and --project-logo describe the --project project; the config file's projects take name and logo keys")
	}
	if !set.dev {
		if err := o.productionSettings(len(set.projects) == 0 || projectFlags); err != nil {
			return set, err
		}
	}
	if len(set.projects) == 0 || projectFlags {
		keys, err := projectKeys(*o, set.dev)
		if err != nil {
			return set, err
		}
		set.projects = []project.Config{{ID: o.project, Keys: keys, Name: o.projectName, Logo: o.projectLogo}}
		if !set.dev && !setByUser(fs, "project") {
			set.log.Warn("serving the default project id \"dev\" in production; set --project (PLUGBOARD_PROJECT) to your app's project id")
		}
	}
	if fi, err := os.Stat(o.manifests); err != nil || !fi.IsDir() {
		return set, fmt.Errorf("manifest folder %q not found: set --manifests or PLUGBOARD_MANIFESTS", o.manifests)
	}
	return set, nil
}

// missingSettings is production mode's refusal to start: every setting it
// needs that is missing, so that one attempt shows them all.
type missingSettings []string

func (m missingSettings) Error() string {
	return "production mode needs settings that are missing:\n  - " + strings.Join(m, "\n  - ") + "\nFor local development, use --mode dev."
}

// productionSettings checks that what production mode needs is set: the
// admin token, the encryption keys and, when the flags (not the config
// file's projects) name the project, its user-token keys.
func (o serveOptions) productionSettings(flagProject bool) error {
	var missing missingSettings
	if len(o.adminToken) < 16 {
		missing = append(missing, "an admin token of at least 16 characters: set PLUGBOARD_ADMIN_TOKEN (or --admin-token, or PLUGBOARD_ADMIN_TOKEN_FILE)")
	}
	switch v, ok, err := envValue(os.LookupEnv, "PLUGBOARD_ENCRYPTION_KEYS"); {
	case err != nil:
		missing = append(missing, err.Error())
	case !ok || v == "":
		missing = append(missing, "PLUGBOARD_ENCRYPTION_KEYS (or PLUGBOARD_ENCRYPTION_KEYS_FILE), the keys credentials are encrypted with at rest: create one with `plugboard keys generate`")
	}
	if flagProject && len(splitList(o.projectKeys)) == 0 {
		missing = append(missing, "the public key(s) that verify user tokens: set PLUGBOARD_PROJECT_KEYS (or --project-keys) to PEM files, or list projects in the config file; create a pair with `plugboard keys generate`")
	}
	if len(missing) > 0 {
		return missing
	}
	return nil
}

// openCredentials loads the encryption keys and opens the credential store.
func openCredentials(ctx context.Context, o *serveOptions, set serveSettings) (store.Store, *seal.Keyring, error) {
	kr, keySource, err := loadKeyring(o.data, set.dev)
	if err != nil {
		return nil, nil, err
	}
	if o.storePath == "" {
		o.storePath = filepath.Join(o.data, databaseFile)
	}
	st, err := openStore(ctx, o.storePath, kr)
	if err != nil {
		return nil, nil, fmt.Errorf("credential store %s: %w", redactDSN(o.storePath), err)
	}
	set.log.Debug("credential store open", "store", redactDSN(o.storePath), "encryption_keys_from", keySource)
	return st, kr, nil
}

// gatewayConfig is the gateway's configuration from the options.
func (o serveOptions) gatewayConfig(set serveSettings, st store.Store, kr *seal.Keyring) gateway.Config {
	return gateway.Config{
		PublicURL:            o.publicURL,
		ManifestDir:          o.manifests,
		AdminToken:           o.adminToken,
		ShutdownGrace:        o.grace,
		DrainDelay:           o.drain,
		NetHTTPServer:        o.netHTTP,
		SeparateAdmin:        o.adminListen != "",
		Profiling:            o.pprof,
		PollInterval:         o.poll,
		Manifest:             manifest.Options{ResolveSecrets: true, AllowUnresolvedSecrets: set.dev, SecretPolicy: set.secretPolicy},
		Log:                  set.log,
		Version:              version,
		Projects:             set.projects,
		Keyring:              kr,
		AllowedOrigins:       splitList(o.allowedOrigins),
		MaxUserTokenLifetime: maxLifetimeConfig(o.maxTokenLifetime),
		Store:                st,
		MaxBodyBytes:         o.maxBody,
		Egress:               egress.Policy{Allow: set.egressAllow, LiteralLoopback: set.dev},
		Limits:               set.limits,
		Demo:                 demoConfig(o, set),
		AccessLog:            o.accessLog,
		Tracing:              true, // when the OTEL_* environment names an endpoint
		Webhooks:             o.fileWebhooks,
	}
}

// adminListener opens --admin-listen, if set.
func (o serveOptions) adminListener(log *slog.Logger) ([]net.Listener, error) {
	if o.adminListen == "" {
		return nil, nil
	}
	aln, err := net.Listen("tcp", o.adminListen)
	if err != nil {
		return nil, fmt.Errorf("--admin-listen: %w", err)
	}
	log.Info("admin listener: /metrics and /admin/v1 are served here only", "addr", aln.Addr().String())
	return []net.Listener{aln}, nil
}

// serveUntilSignalled serves until ctx ends (SIGTERM, SIGINT), reloading
// the manifests on SIGHUP.
func serveUntilSignalled(ctx context.Context, srv *gateway.Server, ln net.Listener, admin []net.Listener) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			srv.Reloader().Reload("SIGHUP")
		}
	}()
	return srv.Serve(ctx, ln, admin...)
}

// maxLifetimeConfig maps --max-user-token-lifetime (0: no limit) to
// gateway.Config (negative: no limit).
func maxLifetimeConfig(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// defaultPublicURL is http://<listen> with the port the listener got, so
// "127.0.0.1:0" gives a URL that works and "localhost:8080" keeps its host
// (OAuth redirect URIs must match what was registered).
func defaultPublicURL(listen string, addr net.Addr) string {
	host, _, err := net.SplitHostPort(listen)
	_, port, err2 := net.SplitHostPort(addr.String())
	if err != nil || err2 != nil {
		return "http://" + listen
	}
	return "http://" + net.JoinHostPort(host, port)
}

// projectKeys loads the public keys that verify user tokens: --project-keys,
// or in dev mode the generated pair in the data folder.
func projectKeys(o serveOptions, dev bool) ([]usertoken.PublicKey, error) {
	files := splitList(o.projectKeys)
	if len(files) == 0 {
		if !dev {
			return nil, errors.New("production mode needs the public key(s) that verify user tokens: set PLUGBOARD_PROJECT_KEYS (or --project-keys) to PEM files; create a pair with `plugboard keys generate`")
		}
		pub := filepath.Join(o.data, signingPubFile)
		if _, err := os.Stat(pub); errors.Is(err, os.ErrNotExist) {
			if err := writeSigningKeys(o.data, "RS256"); err != nil {
				return nil, fmt.Errorf("generating the dev signing key: %w", err)
			}
		}
		files = []string{pub}
	}
	return loadPublicKeys(files)
}

func loadPublicKeys(files []string) ([]usertoken.PublicKey, error) {
	var keys []usertoken.PublicKey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("project key: %w", err)
		}
		pub, err := usertoken.ParsePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("project key %s: %w", f, err)
		}
		kid, err := usertoken.KeyID(pub)
		if err != nil {
			return nil, fmt.Errorf("project key %s: %w", f, err)
		}
		keys = append(keys, usertoken.PublicKey{ID: kid, Key: pub})
	}
	return keys, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// applyEnv sets every flag not given on the command line from its
// PLUGBOARD_* environment variable.
func applyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		v, ok, e := envValue(lookup, name)
		if e != nil {
			err = e
			return
		}
		if ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %v", name, e)
			}
		}
	})
	return err
}

// envValue reads NAME, or else the file NAME_FILE names (trailing newlines
// removed), the convention for secrets mounted as files in containers.
func envValue(lookup func(string) (string, bool), name string) (string, bool, error) {
	if v, ok := lookup(name); ok {
		return v, true, nil
	}
	path, ok := lookup(name + "_FILE")
	if !ok {
		return "", false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false, fmt.Errorf("%s_FILE: %v", name, err)
	}
	return strings.TrimRight(string(b), "\r\n"), true, nil
}

func envName(flagName string) string {
	return "PLUGBOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func resolveMode(mode, listen string) (dev bool, err error) {
	switch mode {
	case "dev":
		return true, nil
	case "production":
		return false, nil
	case "auto":
		host, _, err := net.SplitHostPort(listen)
		if err != nil {
			return false, fmt.Errorf("--listen %q: %v", listen, err)
		}
		ip := net.ParseIP(host)
		return host == "localhost" || (ip != nil && ip.IsLoopback()), nil
	}
	return false, fmt.Errorf("--mode %q: want dev, production or auto", mode)
}

func modeName(dev bool) string {
	if dev {
		return "dev"
	}
	return "production"
}

// devSecret returns the random secret stored at path, creating it (0600) on
// first use, so a dev gateway keeps its admin token across restarts.
func devSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing dev secret: %w", err)
	}
	return tok, nil
}

// logDevMode is the dev banner's information as one log record, for
// --log-format json, where nothing but JSON may reach stderr.
func logDevMode(log *slog.Logger, o serveOptions, addr string, cat *manifest.Catalog) {
	base := "http://" + addr
	data, _ := filepath.Abs(o.data)
	attrs := []any{"integrations_url", base + "/v1/integrations", "integrations", cat.Len(), "manifests", o.manifests,
		"admin_token_file", filepath.Join(data, adminTokenFile), "admin_url", base + "/admin/v1/integrations",
		"metrics_url", base + "/metrics", "data", data}
	if o.demo {
		attrs = append(attrs, "playground_url", base+"/", "user_token_command", selfCommand()+" token --user alice")
	}
	log.Info("dev mode: not for production (see plugboard serve --help)", attrs...)
}

func printDevBanner(w io.Writer, o serveOptions, addr string, cat *manifest.Catalog) {
	base := "http://" + addr
	data, _ := filepath.Abs(o.data)
	man, _ := filepath.Abs(o.manifests)
	self := selfCommand()
	demos := 0
	for _, e := range cat.Entries() {
		if e.Integration != nil && strings.HasPrefix(e.Path, demo.PathPrefix) {
			demos++
		}
	}
	fmt.Fprintf(w, "\nPlugboard (version %s) is running in dev mode (not for production: see plugboard serve --help).\n", version)
	if o.demo {
		fmt.Fprintf(w, "  Playground    %s/   (pick a user, connect integrations, call their API)\n", base)
	}
	fmt.Fprintf(w, "  Integrations  %s/v1/integrations   (%d from %s, hot reload on", base, cat.Len()-demos, man)
	if demos > 0 {
		fmt.Fprintf(w, "; %d demo integrations served by this gateway under /demo/", demos)
	}
	fmt.Fprintln(w, ")")
	if o.demo {
		tokenArgs := ""
		if o.data != ".plugboard" {
			tokenArgs += " --data " + shellQuote(data)
		}
		if o.project != "dev" {
			tokenArgs += " --project " + shellQuote(o.project)
		}
		fmt.Fprintf(w, `Try it with curl (the demo API answers here; no internet needed):
  1. User token  TOKEN=$(%s token --user alice%s)
  2. Connect     curl -H "Authorization: Bearer $TOKEN" -d '{"integrationId":"custom.demo-apikey","payload":{"api_key":"demo-key-alice"}}' %s/projects/%s/sdk/credentials
  3. Proxy       curl -H "Authorization: Bearer $TOKEN" %s/projects/%s/sdk/proxy/custom/demo-apikey/me
  4. Workflow    curl -H "Authorization: Bearer $TOKEN" -d '{}' %s/projects/%s/sdk/triggers/demo-greeting
`, self, tokenArgs, base, o.project, base, o.project, base, o.project)
	}
	fmt.Fprintf(w, `  Admin API     curl -H "Authorization: Bearer $(cat %s)" %s/admin/v1/integrations
  Metrics       %s/metrics
  Data          %s (dev keys, admin token, plugboard.db)
Edit a manifest and watch the log; check one with: %s validate %s

`, shellQuote(filepath.Join(data, adminTokenFile)), base, base, data, self, o.manifests)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// redactDSN hides the password of a postgres:// URL for messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}
