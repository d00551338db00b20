package connection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/gateway/tracing"
	"github.com/plugboardhq/plugboard/manifest"
)

// Errors of credential lookup and refresh.
var (
	ErrNotConnected = errors.New("the user has not connected this integration")
	// ErrNeedsReconnect: the provider refused the credential for good
	// (invalid_grant, revoked, no refresh token left). A token client's
	// errors match it with errors.Is when the refusal is final.
	ErrNeedsReconnect = errors.New("the provider no longer accepts this connection; the user must reconnect")
)

// Source is where a Refresher reads connections and writes refreshed ones:
// the store.
type Source interface {
	Default(ctx context.Context, projectID, userID, integrationID string) (*Connection, error)
	WithLock(ctx context.Context, id string, fn func(current *Connection) (*Connection, error)) (*Connection, error)
}

// Tokens renews a credential at the provider's token endpoint: the OAuth
// client. A refusal for good matches ErrNeedsReconnect.
type Tokens interface {
	Refresh(ctx context.Context, in *manifest.Integration, cred Credential) (Credential, time.Time, error)
}

// RefreshTimeout bounds one token refresh. Refreshes do not stop when the
// caller goes away: a rotated refresh token must be stored once it is issued.
const RefreshTimeout = 30 * time.Second

// Refresher finds a user's connection, keeps decrypted connections in
// memory for CacheTTL, and refreshes tokens: at most one refresh per
// connection at a time in this process (single-flight) and across processes
// (the store's lock, re-reading after it is taken).
type Refresher struct {
	Store    Source
	OAuth    Tokens
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	CacheTTL time.Duration // how long a connection read from the store is reused; default 30s
	// MaxCached bounds the decrypted connections kept in memory, least
	// recently used dropped first; default DefaultMaxCached.
	MaxCached int
	// ForcedRefreshCooldown: after a refresh forced by an upstream 401, no
	// other forced refresh of that connection calls the token endpoint for
	// this long (an API that answers 401 whatever the token must not make
	// the gateway spend the operator's client secret on every call).
	// Refreshes of (nearly) expired tokens are not affected. Per process.
	// Default DefaultForcedRefreshCooldown; negative disables it.
	ForcedRefreshCooldown time.Duration
	// MaxConcurrentRefreshes caps the token refreshes one integration has
	// in flight at once in this process: when thousands of tokens expire
	// together, the provider sees at most this many token requests at a
	// time (and, on PostgreSQL, at most this many pool connections are held
	// by refresh locks per integration); the others wait for a slot, up to
	// RefreshTimeout, then refresh in their turn (a request whose token is
	// still valid for RefreshAheadValidity does not wait: it uses the token
	// and the refresh happens in the background). Requests for the same
	// connection still share one refresh. Default
	// DefaultMaxConcurrentRefreshes; negative: no cap.
	MaxConcurrentRefreshes int

	flight singleflight.Group
	cache  connCache
	slots  refreshSlots
	ahead  sync.Map // connection id -> true while refreshed in the background

	// background counts the refreshes refreshAhead runs; Shutdown waits
	// for them. bgMu orders their Add with Shutdown: once stopped, no
	// more start (a WaitGroup must not grow while it is waited on).
	bgMu       sync.Mutex
	bgStopped  bool
	background sync.WaitGroup

	forcedMu   sync.Mutex
	forced     map[string]time.Time // connection id -> last forced refresh
	forcedNext int                  // len(forced) at which expired entries are swept
}

// DefaultForcedRefreshCooldown is Refresher.ForcedRefreshCooldown's default.
const DefaultForcedRefreshCooldown = 30 * time.Second

func (c *Refresher) ttl() time.Duration {
	if c.CacheTTL <= 0 {
		return 30 * time.Second
	}
	return c.CacheTTL
}

// CredentialHeader is the header in which the SDK names the connection
// (its credential id) a call is for, when a user has several connections
// of an integration: the proxy and workflow triggers use that one instead
// of the default.
const CredentialHeader = "X-Paragon-Credential"

