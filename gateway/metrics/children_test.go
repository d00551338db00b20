package metrics

import (
	"strings"
	"testing"
)

// TestKeptChildrenAreTheVectors: what the kept children record is what the
// registry reports, under the same labels, however often they are looked
// up; a method outside the standard ones is counted too, without being kept.
func TestKeptChildrenAreTheVectors(t *testing.T) {
	m := New()
	for range 3 {
		m.HTTPRequest("GET /x", "GET", 200).Inc()
		m.HTTPTime("GET /x").Observe(0.5)
		m.ProxyRequest("github", "POST", 502).Inc()
		times := m.ProxyTimesOf("github")
		times.Upstream.Observe(0.25)
		times.Overhead.Observe(0.001)
	}
	m.HTTPRequest("unmatched", "BREW", 404).Inc()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			var labels []string
			for _, l := range metric.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case metric.GetCounter() != nil:
				got[key] = metric.GetCounter().GetValue()
			case metric.GetHistogram() != nil:
				got[key] = float64(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"plugboard_http_requests_total{200,GET,GET /x}":     3, // labels sorted by name
		"plugboard_http_requests_total{404,BREW,unmatched}": 1,
		"plugboard_http_request_duration_seconds{GET /x}":   3,
		"plugboard_proxy_requests_total{502,github,POST}":   3,
		"plugboard_proxy_upstream_seconds{github}":          3,
		"plugboard_proxy_overhead_seconds{github}":          3,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
	if _, ok := m.children.httpRequests.Load(routeKey{"unmatched", "BREW", 404}); ok {
		t.Error("a non-standard method's child was kept")
	}
}
