package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// RefreshSlots are the gauges and counter of the per-integration cap on
// concurrent token refreshes (connection.Refresher.MaxConcurrentRefreshes).
type RefreshSlots struct {
	// InFlight is plugboard_token_refreshes_in_flight{integration}.
	InFlight *prometheus.GaugeVec
	// Waiting is plugboard_token_refreshes_waiting{integration}: refreshes
	// queued for a free slot now.
	Waiting *prometheus.GaugeVec
	// Waits is plugboard_token_refresh_waits_total{integration}: refreshes
	// that found every slot taken and had to queue.
	Waits *prometheus.CounterVec
}

// RefreshSlots registers the refresh-cap metrics on first use and returns
// them; later calls return the same ones.
func (m *Metrics) RefreshSlots() *RefreshSlots {
	return &RefreshSlots{
		InFlight: registerOnce(m.Registry, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "plugboard_token_refreshes_in_flight",
			Help: "Token refreshes running now, by integration (at most --max-concurrent-refreshes each, per replica).",
		}, []string{"integration"})),
		Waiting: registerOnce(m.Registry, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "plugboard_token_refreshes_waiting",
			Help: "Token refreshes queued for a free slot now, by integration (their requests wait).",
		}, []string{"integration"})),
		Waits: registerOnce(m.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_token_refresh_waits_total",
			Help: "Token refreshes that found all of the integration's --max-concurrent-refreshes slots taken and queued, by integration.",
		}, []string{"integration"})),
	}
}

// registerOnce registers c, or returns the collector already registered
// under its name.
func registerOnce[C prometheus.Collector](r *prometheus.Registry, c C) C {
	err := r.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return are.ExistingCollector.(C)
	}
	if err != nil {
		panic(err)
	}
	return c
}