// chosenKey is the context key of WithCredential.
type chosenKey struct{}

// WithCredential returns ctx naming connection id as the one to use:
// Default then returns it instead of the user's default connection, or
// ErrNotConnected when it is not the user's connection of the integration
// (any more). For the calls the gateway makes itself for a user who chose
// one of several connections (the proxy, and a workflow run, given the
// SDK's X-Paragon-Credential).
func WithCredential(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, chosenKey{}, id)
}

// byID is what Default needs of the store for WithCredential.
type byID interface {
	Get(ctx context.Context, projectID, userID, id string) (*Connection, error)
}

// Default returns the user's default connection for the integration, or
// the connection ctx names (WithCredential).
func (c *Refresher) Default(ctx context.Context, projectID, userID, integrationID string) (*Connection, error) {
	if id, _ := ctx.Value(chosenKey{}).(string); id != "" {
		return c.chosen(ctx, projectID, userID, integrationID, id)
	}
	if conn, ok := c.cache.get(cacheKey{projectID, userID, integrationID}, c.ttl()); ok {
		return conn, nil
	}
	conn, err := c.Store.Default(ctx, projectID, userID, integrationID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotConnected
	}
	if err != nil {
		return nil, err
	}
	c.remember(conn)
	return conn, nil
}

// chosen reads connection id from the store (the cache holds default
// connections only), if it is the user's connection of the integration.
func (c *Refresher) chosen(ctx context.Context, projectID, userID, integrationID, id string) (*Connection, error) {
	st, ok := c.Store.(byID)
	if !ok {
		return nil, errors.New("connection: the store cannot read a connection by its id")
	}
	conn, err := st.Get(ctx, projectID, userID, id)
	if errors.Is(err, ErrNotFound) || (err == nil && conn.IntegrationID != integrationID) {
		return nil, ErrNotConnected
	}
	if err != nil {
		return nil, err
	}
	return conn, nil
}

func (c *Refresher) remember(conn *Connection) {
	if !conn.IsDefault {
		return
	}
	c.cache.put(cacheKey{conn.ProjectID, conn.UserID, conn.IntegrationID}, conn, c.MaxCached)
}

// Forget drops a user's cached connection for an integration; call it after
// any change made outside this type (connect, disconnect, set default).
func (c *Refresher) Forget(projectID, userID, integrationID string) {
	c.cache.forget(cacheKey{projectID, userID, integrationID})
}

// ForgetAll drops every cached connection (after notifications may have
// been missed).
func (c *Refresher) ForgetAll() {
	c.cache.forgetAll()
}

func (c *Refresher) cooldown() time.Duration {
	if c.ForcedRefreshCooldown == 0 {
		return DefaultForcedRefreshCooldown
	}
	return c.ForcedRefreshCooldown
}

// MayForceRefresh reports whether an upstream 401 for connection id may
// make the gateway refresh its token now: no forced refresh of it happened
// within the cooldown.
func (c *Refresher) MayForceRefresh(id string) bool {
	cd := c.cooldown()
	if cd < 0 {
		return true
	}
	c.forcedMu.Lock()
	defer c.forcedMu.Unlock()
	last, ok := c.forced[id]
	return !ok || time.Since(last) >= cd
}

// Retry401 reports whether an upstream 401 to a request made with conn
// should be retried after a refresh: when no forced refresh of conn happened
// within the cooldown, or when one did and its token has replaced the one
// the request carried (the retry then needs no token request).
func (c *Refresher) Retry401(ctx context.Context, conn *Connection) bool {
	if c.MayForceRefresh(conn.ID) {
		return true
	}
	cur, err := c.Default(ctx, conn.ProjectID, conn.UserID, conn.IntegrationID)
	return err == nil && cur.ID == conn.ID && cur.Credential.AccessToken != conn.Credential.AccessToken
}

