package workflow

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/manifest"
	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"
)

// Schedules run on River's periodic job scheduleKind, which only the
// elected leader enqueues (one replica at a time). Each tick looks back a
// few ticks for firings of each schedule's cron; a firing creates one run
// per user who has the integration connected and the workflow enabled,
// each with the dedup key (workflow, project, user, firing time): a
// firing seen by several ticks, by a new leader after a failover, or by
// two leaders during a handover, still runs once per user.

// lookback is how far back a tick looks for firings: a firing missed for
// longer (no leader, the store down) is skipped.
func (e *Engine) lookback() time.Duration { return max(3*e.cfg.ScheduleTick, time.Minute) }

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Firings returns the times in (from, to] at which wf's schedule fires.
func Firings(wf *manifest.Workflow, from, to time.Time) ([]time.Time, error) {
	sched, err := cronParser.Parse(wf.Trigger.Cron)
	if err != nil {
		return nil, fmt.Errorf("workflow %s: cron %q: %w", wf.ID, wf.Trigger.Cron, err)
	}
	loc := wf.Trigger.Timezone
	if loc == nil {
		loc = time.UTC
	}
	var out []time.Time
	for t := sched.Next(from.In(loc)); !t.After(to) && !t.IsZero(); t = sched.Next(t) {
		out = append(out, t.UTC())
	}
	return out, nil
}

type scheduleWorker struct {
	river.WorkerDefaults[scheduleArgs]
	e *Engine
}

// Timeout: a firing lists every connection of the integration.
func (w *scheduleWorker) Timeout(*river.Job[scheduleArgs]) time.Duration { return 10 * time.Minute }

func (w *scheduleWorker) Work(ctx context.Context, _ *river.Job[scheduleArgs]) error {
	_, err := w.e.FireSchedules(ctx)
	return err
}

// FireSchedules starts the runs of the schedules that fired in the
// lookback window and returns how many it created.
func (e *Engine) FireSchedules(ctx context.Context) (int, error) {
	now := e.cfg.Now()
	total := 0
	for _, wf := range e.catalog().Workflows() {
		if wf.Trigger.Type != manifest.TriggerSchedule {
			continue
		}
		times, err := Firings(wf, now.Add(-e.lookback()), now)
		if err != nil {
			e.cfg.Log.Error("schedule skipped", "workflow", wf.ID, "error", err.Error())
			continue
		}
		for _, at := range times {
			key := wf.ID + "@" + wf.Hash + "@" + strconv.FormatInt(at.Unix(), 10)
			e.mu.Lock()
			done := e.fired[key]
			e.mu.Unlock()
			if done {
				continue
			}
			n, err := e.fire(ctx, wf, at)
			total += n
			if err != nil {
				return total, err
			}
			e.mu.Lock()
			e.fired[key] = true
			for k := range e.fired {
				if len(e.fired) < 10000 {
					break
				}
				delete(e.fired, k) // forgotten firings are only rechecked
			}
			e.mu.Unlock()
		}
	}
	return total, nil
}

// fire creates a firing's runs, a page of connections at a time.
func (e *Engine) fire(ctx context.Context, wf *manifest.Workflow, at time.Time) (int, error) {
	seen := map[[2]string]bool{}
	created := 0
	f := store.ConnectionFilter{IntegrationID: wf.Integration, Limit: store.MaxPageLimit}
	trigger := map[string]any{"type": "schedule", "scheduledAt": at.Format(time.RFC3339)}
	for {
		page, err := e.cfg.Inventory.ListConnections(ctx, f)
		if err != nil {
			return created, fmt.Errorf("workflow %s: list connections of %s: %w", wf.ID, wf.Integration, err)
		}
		var runs []*store.WorkflowRun
		for _, c := range page.Connections {
			k := [2]string{c.ProjectID, c.UserID}
			if seen[k] {
				continue
			}
			seen[k] = true
			enabled, settings, err := e.cfg.Settings.UserWorkflow(ctx, c.ProjectID, c.UserID, wf)
			if err != nil {
				return created, fmt.Errorf("workflow %s: settings of a user: %w", wf.ID, err)
			}
			if !enabled {
				continue
			}
			run, err := NewRun(wf, c.ProjectID, c.UserID, trigger, settings)
			if err != nil {
				return created, err
			}
			run.DedupKey = fmt.Sprintf("schedule/%s/%d/%s/%d/%s/%d", wf.ID, len(c.ProjectID), c.ProjectID, len(c.UserID), c.UserID, at.Unix())
			runs = append(runs, run)
		}
		n, err := e.Start(ctx, runs)
		created += len(n)
		if err != nil {
			return created, err
		}
		if page.NextCursor == "" {
			return created, nil
		}
		f.Cursor = page.NextCursor
	}
}
