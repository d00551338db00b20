package webhook

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
)

// Results of delivery attempts, the label of plugboard_webhook_deliveries_total.
const (
	resultDelivered = "delivered" // the endpoint answered 2xx
	resultFailed    = "failed"    // an attempt failed (it may be retried)
	resultGivenUp   = "given_up"  // no more attempts: listed as failed
)

type deliveryMetrics struct {
	attempts *prometheus.CounterVec
}

func (s *Service) count(result string) {
	if s.metrics != nil {
		s.metrics.attempts.WithLabelValues(result).Inc()
	}
}

func (s *Service) registerMetrics() {
	if s.cfg.Metrics == nil {
		return
	}
	m := &deliveryMetrics{attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "plugboard_webhook_deliveries_total",
		Help: "Webhook delivery attempts by this process, by result: delivered (2xx), failed (retried until the horizon), given_up (listed as failed).",
	}, []string{"result"})}
	for _, r := range []string{resultDelivered, resultFailed, resultGivenUp} {
		m.attempts.WithLabelValues(r)
	}
	s.cfg.Metrics.MustRegister(m.attempts, &backlogCollector{s: s,
		depth: prometheus.NewDesc("plugboard_webhook_queue_depth",
			"Webhook deliveries not yet made (waiting, retrying or in flight), across every replica.", nil, nil),
		oldest: prometheus.NewDesc("plugboard_webhook_oldest_undelivered_age_seconds",
			"Age of the oldest webhook event not yet delivered; 0 when none is waiting.", nil, nil),
	})
	s.metrics = m
}

// backlogCollector reads the queue when scraped.
type backlogCollector struct {
	s             *Service
	depth, oldest *prometheus.Desc
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.oldest }

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.s.backlog(ctx)
	if err != nil {
		c.s.cfg.Log.Warn("webhook metrics: counting the queue failed", "error", err.Error())
		return
	}
	age := 0.0
	res, err := c.s.jobs.JobList(ctx, river.NewJobListParams().Kinds(deliveryKind).States(undelivered...).
		OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(1))
	if err == nil && len(res.Jobs) > 0 {
		age = max(0, c.s.cfg.Now().Sub(res.Jobs[0].CreatedAt).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