// forcedRefresh records that an upstream 401 made the gateway call the
// token endpoint for connection id. Entries older than the cooldown are
// swept whenever the map has doubled, so it holds about one cooldown's worth.
func (c *Refresher) forcedRefresh(id string) {
	cd := c.cooldown()
	if cd < 0 {
		return
	}
	now := time.Now()
	c.forcedMu.Lock()
	defer c.forcedMu.Unlock()
	if c.forced == nil {
		c.forced = map[string]time.Time{}
	}
	c.forced[id] = now
	if len(c.forced) >= c.forcedNext {
		for k, t := range c.forced {
			if now.Sub(t) >= cd {
				delete(c.forced, k)
			}
		}
		c.forcedNext = max(2*len(c.forced), 1024)
	}
}

// needsRefresh reports whether a token is expired or about to.
func needsRefresh(in *manifest.Integration, conn *Connection, now time.Time) bool {
	if conn.ExpiresAt.IsZero() {
		return false
	}
	margin := manifest.DefaultRefreshMargin
	switch {
	case in.Auth.OAuth2 != nil:
		margin = in.Auth.OAuth2.RefreshMargin
	case in.Auth.ClientCredentials != nil:
		margin = in.Auth.ClientCredentials.RefreshMargin
	}
	return !conn.ExpiresAt.After(now.Add(margin))
}

// Fresh returns conn, refreshed first if its token is (nearly) expired, or
// in any case when stale is the access token an upstream just refused.
func (c *Refresher) Fresh(ctx context.Context, in *manifest.Integration, conn *Connection, stale string) (*Connection, error) {
	if conn.Status == StatusNeedsReconnect {
		return nil, ErrNeedsReconnect
	}
	if in.Auth.Type != manifest.AuthOAuth2 && in.Auth.Type != manifest.AuthClientCredentials {
		return conn, nil
	}
	if stale == "" && !needsRefresh(in, conn, time.Now()) {
		return conn, nil
	}
	refresh := func() (any, error) {
		// The wait for a slot and the refresh each get RefreshTimeout: a
		// refresh that had to queue behind a storm is not cut short.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RefreshTimeout)
		defer cancel()
		release, err := c.slots.acquire(wctx, in.ID, c.MaxConcurrentRefreshes, c.Metrics)
		if err != nil {
			return nil, fmt.Errorf("refresh of connection %s (%s): %w within %s: %w", conn.ID, in.ID, errNoRefreshSlot, RefreshTimeout, err)
		}
		defer release()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RefreshTimeout)
		defer cancel()
		return c.refresh(rctx, in, conn.ID, stale)
	}
	// In a storm, a token that is still good for a while is used as it is
	// while its refresh waits for a slot, instead of making the request wait.
	if stale == "" && conn.ExpiresAt.After(time.Now().Add(RefreshAheadValidity)) && !c.slots.free(in.ID, c.MaxConcurrentRefreshes) {
		c.refreshAhead(conn.ID, refresh)
		return conn, nil
	}
	v, err, _ := c.flight.Do(conn.ID, refresh)
	if err != nil {
		return nil, err
	}
	return v.(*Connection), nil
}

// errNoRefreshSlot: a refresh waited RefreshTimeout for a slot in vain.
var errNoRefreshSlot = errors.New("no refresh slot free")

// RefreshAheadValidity: when every refresh slot of an integration is
// taken, a request whose token stays valid at least this much longer is
// served with it, and the refresh goes on in the background.
const RefreshAheadValidity = 10 * time.Second

// refreshAhead runs fn, connection id's refresh, in the background, unless
// one is already running or queued there.
func (c *Refresher) refreshAhead(id string, fn func() (any, error)) {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.bgStopped {
		return // shutting down: the token is still valid, the next start refreshes it
	}
	if _, queued := c.ahead.LoadOrStore(id, true); queued {
		return
	}
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		defer c.ahead.Delete(id)
		// refresh logs and counts its own failures; a wait for a slot that
		// timed out never reached it, so it is logged here.
		if _, err, _ := c.flight.Do(id, fn); errors.Is(err, errNoRefreshSlot) && c.Log != nil {
			c.Log.Warn("background token refresh found no refresh slot in time; the next request tries again", "connection", id, "error", err.Error())
		}
	}()
}

