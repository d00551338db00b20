package proxy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/gateway/oauth"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
)

// Errors of credential lookup, mapped to the proxy's error codes.
var (
	ErrNotConnected   = errors.New("the user has not connected this integration")
	ErrNeedsReconnect = errors.New("the provider no longer accepts this connection; the user must reconnect")
)

// RefreshTimeout bounds one token refresh. Refreshes do not stop when the
// caller goes away: a rotated refresh token must be stored once it is issued.
const RefreshTimeout = 30 * time.Second

// Credentials finds a user's connection, keeps decrypted connections in
// memory for CacheTTL, and refreshes tokens: at most one refresh per
// connection at a time in this process (single-flight) and across processes
// (the store's lock, re-reading after it is taken).
type Credentials struct {
	Store    store.Store
	OAuth    oauth.Client
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	CacheTTL time.Duration // how long a connection read from the store is reused; default 30s

	flight singleflight.Group
	mu     sync.RWMutex
	cache  map[cacheKey]cachedConn
}

type cacheKey struct{ project, user, integration string }

type cachedConn struct {
	conn    *store.Connection
	fetched time.Time
}

func (c *Credentials) ttl() time.Duration {
	if c.CacheTTL <= 0 {
		return 30 * time.Second
	}
	return c.CacheTTL
}

// Default returns the user's default connection for the integration.
func (c *Credentials) Default(ctx context.Context, projectID, userID, integrationID string) (*store.Connection, error) {
	key := cacheKey{projectID, userID, integrationID}
	c.mu.RLock()
	e, ok := c.cache[key]
	c.mu.RUnlock()
	if ok && time.Since(e.fetched) < c.ttl() {
		return e.conn, nil
	}
	conn, err := c.Store.Default(ctx, projectID, userID, integrationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotConnected
	}
	if err != nil {
		return nil, err
	}
	c.remember(conn)
	return conn, nil
}

func (c *Credentials) remember(conn *store.Connection) {
	if !conn.IsDefault {
		return
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[cacheKey]cachedConn{}
	}
	c.cache[cacheKey{conn.ProjectID, conn.UserID, conn.IntegrationID}] = cachedConn{conn: conn, fetched: time.Now()}
	c.mu.Unlock()
}

// Forget drops a user's cached connection for an integration; call it after
// any change made outside this type (connect, disconnect, set default).
func (c *Credentials) Forget(projectID, userID, integrationID string) {
	c.mu.Lock()
	delete(c.cache, cacheKey{projectID, userID, integrationID})
	c.mu.Unlock()
}

// ForgetAll drops every cached connection (after notifications may have
// been missed).
func (c *Credentials) ForgetAll() {
	c.mu.Lock()
	c.cache = nil
	c.mu.Unlock()
}

// needsRefresh reports whether a token is expired or about to.
func needsRefresh(in *manifest.Integration, conn *store.Connection, now time.Time) bool {
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
func (c *Credentials) Fresh(ctx context.Context, in *manifest.Integration, conn *store.Connection, stale string) (*store.Connection, error) {
	if conn.Status == store.StatusNeedsReconnect {
		return nil, ErrNeedsReconnect
	}
	if in.Auth.Type != manifest.AuthOAuth2 && in.Auth.Type != manifest.AuthClientCredentials {
		return conn, nil
	}
	if stale == "" && !needsRefresh(in, conn, time.Now()) {
		return conn, nil
	}
	v, err, _ := c.flight.Do(conn.ID, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RefreshTimeout)
		defer cancel()
		return c.refresh(rctx, in, conn.ID, stale)
	})
	if err != nil {
		return nil, err
	}
	return v.(*store.Connection), nil
}

func (c *Credentials) refresh(ctx context.Context, in *manifest.Integration, id, stale string) (*store.Connection, error) {
	var outcome error
	var current *store.Connection
	updated, err := c.Store.WithLock(ctx, id, func(cur *store.Connection) (*store.Connection, error) {
		current = cur
		switch {
		case cur.Status == store.StatusNeedsReconnect:
			outcome = ErrNeedsReconnect
			return nil, nil
		case stale != "" && cur.Credential.AccessToken != stale:
			return nil, nil // another request or replica refreshed it already
		case stale == "" && !needsRefresh(in, cur, time.Now()):
			return nil, nil
		}
		cred, exp, err := c.OAuth.Refresh(ctx, in, cur.Credential)
		if err != nil {
			if oauth.NeedsReconnect(err) {
				next := *cur
				next.Status, next.LastError = store.StatusNeedsReconnect, err.Error()
				outcome = ErrNeedsReconnect
				c.count(in, "needs_reconnect")
				c.Log.Warn("token refresh refused; connection needs reconnecting", "integration", in.ID, "connection", id, "error", err.Error())
				return &next, nil
			}
			c.count(in, "error")
			return nil, err
		}
		next := *cur
		next.Credential, next.ExpiresAt = cred, exp
		next.Status, next.LastError = store.StatusValid, ""
		c.count(in, "success")
		return &next, nil
	})
	if err != nil {
		c.Log.Warn("token refresh failed", "integration", in.ID, "connection", id, "error", err.Error())
		return nil, err
	}
	if updated == nil {
		updated = current
	}
	if updated != nil {
		c.remember(updated)
	}
	if outcome != nil {
		return nil, outcome
	}
	return updated, nil
}

func (c *Credentials) count(in *manifest.Integration, result string) {
	if c.Metrics != nil {
		c.Metrics.TokenRefreshes.WithLabelValues(in.ID, result).Inc()
	}
}
