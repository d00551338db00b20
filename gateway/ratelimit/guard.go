package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/metrics"
)

// Guard limits connect attempts per end user and per client address.
type Guard struct {
	user, ip       *Limiter
	trustedProxies []netip.Prefix
	metrics        *metrics.Metrics
}

// NewGuard returns a guard with the two rates. trustedProxies are the
// peers whose X-Forwarded-For is believed (see ClientIP).
func NewGuard(perUser, perIP Rate, trustedProxies []netip.Prefix, m *metrics.Metrics) *Guard {
	return &Guard{user: New(perUser, Options{}), ip: New(perIP, Options{}), trustedProxies: trustedProxies, metrics: m}
}

// CheckIP takes one attempt from the client address's bucket; nil means
// allowed, else the refusal to answer with.
func (g *Guard) CheckIP(r *http.Request) *apierror.Error {
	ip := ClientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), g.trustedProxies)
	if ok, wait := g.ip.Allow(AddrKey(ip)); !ok {
		return g.refuse(r, "ip", wait)
	}
	return nil
}

// CheckUser takes one attempt from the end user's bucket; nil means
// allowed, else the refusal to answer with.
func (g *Guard) CheckUser(r *http.Request, projectID, userID string) *apierror.Error {
	if ok, wait := g.user.Allow(projectID + "\x00" + userID); !ok {
		return g.refuse(r, "user", wait)
	}
	return nil
}

func (g *Guard) refuse(r *http.Request, by string, wait time.Duration) *apierror.Error {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	if g.metrics != nil {
		g.metrics.RateLimited.WithLabelValues(route, by).Inc()
	}
	e := apierror.New(http.StatusTooManyRequests, apierror.RateLimited,
		fmt.Sprintf("too many attempts; try again in %d seconds", apierror.RetryAfterSeconds(wait)))
	e.RetryAfter = wait
	return e
}