// Shutdown stops starting background refreshes and waits until those
// running have finished (a rotated refresh token must be stored once it
// is issued), or until ctx ends: then it returns ctx's error and they go
// on as long as the process does. Requests' own refreshes are not
// waited for: they end with their requests. Call it once the requests
// that could start one have been drained.
func (c *Refresher) Shutdown(ctx context.Context) error {
	c.bgMu.Lock()
	c.bgStopped = true
	c.bgMu.Unlock()
	done := make(chan struct{})
	go func() {
		c.background.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("background token refreshes still running: %w", ctx.Err())
	}
}

func (c *Refresher) refresh(ctx context.Context, in *manifest.Integration, id, stale string) (_ *Connection, err error) {
	result := "skipped" // another request or replica had refreshed it
	ctx, span := tracing.Start(ctx, "refresh token", trace.SpanKindInternal,
		tracing.IntegrationKey.String(in.ID), attribute.Bool("plugboard.refresh.forced", stale != ""))
	defer func() {
		span.SetAttributes(attribute.String("plugboard.refresh.result", result))
		if err != nil {
			span.SetStatus(codes.Error, result)
		}
		span.End()
	}()
	var outcome error
	var current *Connection
	forced := false
	updated, err := c.Store.WithLock(ctx, id, func(cur *Connection) (*Connection, error) {
		current = cur
		switch {
		case cur.Status == StatusNeedsReconnect:
			outcome, result = ErrNeedsReconnect, "needs_reconnect"
			return nil, nil
		case stale != "" && cur.Credential.AccessToken != stale:
			return nil, nil // another request or replica refreshed it already
		case stale == "" && !needsRefresh(in, cur, time.Now()):
			return nil, nil
		case stale != "" && !needsRefresh(in, cur, time.Now()):
			// Forced by an upstream 401 only: at most once per cooldown,
			// counted from when the new token is known (requests arriving
			// meanwhile join this refresh and use its token).
			if !c.MayForceRefresh(id) {
				return nil, nil
			}
			forced = true
		}
		cred, exp, err := c.OAuth.Refresh(ctx, in, cur.Credential)
		if err != nil {
			if errors.Is(err, ErrNeedsReconnect) {
				next := *cur
				next.Status, next.LastError = StatusNeedsReconnect, err.Error()
				outcome, result = ErrNeedsReconnect, "needs_reconnect"
				c.count(in, "needs_reconnect")
				c.Log.Warn("token refresh refused; connection needs reconnecting", "integration", in.ID, "connection", id, "error", err.Error())
				return &next, nil
			}
			c.count(in, "error")
			result = "error"
			return nil, err
		}
		next := *cur
		next.Credential, next.ExpiresAt, next.LastRefreshAt = cred, exp, time.Now()
		next.Status, next.LastError = StatusValid, ""
		c.count(in, "success")
		result = "success"
		return &next, nil
	})
	if err != nil {
		if forced {
			c.forcedRefresh(id)
		}
		c.Log.Warn("token refresh failed", "integration", in.ID, "connection", id, "error", err.Error())
		return nil, err
	}
	if updated == nil {
		updated = current
	}
	if updated != nil {
		c.remember(updated)
	}
	if forced {
		c.forcedRefresh(id) // after remember: Retry401 then sees the new token
	}
	if outcome != nil {
		return nil, outcome
	}
	return updated, nil
}

func (c *Refresher) count(in *manifest.Integration, result string) {
	if c.Metrics != nil {
		c.Metrics.TokenRefreshes.WithLabelValues(in.ID, result).Inc()
	}
}
