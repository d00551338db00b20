package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The proxy path records five metrics per request. WithLabelValues hashes
// and validates its label values every time; these look the vector's
// child up once per label set and keep it, so that a request costs one map
// read per metric. The children are never deleted from these vectors, so a
// kept child stays the one the registry reports; the cache holds no more
// label sets than the vectors do.

type routeKey struct {
	route, method string
	status        int
}

type proxyKey struct {
	integration, method string
	status              int
}

// children holds the kept children of the hot vectors.
type children struct {
	httpRequests  sync.Map // routeKey → prometheus.Counter
	httpDuration  sync.Map // route → prometheus.Observer
	proxyRequests sync.Map // proxyKey → prometheus.Counter
	proxyTimes    sync.Map // integration → *ProxyTimes
}

// ProxyTimes are an integration's plugboard_proxy_upstream_seconds and
// plugboard_proxy_overhead_seconds.
type ProxyTimes struct {
	Upstream, Overhead prometheus.Observer
}

// HTTPRequest is HTTPRequests.WithLabelValues(route, method, status).
// A method other than the standard ones is counted as "other": a client
// may send any method, and each would be a new series.
func (m *Metrics) HTTPRequest(route, method string, status int) prometheus.Counter {
	method = MethodLabel(method)
	k := routeKey{route, method, status}
	if c, ok := m.children.httpRequests.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.HTTPRequests.WithLabelValues(route, method, statusText(status))
	m.children.httpRequests.Store(k, c)
	return c
}

// HTTPTime is HTTPDuration.WithLabelValues(route).
func (m *Metrics) HTTPTime(route string) prometheus.Observer {
	if o, ok := m.children.httpDuration.Load(route); ok {
		return o.(prometheus.Observer)
	}
	o := m.HTTPDuration.WithLabelValues(route)
	m.children.httpDuration.Store(route, o)
	return o
}

// ProxyRequest is ProxyRequests.WithLabelValues(integration, method, status).
// Methods are labelled as in HTTPRequest.
func (m *Metrics) ProxyRequest(integration, method string, status int) prometheus.Counter {
	method = MethodLabel(method)
	k := proxyKey{integration, method, status}
	if c, ok := m.children.proxyRequests.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.ProxyRequests.WithLabelValues(integration, method, statusText(status))
	m.children.proxyRequests.Store(k, c)
	return c
}

// ProxyTimesOf returns the proxy's time histograms of an integration.
func (m *Metrics) ProxyTimesOf(integration string) *ProxyTimes {
	if t, ok := m.children.proxyTimes.Load(integration); ok {
		return t.(*ProxyTimes)
	}
	t := &ProxyTimes{Upstream: m.ProxyUpstream.WithLabelValues(integration), Overhead: m.ProxyOverhead.WithLabelValues(integration)}
	m.children.proxyTimes.Store(integration, t)
	return t
}

// MethodLabel is the method label of a request: the method when it is one
// of HTTP's standard methods, else "other".
func MethodLabel(method string) string {
	if standardMethods[method] {
		return method
	}
	return "other"
}

var standardMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
	"OPTIONS": true, "CONNECT": true, "TRACE": true}

func statusText(status int) string { return strconv.Itoa(status) }
