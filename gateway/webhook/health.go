package webhook

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/riverqueue/river"
)

// Health checks (api.healthCheck) run on the same River client as the
// deliveries. Every Tick the elected leader (River's periodic jobs run on
// one replica) lists the connections of the integrations that ask for
// checks and enqueues a check for each one whose slot has come: a
// connection's slot recurs once per interval at an offset derived from its
// id, so that checks spread evenly over the interval. A check job is unique
// by (connection, slot): however often the schedule runs, on whichever
// replica, a connection is checked once per interval. HealthConfig.Workers
// caps the checks a process makes at a time (the queue's MaxWorkers).

// Defaults of HealthConfig.
const (
	DefaultHealthTick    = time.Minute
	DefaultHealthWorkers = 4
)

// HealthConfig turns periodic health checks on.
type HealthConfig struct {
	// Intervals returns the check interval of every integration that asks
	// for checks, by id (the current catalog's api.healthCheck).
	Intervals func() map[string]time.Duration
	// Check checks connection id with a fresh credential and records the
	// result (store.Inventory.RecordCheck). An error is an infrastructure
	// failure (the store is down): the connection is checked at its next
	// slot.
	Check func(ctx context.Context, id string) error
	// Store lists the connections to check.
	Store store.Inventory
	// Tick is how often the schedule runs (DefaultHealthTick).
	Tick time.Duration
	// Workers caps the checks a process makes at a time (DefaultHealthWorkers).
	Workers int
	// Timeout bounds one check (default 2 minutes).
	Timeout time.Duration
	// Now is the schedule's clock (tests); nil is time.Now.
	Now func() time.Time
}

func (h *HealthConfig) setDefaults() {
	h.Tick = or(h.Tick, DefaultHealthTick)
	h.Timeout = or(h.Timeout, 2*time.Minute)
	if h.Workers <= 0 {
		h.Workers = DefaultHealthWorkers
	}
	if h.Now == nil {
		h.Now = time.Now
	}
}

const (
	healthQueue        = "health"
	healthCheckKind    = "plugboard_health_check"
	healthScheduleKind = "plugboard_health_schedule"
)

// healthCheckArgs is one connection's check in one slot.
type healthCheckArgs struct {
	ConnectionID string `json:"connection_id"`
	Slot         int64  `json:"slot"` // Unix seconds: the slot it is made for
}

func (healthCheckArgs) Kind() string { return healthCheckKind }

func (healthCheckArgs) InsertOpts() river.InsertOpts {
	// Not retried: a check that could not run is made at the next slot.
	return river.InsertOpts{Queue: healthQueue, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type healthScheduleArgs struct{}

func (healthScheduleArgs) Kind() string { return healthScheduleKind }

func (healthScheduleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: healthQueue, MaxAttempts: 1}
}

// Slot returns the latest time at or before now at which the connection id
// is due for a check every interval: its offset in the interval is a hash
// of its id, which spreads a population's checks evenly over the interval.
func Slot(id string, interval time.Duration, now time.Time) time.Time {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	phase := int64(h.Sum64() % uint64(interval))
	t := now.UnixNano() - phase
	return time.Unix(0, now.UnixNano()-((t%int64(interval))+int64(interval))%int64(interval))
}

// Due reports the slot c is due to be checked in at now, if any: its slot
// came after its last check (or its creation, when its credential was
// tested). A connection that needs reconnecting is not checked: only the
// user can mend it.
func Due(c store.ConnectionInfo, interval time.Duration, now time.Time) (time.Time, bool) {
	if c.Status == connection.StatusNeedsReconnect {
		return time.Time{}, false
	}
	slot := Slot(c.ID, interval, now)
	last := c.LastCheckedAt
	if c.CreatedAt.After(last) {
		last = c.CreatedAt
	}
	return slot, last.Before(slot)
}

type healthScheduleWorker struct {
	river.WorkerDefaults[healthScheduleArgs]
	s *Service
}

func (w *healthScheduleWorker) Work(ctx context.Context, _ *river.Job[healthScheduleArgs]) error {
	_, err := w.s.ScheduleChecks(ctx)
	return err
}

// ScheduleChecks enqueues the checks that are due now and returns how many
// it asked for (duplicates of checks already enqueued are skipped by River).
func (s *Service) ScheduleChecks(ctx context.Context) (int, error) {
	h := s.cfg.Health
	now := h.Now()
	n := 0
	for integrationID, interval := range h.Intervals() {
		if interval <= 0 {
			continue
		}
		f := store.ConnectionFilter{IntegrationID: integrationID, Limit: store.MaxPageLimit}
		for {
			page, err := h.Store.ListConnections(ctx, f)
			if err != nil {
				return n, fmt.Errorf("health checks: list connections of %s: %w", integrationID, err)
			}
			var params []river.InsertManyParams
			for _, c := range page.Connections {
				if slot, ok := Due(c, interval, now); ok {
					params = append(params, river.InsertManyParams{Args: healthCheckArgs{ConnectionID: c.ID, Slot: slot.Unix()}})
				}
			}
			if len(params) > 0 {
				if _, err := s.jobs.InsertMany(ctx, params); err != nil {
					return n, fmt.Errorf("health checks: enqueue: %w", err)
				}
				n += len(params)
			}
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
	}
	return n, nil
}

type healthCheckWorker struct {
	river.WorkerDefaults[healthCheckArgs]
	s *Service
}

func (w *healthCheckWorker) Timeout(*river.Job[healthCheckArgs]) time.Duration {
	return w.s.cfg.Health.Timeout
}

func (w *healthCheckWorker) Work(ctx context.Context, job *river.Job[healthCheckArgs]) error {
	if err := w.s.cfg.Health.Check(ctx, job.Args.ConnectionID); err != nil {
		w.s.cfg.Log.Warn("health check could not run", "connection", job.Args.ConnectionID, "error", err.Error())
		return err
	}
	return nil
}

// addHealth adds the health check workers, queue and schedule to rc.
func (s *Service) addHealth(rc *river.Config) {
	h := s.cfg.Health
	river.AddWorker(rc.Workers, &healthScheduleWorker{s: s})
	river.AddWorker(rc.Workers, &healthCheckWorker{s: s})
	rc.Queues[healthQueue] = river.QueueConfig{MaxWorkers: h.Workers}
	rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(h.Tick),
		func() (river.JobArgs, *river.InsertOpts) { return healthScheduleArgs{}, nil },
		&river.PeriodicJobOpts{ID: healthScheduleKind, RunOnStart: true}))
}
