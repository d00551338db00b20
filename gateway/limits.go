package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/gateway/ratelimit"
	"github.com/plugboardhq/plugboard/manifest"
)

// Error codes of the limits against abuse.
const (
	// CodeRateLimited: too many attempts from this user or address; the
	// response's Retry-After header says in how many seconds to try again.
	CodeRateLimited = "rate_limited"
	// CodeConnectionLimit: the user holds as many connections as allowed;
	// reconnecting or deleting an existing one still works.
	CodeConnectionLimit = "connection_limit"
)

// Defaults of Limits.
var (
	DefaultConnectPerUser                   = ratelimit.Rate{Count: 10, Per: time.Minute, Burst: 10}
	DefaultConnectPerIP                     = ratelimit.Rate{Count: 120, Per: time.Minute, Burst: 120}
	DefaultMaxConnectionsPerUserIntegration = 25
	DefaultMaxConnectionsPerUser            = 100
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
}

type limiters struct {
	user, ip *ratelimit.Limiter
}

func newLimiters(l Limits) limiters {
	rateOr := func(r, def ratelimit.Rate) ratelimit.Rate {
		if r.IsZero() {
			return def
		}
		return r
	}
	return limiters{
		user: ratelimit.New(rateOr(l.ConnectPerUser, DefaultConnectPerUser), ratelimit.Options{}),
		ip:   ratelimit.New(rateOr(l.ConnectPerIP, DefaultConnectPerIP), ratelimit.Options{}),
	}
}

// limitIP refuses requests beyond the per-address rate before h runs;
// page routes answer with a portal page, others with a JSON error.
func (s *Server) limitIP(page bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ip := ratelimit.ClientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.Limits.TrustedProxies)
		if ok, wait := s.limiters.ip.Allow(ratelimit.AddrKey(ip)); !ok {
			s.refuseRate(w, r, "ip", wait, page)
			return
		}
		h(w, r)
	}
}

// allowUser takes one connect attempt from the user's bucket, or writes the
// refusal and returns false.
func (s *Server) allowUser(w http.ResponseWriter, r *http.Request, projectID, userID string, page bool) bool {
	ok, wait := s.limiters.user.Allow(projectID + "\x00" + userID)
	if !ok {
		s.refuseRate(w, r, "user", wait, page)
	}
	return ok
}

func (s *Server) refuseRate(w http.ResponseWriter, r *http.Request, by string, wait time.Duration, page bool) {
	secs := ratelimit.RetryAfterSeconds(wait)
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.metrics.RateLimited.WithLabelValues(route, by).Inc()
	s.log.Debug("rate limited", "route", route, "by", by, "retry_after_s", secs) // the metric counts them; a log line each would let an attacker fill the disk
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	msg := fmt.Sprintf("too many attempts; try again in %d seconds", secs)
	if !page {
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, msg)
		return
	}
	w.Header().Set("X-Plugboard-Error", CodeRateLimited)
	s.renderResult(w, http.StatusTooManyRequests, portal.Integration{Name: "Plugboard", AccentColor: manifest.DefaultAccentColor}, false,
		"Too many attempts", fmt.Sprintf("Wait %d seconds, then try again.", secs), nil, "", nil)
}

// connectionCapFailure reports whether the user may store one more
// connection to in; nil means yes. It is checked before the provider is
// called, and again just before storing (concurrent attempts may each pass
// the first check).
func (s *Server) connectionCapFailure(ctx context.Context, in *manifest.Integration, projectID, userID string) *connectFailure {
	perIntegration := orDefault(s.cfg.Limits.MaxConnectionsPerUserIntegration, DefaultMaxConnectionsPerUserIntegration)
	total := orDefault(s.cfg.Limits.MaxConnectionsPerUser, DefaultMaxConnectionsPerUser)
	for _, c := range []struct {
		max         int
		integration string
		what        string
	}{
		{perIntegration, in.ID, in.Name + " connections"},
		{total, "", "connections in all"},
	} {
		if c.max < 0 {
			continue
		}
		n, err := s.store.Count(ctx, projectID, userID, c.integration)
		if err != nil {
			s.log.Error("counting connections failed", "integration", in.ID, "error", err.Error())
			return &connectFailure{status: http.StatusServiceUnavailable, code: CodeStoreUnavailable, message: "could not check the user's connections; try again"}
		}
		if n >= c.max {
			return &connectFailure{status: http.StatusConflict, code: CodeConnectionLimit,
				message: fmt.Sprintf("this account already has %d %s, the most this gateway allows; reconnect or remove one of them", n, c.what)}
		}
	}
	return nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
