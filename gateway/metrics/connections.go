package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnectionCount is one value of plugboard_connections.
type ConnectionCount struct {
	Integration string
	Status      string
	Count       int
}

// Bounds of plugboard_connections' queries.
const (
	// ConnectionsCacheTTL: the counts are read from the store at most this
	// often per process, however often and by however many scrapers.
	ConnectionsCacheTTL = 30 * time.Second
	// ConnectionsQueryTimeout bounds one count; a scrape never waits longer.
	ConnectionsQueryTimeout = 5 * time.Second
)

// connectionsCollector is plugboard_connections{integration,status}: the
// counts are queried when Prometheus scrapes, and reused for
// ConnectionsCacheTTL. Queried on scrape rather than by a timer, so that a
// gateway nobody scrapes never queries, and the values are as fresh as the
// cache allows when somebody does; cached, so that many scrapers (or a
// short scrape interval) cost one query per TTL. A failed query keeps the
// last values (and logs), so a slow database does not make series vanish.
type connectionsCollector struct {
	desc     *prometheus.Desc
	count    func(context.Context) ([]ConnectionCount, error)
	statuses []string
	ttl      time.Duration
	log      *slog.Logger

	mu      sync.Mutex // one query at a time; concurrent scrapes wait and share it
	values  []ConnectionCount
	fetched time.Time
}

// CountConnections registers plugboard_connections, whose values count
// returns: connections by integration and status (each of statuses is
// reported, 0 when none, for every integration that has connections).
// Every replica sharing a database reports the same totals: aggregate
// them with max, not sum. ttl <= 0 means ConnectionsCacheTTL.
func (m *Metrics) CountConnections(count func(context.Context) ([]ConnectionCount, error), statuses []string, ttl time.Duration, log *slog.Logger) {
	if ttl <= 0 {
		ttl = ConnectionsCacheTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.Registry.MustRegister(&connectionsCollector{
		desc: prometheus.NewDesc("plugboard_connections",
			"End users' connections by integration and status (valid, expired_refreshable, needs_reconnect), counted in the store at most every 30 s; the same on every replica sharing the store.",
			[]string{"integration", "status"}, nil),
		count: count, statuses: statuses, ttl: ttl, log: log,
	})
}

func (c *connectionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *connectionsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.fetched) >= c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), ConnectionsQueryTimeout)
		values, err := c.count(ctx)
		cancel()
		if err != nil {
			c.log.Warn("counting connections for plugboard_connections failed; reporting the last counts", "error", err.Error())
		} else {
			c.values = values
		}
		c.fetched = time.Now() // after a failure too: retry after the TTL, not on every scrape
	}
	values := c.values
	c.mu.Unlock()

	counts := map[[2]string]int{}
	for _, v := range values {
		for _, s := range c.statuses {
			counts[[2]string{v.Integration, s}] += 0
		}
		counts[[2]string{v.Integration, v.Status}] += v.Count
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
