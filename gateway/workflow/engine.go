// Package workflow runs workflows (manifest.Workflow) durably: a run is a
// row in the store and each of its steps a River job on the process's one
// River client (the one webhooks and health checks use). A step's job
// records the step's result, enqueues the next step's job and completes
// itself in one transaction, so a run survives a restart or kill -9 and
// resumes at the step that had not finished, without repeating one that
// had. Actions and requests go through the proxy with the user's
// credential. Runs start from the SDK (request and event triggers), from
// connection events (lifecycle) and from cron schedules (River's periodic
// jobs, run by the elected leader: a schedule fires once however many
// replicas there are).
package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plugboardhq/plugboard/gateway/actions"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/webhook"
	"github.com/plugboardhq/plugboard/manifest"
	"github.com/prometheus/client_golang/prometheus"
)

// Settings is what the engine needs of users' choices (store.WorkflowSettings implements it).
type Settings interface {
	// UserWorkflow reports whether the user has the workflow enabled (def:
	// the workflow's enabledByDefault when the user never chose) and
	// returns their settings with the workflow's defaults filled in.
	UserWorkflow(ctx context.Context, projectID, userID string, wf *manifest.Workflow) (enabled bool, settings map[string]any, err error)
}

// Catalog is where the engine finds workflows and their integrations:
// the current catalog, read once per job.
type Catalog interface {
	Workflows() []*manifest.Workflow
	Workflow(id string) (*manifest.Workflow, bool)
	Lookup(integrationID string) (*manifest.Integration, bool)
}

// Defaults of Limits.
const (
	DefaultMaxRunsPerProject = 100
	DefaultMaxRunsPerUser    = 5
	DefaultMaxQueuedPerUser  = 100
	DefaultMaxRunDuration    = time.Hour
	DefaultMaxPayloadBytes   = 1 << 20
	DefaultRequestTimeout    = 30 * time.Second
	DefaultWorkers           = 10
	DefaultScheduleTick      = 15 * time.Second
)

// Limits bound what runs may use. Zero values take the defaults above.
type Limits struct {
	// MaxRunsPerProject and MaxRunsPerUser cap the runs executing at a
	// time (of a project, of one of its users); more wait, queued, in
	// creation order (about: a waiting run looks again every second).
	// Negative: no cap.
	MaxRunsPerProject int
	MaxRunsPerUser    int
	// MaxQueuedPerUser caps one user's runs waiting to start (queued):
	// a request or event trigger that would queue more is refused with
	// 429 workflow_queue_full and starts nothing. Schedules and
	// connection events, which a user cannot fire at will, are not
	// capped. Negative: no cap.
	MaxQueuedPerUser int
	// MaxRunDuration ends a run that has not finished this long after it
	// was created: its current step fails with workflow_timeout.
	MaxRunDuration time.Duration
	// MaxPayloadBytes caps a trigger's payload (a request's body, an
	// event's payload) and each step's output as stored.
	MaxPayloadBytes int64
	// RequestTimeout is how long POST …/sdk/triggers/{id} waits for the
	// run's response before answering 504 workflow_timeout (the run goes on).
	RequestTimeout time.Duration
}

func (l *Limits) setDefaults() {
	l.MaxRunsPerProject = intOr(l.MaxRunsPerProject, DefaultMaxRunsPerProject)
	l.MaxRunsPerUser = intOr(l.MaxRunsPerUser, DefaultMaxRunsPerUser)
	l.MaxQueuedPerUser = intOr(l.MaxQueuedPerUser, DefaultMaxQueuedPerUser)
	l.MaxRunDuration = durOr(l.MaxRunDuration, DefaultMaxRunDuration)
	if l.MaxPayloadBytes <= 0 {
		l.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	l.RequestTimeout = durOr(l.RequestTimeout, DefaultRequestTimeout)
}

func intOr(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0 // no cap
	}
	return n
}

func durOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Config configures an Engine. Catalog, Runs, Connections, Inventory and
// Settings are required; Actions and Proxy too, given here or with
// SetCallers before the River client starts.
type Config struct {
	Catalog     func() Catalog
	Runs        store.WorkflowRuns
	Connections Connections
	Inventory   store.Inventory
	Settings    Settings
	Actions     *actions.Service // runs action steps
	Proxy       *proxy.Handler   // sends request steps
	Limits      Limits
	// Workers is how many steps one process executes at a time.
	Workers int
	// ScheduleTick is how often the leader looks for schedules that fired.
	ScheduleTick time.Duration
	// StuckAfter caps how long a step job may run: River deems a step
	// still running after its timeout plus 30 s (at most StuckAfter) cut
	// short by a crash (kill -9, a lost node) and makes it again. Default
	// manifest.MaxWorkflowStepTimeout + 1 minute.
	StuckAfter time.Duration
	// Metrics registers the workflow metrics; nil registers none.
	Metrics prometheus.Registerer
	Log     *slog.Logger
	// Now is the schedules' clock (tests); nil is time.Now.
	Now func() time.Time
}

// Connections tells whether a user has connected an integration
// (store.Connections).
type Connections interface {
	Count(ctx context.Context, projectID, userID, integrationID string) (int, error)
	// Get reads one of the user's connections (connection.ErrNotFound when
	// the user has none with that id).
	Get(ctx context.Context, projectID, userID, id string) (*connection.Connection, error)
}

// Engine runs workflows. Build it with New, hand it to webhook.Config's
// Plugins (it shares that River client), then serve its routes.
type Engine struct {
	cfg     Config
	jobs    webhook.Client
	metrics *engineMetrics

	mu      sync.Mutex
	waiters map[string][]chan struct{} // run id -> those waiting for it to finish here
	fired   map[string]bool            // schedule firings (workflow@time) fully enqueued by this process
}

var _ webhook.Plugin = (*Engine)(nil)

// New checks cfg and returns the engine; it runs nothing until the River
// client it is given (UseRiver) starts.
func New(cfg Config) (*Engine, error) {
	if cfg.Catalog == nil || cfg.Runs == nil || cfg.Connections == nil || cfg.Inventory == nil || cfg.Settings == nil {
		return nil, errors.New("workflows: Catalog, Runs, Connections, Inventory and Settings are required")
	}
	cfg.Limits.setDefaults()
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	cfg.ScheduleTick = durOr(cfg.ScheduleTick, DefaultScheduleTick)
	cfg.StuckAfter = durOr(cfg.StuckAfter, manifest.MaxWorkflowStepTimeout+time.Minute)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{cfg: cfg, waiters: map[string][]chan struct{}{}, fired: map[string]bool{}}
	if err := e.registerMetrics(); err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	return e, nil
}

// SetCallers sets what action and request steps go through, when they
// were not known at New (the gateway builds the proxy after the River
// client). Call it before the client starts.
func (e *Engine) SetCallers(a *actions.Service, p *proxy.Handler) { e.cfg.Actions, e.cfg.Proxy = a, p }

// UseRiver is webhook.Plugin's: the client steps are enqueued on.
func (e *Engine) UseRiver(c webhook.Client) { e.jobs = c }

func (e *Engine) catalog() Catalog { return e.cfg.Catalog() }

// DefaultSettings is the Settings of a store that keeps no per-user
// choices: a workflow runs for every user who connected its integration
// when it is enabledByDefault, with its settings' defaults.
type DefaultSettings struct{}

func (DefaultSettings) UserWorkflow(_ context.Context, _, _ string, wf *manifest.Workflow) (bool, map[string]any, error) {
	return wf.EnabledByDefault, wf.FillSettings(nil), nil
}
