package connect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/integration"
	"github.com/plugboardhq/plugboard/manifest"
)

// unavailableError is the API's answer for an integration that cannot be
// connected on this gateway yet (integration.UnavailableReason).
func unavailableError(in *manifest.Integration, reason string) *apierror.Error {
	return apierror.New(http.StatusServiceUnavailable, apierror.IntegrationUnavailable, integration.Unavailable(in)+" "+reason)
}

// Ticket kinds in the store: short-lived records of the flows.
const (
	// ticketConnectLink: a single-use link that starts a portal session.
	ticketConnectLink = "connect_link"
	// ticketOAuthState: an authorization request in flight (oauthState).
	ticketOAuthState = "oauth_state"
	// ticketSessionSwitch holds a connect link's session while the browser
	// decides whether it replaces the other account's session open there.
	ticketSessionSwitch = "session_switch"
	// ticketSDKSession maps an SDK session (oauthMetaKeyId) to the
	// credential its popup created; the SDK polls it until it deletes it.
	ticketSDKSession = "oauth_session"
)

// Lifetimes of the tickets.
const (
	linkLifetime       = 10 * time.Minute // connect links and session switches
	stateLifetime      = 10 * time.Minute
	sdkSessionLifetime = 10 * time.Minute
)

// putJSON stores v as a ticket.
func (f *Flows) putJSON(ctx context.Context, kind, key string, v any, lifetime time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return f.Tickets.PutTicket(ctx, kind, key, b, time.Now().Add(lifetime))
}

// takeJSON uses a ticket up, decoding it into v.
func (f *Flows) takeJSON(ctx context.Context, kind, key string, v any) error {
	b, err := f.Tickets.TakeTicket(ctx, kind, key)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Link is what a connect link opens: a portal session for one user and
// one integration, to connect a new account or reconnect CredentialID.
type Link struct {
	ProjectID     string
	UserID        string
	Account       string // how pages name the account (project.User.Account)
	IntegrationID string
	CredentialID  string // reconnect this connection; empty: a new one
	// Opener is the app origin the result is posted to (already checked
	// against the allowed origins); empty for none.
	Opener string
	// SDKSession is the SDK popup's session key (SDKSessionKey): the
	// credential is recorded under it for the SDK's polling.
	SDKSession string
	// ReturnURL is the app page a result page opened in a tab links back
	// to (origin.Allowlist.ReturnURL has checked it); empty for none.
	ReturnURL string
}

// CreateLink stores a single-use connect link and returns its URL and
// expiry. A new connection (no CredentialID) must fit the user's caps; a
// reconnect must name one of the user's connections of the integration.
func (f *Flows) CreateLink(ctx context.Context, l Link) (string, time.Time, *apierror.Error) {
	in, ok := f.Integrations.Lookup(l.IntegrationID)
	if !ok {
		return "", time.Time{}, apierror.New(http.StatusNotFound, apierror.IntegrationMissing, "No integration "+apierror.Quote(l.IntegrationID)+".")
	}
	if reason := integration.UnavailableReason(in); reason != "" {
		return "", time.Time{}, unavailableError(in, reason)
	}
	if l.CredentialID != "" {
		if c, err := f.Connections.Get(ctx, l.ProjectID, l.UserID, l.CredentialID); err != nil || c.IntegrationID != in.ID {
			return "", time.Time{}, apierror.NoCredential(l.CredentialID, in.Name)
		}
	} else if e := f.CapFailure(ctx, in, l.ProjectID, l.UserID); e != nil {
		return "", time.Time{}, e
	}
	code := randomToken(32)
	sess := portalSession{ProjectID: l.ProjectID, UserID: l.UserID, IntegrationID: in.ID, CredentialID: l.CredentialID,
		Opener: l.Opener, Session: l.SDKSession, Account: l.Account, ReturnURL: l.ReturnURL}
	expires := time.Now().Add(linkLifetime)
	if err := f.putJSON(ctx, ticketConnectLink, hashToken(code), sess, linkLifetime); err != nil {
		f.Log.Error("storing a connect link failed", "error", err.Error())
		return "", time.Time{}, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "Could not create the link; try again.")
	}
	return f.PublicURL + "/connect/link/" + url.PathEscape(code), expires, nil
}

// SDKSessionKey scopes the SDK's random session key to the user, so that
// one user cannot read another's session.
func SDKSessionKey(projectID, userID, key string) string {
	return hashToken(projectID + "\x00" + userID + "\x00" + key)
}

// SDKSessionResult is the credential the SDK popup of session key (see
// SDKSessionKey) created, once it has; it stays until EndSDKSession.
func (f *Flows) SDKSessionResult(ctx context.Context, key string) (string, bool) {
	b, err := f.Tickets.PeekTicket(ctx, ticketSDKSession, key)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// EndSDKSession forgets an SDK session's result.
func (f *Flows) EndSDKSession(ctx context.Context, key string) {
	_, _ = f.Tickets.TakeTicket(ctx, ticketSDKSession, key)
}
