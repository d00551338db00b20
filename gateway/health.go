package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// healthIntervals is api.healthCheck of every loaded integration that asks
// for checks, by id.
func (s *Server) healthIntervals() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, in := range s.reloader.Catalog().Integrations() {
		if in.API.HealthCheck > 0 {
			out[in.ID] = in.API.HealthCheck
		}
	}
	return out
}

// healthConfig is the webhook service's health checks, or nil when no
// loaded integration asks for them (River then starts only for webhooks).
// Integrations that ask for checks after startup (a reload) are checked
// once the gateway restarts.
func (s *Server) healthConfig() *webhook.HealthConfig {
	if s.cfg.Store == nil || len(s.healthIntervals()) == 0 {
		return nil
	}
	return &webhook.HealthConfig{Intervals: s.healthIntervals, Check: s.checkHealth, Store: s.cfg.Store,
		Tick: s.cfg.HealthTick, Workers: s.cfg.HealthWorkers, Now: s.cfg.HealthNow}
}

// checkHealth is one periodic check of connection id: the integration's
// test request with the credential refreshed first if it is (nearly)
// expired, as a proxied request would be made. A refused refresh turns the
// connection to needs_reconnect in the refresher (the store's outbox sends
// refresh_failed). A check that could not tell (the API or the token
// endpoint unreachable, an answer other than 2xx, 401 or 403: an outage
// is not the user's credential going bad) is counted and logged but
// leaves the connection's health as it was; every other outcome is
// recorded as its last check.
func (s *Server) checkHealth(ctx context.Context, id string) error {
	conn, err := s.cfg.Store.GetConnection(ctx, id)
	if errors.Is(err, connection.ErrNotFound) {
		return nil // deleted since it was scheduled
	}
	if err != nil {
		return err
	}
	in, ok := s.reloader.Catalog().Lookup(conn.IntegrationID)
	if !ok || in.API.HealthCheck <= 0 || in.API.TestEndpoint == nil || s.creds == nil {
		return nil // no longer asks for checks
	}
	result, checkErr := "ok", ""
	// A refresh token that would expire unused before the check after
	// this one is used now: the refresh brings a new one.
	stale := ""
	if refreshTokenExpiring(conn, in.API.HealthCheck, time.Now()) {
		stale = conn.Credential.AccessToken
	}
	fresh, err := s.creds.Fresh(ctx, in, conn, stale)
	switch {
	case errors.Is(err, connection.ErrNeedsReconnect):
		result, checkErr = "needs_reconnect", err.Error()
	case err != nil:
		result, checkErr = "error", "token refresh failed: "+err.Error()
	default:
		res, err := s.tester.Test(ctx, in, fresh)
		switch {
		case err != nil:
			result, checkErr = "error", "test request failed: "+err.Error()
		case res != nil && (res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden):
			result, checkErr = "failed", fmt.Sprintf("GET %s answered %d", res.Endpoint, res.Status)
		case res != nil && !res.OK():
			result, checkErr = "error", fmt.Sprintf("GET %s answered %d", res.Endpoint, res.Status)
		}
	}
	if s.metrics != nil {
		s.metrics.HealthChecks.WithLabelValues(in.ID, result).Inc()
	}
	if result != "ok" {
		s.log.Info("health check failed", "integration", in.ID, "connection", id, "result", result, "error", checkErr)
	}
	if result == "error" {
		return nil
	}
	return s.cfg.Store.RecordCheck(ctx, id, time.Now(), checkErr)
}

// refreshTokenExpiring reports whether c's refresh token stops working
// (refresh_token_expires_in) before the check after next, interval from
// now: waiting for a proxied call or the next check could let it lapse.
func refreshTokenExpiring(c *connection.Connection, interval time.Duration, now time.Time) bool {
	exp := c.Credential.RefreshExpiresAt
	return c.Credential.RefreshToken != "" && !exp.IsZero() && exp.Before(now.Add(2*interval))
}
