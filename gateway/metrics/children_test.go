package metrics

import (
	"strings"
	"testing"
)

// TestKeptChildrenAreTheVectors: what the kept children record is what the
// registry reports, under the same labels, however often they are looked
// up; methods outside the standard ones are counted as "other", so a client
// cannot add a series per method it makes up.
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
	for _, method := range []string{"BREW", "PROPFIND", "X-1", "X-2"} {
		m.HTTPRequest("unmatched", method, 404).Inc()
		m.ProxyRequest("github", method, 200).Inc()
	}
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
		"plugboard_http_requests_total{200,GET,GET /x}":      3, // labels sorted by name
		"plugboard_http_requests_total{404,other,unmatched}": 4,
		"plugboard_proxy_requests_total{200,github,other}":   4,
		"plugboard_http_request_duration_seconds{GET /x}":    3,
		"plugboard_proxy_requests_total{502,github,POST}":    3,
		"plugboard_proxy_upstream_seconds{github}":           3,
		"plugboard_proxy_overhead_seconds{github}":           3,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
	for key := range got {
		if strings.Contains(key, "BREW") || strings.Contains(key, "X-1") {
			t.Errorf("a made-up method has its own series: %s", key)
		}
	}
}
