// Package metrics holds the gateway's Prometheus metrics, all prefixed
// plugboard_, on a registry of their own with the Go and process collectors.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of gateway metrics. Labels never carry secrets, user
// ids or request paths: only routes, files, integration ids and results.
type Metrics struct {
	Registry *prometheus.Registry

	ReloadsTotal             *prometheus.CounterVec
	ReloadDuration           prometheus.Histogram
	LastReloadSuccessful     prometheus.Gauge
	LastReloadSuccessSeconds prometheus.Gauge
	IntegrationsLoaded       prometheus.Gauge
	FileValid                *prometheus.GaugeVec
	FileErrors               *prometheus.GaugeVec
	CatalogInfo              *prometheus.GaugeVec

	HTTPRequests *prometheus.CounterVec
	HTTPDuration *prometheus.HistogramVec

	ProxyRequests  *prometheus.CounterVec
	ProxyUpstream  *prometheus.HistogramVec
	ProxyOverhead  *prometheus.HistogramVec
	TokenRefreshes *prometheus.CounterVec
	HealthChecks   *prometheus.CounterVec
	EgressRefused  *prometheus.CounterVec
	RateLimited    *prometheus.CounterVec

	children children // of the vectors the proxy path records (children.go)
}

// New creates and registers every metric.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		ReloadsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_manifest_reloads_total",
			Help: "Manifest folder reloads, by result: success (every file loaded) or error (a file was rejected or the folder could not be read).",
		}, []string{"result"}),
		ReloadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "plugboard_manifest_reload_duration_seconds",
			Help:    "Time to read, validate and swap the whole manifest folder.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		LastReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "plugboard_manifest_last_reload_successful",
			Help: "1 if the last reload loaded every manifest file, 0 if any was rejected (the last good version keeps serving).",
		}),
		LastReloadSuccessSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "plugboard_manifest_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last reload that loaded every manifest file.",
		}),
		IntegrationsLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "plugboard_integrations_loaded",
			Help: "Integrations currently served (including stale ones serving their last good version).",
		}),
		FileValid: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "plugboard_manifest_file_valid",
			Help: "1 if the manifest file as it is on disk is valid, 0 if it was rejected.",
		}, []string{"file"}),
		FileErrors: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "plugboard_manifest_file_errors",
			Help: "Number of errors in the manifest file as it is on disk.",
		}, []string{"file"}),
		CatalogInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "plugboard_catalog_info",
			Help: "Always 1; the revision label is the hash of every served manifest, equal across replicas serving the same files.",
		}, []string{"revision"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "plugboard_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		ProxyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_proxy_requests_total",
			Help: "Proxied requests, by integration, method and the status code returned to the caller (upstream's or the gateway's own).",
		}, []string{"integration", "method", "code"}),
		ProxyUpstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "plugboard_proxy_upstream_seconds",
			Help:    "Time the upstream API took to answer with response headers.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"integration"}),
		ProxyOverhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "plugboard_proxy_overhead_seconds",
			Help:    "Time the gateway itself added before the response headers (auth, lookup, refresh, rewriting), excluding upstream time.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}, []string{"integration"}),
		TokenRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_token_refreshes_total",
			Help: "Token refreshes by integration and result: success, needs_reconnect (the provider refused for good), error (try again later).",
		}, []string{"integration", "result"}),
		HealthChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_health_checks_total",
			Help: "Periodic health checks (api.healthCheck) by integration and result: ok, failed (the test request answered 401 or 403), needs_reconnect (the token refresh was refused for good), error (the API or token endpoint could not be reached, or the test answered another non-2xx status; the connection's health is left as it was).",
		}, []string{"integration", "result"}),
		EgressRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_egress_refused_total",
			Help: "Outbound connections the egress guard refused because the address is loopback, private or otherwise special and not allowed (--egress-allow), by integration.",
		}, []string{"integration"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_rate_limited_total",
			Help: "Requests refused with 429 by a rate limit, by route pattern and by what was limited: user (project and user) or ip (client address).",
		}, []string{"route", "by"}),
	}
	m.Registry.MustRegister(m.ProxyRequests, m.ProxyUpstream, m.ProxyOverhead, m.TokenRefreshes, m.HealthChecks, m.EgressRefused, m.RateLimited)
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.ReloadsTotal, m.ReloadDuration, m.LastReloadSuccessful, m.LastReloadSuccessSeconds,
		m.IntegrationsLoaded, m.FileValid, m.FileErrors, m.CatalogInfo, m.HTTPRequests, m.HTTPDuration,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
