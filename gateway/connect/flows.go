// Package connect is how end users connect accounts: connect links, the
// Connect Portal's forms, the OAuth authorization code flow, API keys and
// client credentials, the SDK's install popup, and disconnecting. Whatever
// the way in, a credential is tested at the provider before it is stored.
package connect

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/gateway/origin"
	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/gateway/ratelimit"
	"github.com/plugboardhq/plugboard/gateway/routes"
	"github.com/plugboardhq/plugboard/gateway/seal"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/userworkflows"
	"github.com/plugboardhq/plugboard/manifest"
)

// OAuth is the provider side of the flows (gateway/oauth's Client).
type OAuth interface {
	AuthCodeURL(in *manifest.Integration, inputs map[string]string, redirectURI, state, verifier string) (string, error)
	Exchange(ctx context.Context, in *manifest.Integration, inputs map[string]string, redirectURI, code, verifier string) (*oauth2.Token, error)
	ClientCredentials(ctx context.Context, in *manifest.Integration, clientID, clientSecret string, inputs map[string]string) (*oauth2.Token, error)
	Revoke(ctx context.Context, in *manifest.Integration, cred connection.Credential) error
}

// Tester makes an integration's test request with a credential (the proxy).
type Tester interface {
	Test(ctx context.Context, in *manifest.Integration, conn *connection.Connection) (*proxy.TestResult, error)
}

// Credentials is the refresher's side the flows use: its cache of
// connections, dropped after every change, and fresh default connections.
type Credentials interface {
	Forget(projectID, userID, integrationID string)
	Default(ctx context.Context, projectID, userID, integrationID string) (*connection.Connection, error)
	Fresh(ctx context.Context, in *manifest.Integration, conn *connection.Connection, stale string) (*connection.Connection, error)
}

// Caps bound the connections one user may hold. Zero fields take their
// defaults; negative means no cap.
type Caps struct {
	PerUserIntegration int // default DefaultMaxConnectionsPerUserIntegration
	PerUser            int // default DefaultMaxConnectionsPerUser
}

// Defaults of Caps.
const (
	DefaultMaxConnectionsPerUserIntegration = 25
	DefaultMaxConnectionsPerUser            = 100
)

// Flows serves the connect flows. Every field is required but Limits
// (nil: no rate limits) and Log.
type Flows struct {
	Connections  store.Connections
	Tickets      store.Tickets
	OAuth        OAuth
	Tester       Tester
	Credentials  Credentials
	Integrations *integration.Directory
	Projects     *project.Registry
	Origins      origin.Allowlist
	Limits       *ratelimit.Guard
	Keyring      *seal.Keyring // seals portal sessions
	PublicURL    string        // where browsers reach the gateway; base of the OAuth redirect URI
	Caps         Caps
	Log          *slog.Logger
	// Failed, if set, is told of every connect attempt that failed at the
	// provider (token exchange, test request), with the cause.
	Failed func(integrationID string, e *apierror.Error)
	// TestFailed, if set, is told of every connect attempt whose
	// credential test failed, with the user's project, user, integration
	// and (when reconnecting) connection id, and why (never a secret): the webhooks'
	// connection.test_failed. It must not block for long.
	TestFailed func(ctx context.Context, c connection.Connection, why string)
	// Checks, if set, records the successful credential test of every
	// connection stored, as its last health check: a reconnect clears a
	// failed check (store.Inventory.RecordCheck).
	Checks interface {
		RecordCheck(ctx context.Context, id string, at time.Time, checkError string) error
	}
	// Workflows, if set, serves the portal's workflows page (the users'
	// choices); nil: no integration has workflows.
	Workflows *userworkflows.Service
	// Changed, if set, is told of every connection stored or deleted (the
	// MCP server recomputes the user's tools). It must not block.
	Changed func(projectID, userID string)
}

// Register mounts the flows' routes: the portal and its links, the OAuth
// callback, the SDK's connect iframe and install popup.
func (f *Flows) Register(mux *routes.Table) {
	mux.HandleFunc("GET /connect/link/{code}", f.limitIP(f.openConnectLink))
	mux.HandleFunc("POST /connect/switch/{code}", f.switchSession)
	mux.HandleFunc("GET /connect/portal/{id}", f.showPortal)
	mux.HandleFunc("POST /connect/portal/{id}", f.limitIP(f.submitPortal))
	mux.HandleFunc("GET /connect/portal/{id}/workflows", f.showWorkflows)
	mux.HandleFunc("POST /connect/portal/{id}/workflows/{wid}", f.limitIP(f.saveWorkflow))
	mux.HandleFunc("GET /oauth/callback", f.limitIP(f.oauthCallback))
	mux.HandleFunc("GET /connect/ui", f.connectUI)
	mux.HandleFunc("GET /projects/{pid}/sdk/actions/oauth-nonce", f.sdkOAuthNonce)
}

func (f *Flows) cookies() cookies {
	return cookies{secure: strings.HasPrefix(f.PublicURL, "https://"), keyring: f.Keyring}
}

func (f *Flows) redirectURI() string { return f.PublicURL + "/oauth/callback" }

// connectUI is the Connect Portal page the SDK's connect() loads in its iframe.
func (f *Flows) connectUI(w http.ResponseWriter, r *http.Request) {
	portal.RenderUI(w, f.Origins, f.portalOptions())
}
