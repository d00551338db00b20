package workflow

import (
	"context"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
	"github.com/prometheus/client_golang/prometheus"
)

type engineMetrics struct {
	runs  *prometheus.CounterVec
	steps *prometheus.HistogramVec
}

func (e *Engine) registerMetrics() error {
	if e.cfg.Metrics == nil {
		return nil
	}
	m := &engineMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "plugboard_workflow_runs_total",
			Help: "Workflow runs finished by this process, by workflow and result (succeeded, failed).",
		}, []string{"workflow", "result"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "plugboard_workflow_step_duration_seconds",
			Help:    "Workflow step attempts by this process, by workflow, kind and result (succeeded, failed, retried).",
			Buckets: []float64{.005, .025, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"workflow", "kind", "result"}),
	}
	if err := e.cfg.Metrics.Register(m.runs); err != nil {
		return err
	}
	if err := e.cfg.Metrics.Register(m.steps); err != nil {
		return err
	}
	if err := e.cfg.Metrics.Register(&depthCollector{e: e, desc: prometheus.NewDesc("plugboard_workflow_runs_pending",
		"Workflow runs not finished, by workflow and status: queued (waiting for a slot under the concurrency limits) or running (a step executing or due). Counted in the store, across replicas.",
		[]string{"workflow", "status"}, nil)}); err != nil {
		return err
	}
	e.metrics = m
	return nil
}

func (e *Engine) countRun(run *store.WorkflowRun) {
	if e.metrics != nil {
		e.metrics.runs.WithLabelValues(run.WorkflowID, string(run.Status)).Inc()
	}
}

func (e *Engine) observeStep(workflowID string, kind manifest.StepKind, result string, d time.Duration) {
	if e.metrics != nil {
		e.metrics.steps.WithLabelValues(workflowID, string(kind), result).Observe(d.Seconds())
	}
}

// depthCollector counts pending runs in the store when scraped.
type depthCollector struct {
	e    *Engine
	desc *prometheus.Desc
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.e.cfg.Runs.CountRuns(ctx, store.RunQueued, store.RunRunning)
	if err != nil {
		c.e.cfg.Log.Warn("counting pending workflow runs for the metrics failed", "error", err.Error())
		return
	}
	for wf, byStatus := range counts {
		for st, n := range byStatus {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), wf, string(st))
		}
	}
}
