package webhook

import (
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/prometheus/client_golang/prometheus"
)

// Endpoint is where a project's events go.
type Endpoint struct {
	ProjectID string
	URL       string // http or https; must pass the egress guard when called
	Secret    []byte // decoded signing key (ParseSecret)
	// Events lists the event types sent; empty sends them all.
	Events []string
}

func (e Endpoint) wants(typ string) bool { return len(e.Events) == 0 || slices.Contains(e.Events, typ) }

// Defaults of Config.
const (
	DefaultRetryHorizon   = 72 * time.Hour
	DefaultAttemptTimeout = 10 * time.Second
	DefaultFirstRetry     = 5 * time.Second
	DefaultMaxRetryDelay  = time.Hour
	DefaultWorkers        = 10
)

// Config configures delivery. Zero values take the defaults above.
type Config struct {
	Endpoints []Endpoint
	// RetryHorizon: how long after an event a failing delivery is retried
	// before it is given up (and listed as failed).
	RetryHorizon time.Duration
	// AttemptTimeout bounds one delivery attempt: connecting, sending and
	// reading the answer's status.
	AttemptTimeout time.Duration
	// FirstRetry is the delay before the first retry; each later one
	// doubles, up to MaxRetryDelay, and is jittered down by up to a half.
	FirstRetry    time.Duration
	MaxRetryDelay time.Duration
	// Workers is how many deliveries one process makes at a time.
	Workers int
	// Guard is the egress guard every delivery dials through. Loopback and
	// private webhook URLs are refused unless its policy allows their
	// addresses (--egress-allow); nil is a guard with the safe zero policy.
	Guard *egress.Guard
	// PollInterval is how often an idle process looks for jobs that
	// another one enqueued (River's fetch poll; 1s when zero).
	PollInterval time.Duration
	Log          *slog.Logger
	// Metrics registers the webhook metrics; nil registers none.
	Metrics prometheus.Registerer
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// Health, if set, runs the periodic health checks on the same River
	// client (health.go).
	Health *HealthConfig
	// Plugins share the River client (workflow runs): one client per
	// process works every kind of job.
	Plugins []Plugin
}

func (c *Config) setDefaults() error {
	c.RetryHorizon = or(c.RetryHorizon, DefaultRetryHorizon)
	c.AttemptTimeout = or(c.AttemptTimeout, DefaultAttemptTimeout)
	c.FirstRetry = or(c.FirstRetry, DefaultFirstRetry)
	c.MaxRetryDelay = or(c.MaxRetryDelay, DefaultMaxRetryDelay)
	c.PollInterval = or(c.PollInterval, time.Second)
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Guard == nil {
		c.Guard = &egress.Guard{Log: c.Log}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Health != nil {
		h := *c.Health
		h.setDefaults()
		c.Health = &h
		if h.Intervals == nil || h.Check == nil || h.Store == nil {
			return fmt.Errorf("health checks: Intervals, Check and Store are required")
		}
	}
	for _, e := range c.Endpoints {
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return fmt.Errorf("webhook endpoint %q of project %s: not an http(s) URL without credentials", e.URL, e.ProjectID)
		}
		if len(e.Secret) == 0 {
			return fmt.Errorf("webhook endpoint %s of project %s: no signing secret", e.URL, e.ProjectID)
		}
		for _, t := range e.Events {
			if !slices.Contains(Types, t) {
				return fmt.Errorf("webhook endpoint %s of project %s: unknown event type %q (known: %v)", e.URL, e.ProjectID, t, Types)
			}
		}
	}
	return nil
}

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
