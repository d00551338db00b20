package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plugboardhq/plugboard/gateway/store"
	"github.com/plugboardhq/plugboard/gateway/webhook"
	"github.com/plugboardhq/plugboard/manifest"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// The River queue and job kinds of workflows.
const (
	queueName    = "workflows"
	startKind    = "plugboard_workflow_start"
	stepKind     = "plugboard_workflow_step"
	eventKind    = "plugboard_workflow_event"
	scheduleKind = "plugboard_workflow_schedule"
)

// River's attempt cap, far above any step's: the engine, not River,
// decides when a step has failed for good (Retry.Attempts).
const maxJobAttempts = 1000

// startArgs starts a run: it waits (snoozes) while the concurrency limits
// are reached, then enqueues the first step.
type startArgs struct {
	RunID string `json:"run_id" river:"unique"`
}

func (startArgs) Kind() string { return startKind }
func (startArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: maxJobAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// stepArgs executes one step of a run. Cursor says which (cursor.go); a
// run's (cursor) is enqueued once, whatever happens.
type stepArgs struct {
	RunID      string `json:"run_id" river:"unique"`
	WorkflowID string `json:"workflow_id"`
	Cursor     []int  `json:"cursor" river:"unique"`
}

func (stepArgs) Kind() string { return stepKind }
func (stepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: maxJobAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// eventArgs starts the lifecycle workflows of one connection event.
type eventArgs struct {
	Event webhook.Event `json:"event"`
}

func (eventArgs) Kind() string { return eventKind }
func (eventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: 25}
}

type scheduleArgs struct{}

func (scheduleArgs) Kind() string { return scheduleKind }
func (scheduleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: 1}
}

// ConfigureRiver is webhook.Plugin's: the workflows queue, its workers
// and the schedules' periodic job.
func (e *Engine) ConfigureRiver(rc *river.Config) {
	river.AddWorker(rc.Workers, &startWorker{e: e})
	river.AddWorker(rc.Workers, &stepWorker{e: e})
	river.AddWorker(rc.Workers, &eventWorker{e: e})
	river.AddWorker(rc.Workers, &scheduleWorker{e: e})
	rc.Queues[queueName] = river.QueueConfig{MaxWorkers: e.cfg.Workers}
	rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(e.cfg.ScheduleTick),
		func() (river.JobArgs, *river.InsertOpts) { return scheduleArgs{}, nil },
		&river.PeriodicJobOpts{ID: scheduleKind, RunOnStart: true}))
}

// EventJobs is webhook.Plugin's: a job for a connection event when a
// workflow of its integration listens for its type.
func (e *Engine) EventJobs(ev webhook.Event) []river.InsertManyParams {
	if len(e.lifecycleWorkflows(ev)) == 0 {
		return nil
	}
	return []river.InsertManyParams{{Args: eventArgs{Event: ev}}}
}

// WantsEvents reports whether any workflow of the serving catalog has a
// lifecycle trigger: without one, store writes skip the outbox (the
// catalog is shared by every project).
func (e *Engine) WantsEvents(string) bool {
	for _, wf := range e.catalog().Workflows() {
		if wf.Trigger.Type == manifest.TriggerLifecycle {
			return true
		}
	}
	return false
}

func (e *Engine) lifecycleWorkflows(ev webhook.Event) []*manifest.Workflow {
	var out []*manifest.Workflow
	for _, wf := range e.catalog().Workflows() {
		if wf.Trigger.Type != manifest.TriggerLifecycle || wf.Integration != ev.Data.Integration.ID {
			continue
		}
		for _, t := range wf.Trigger.Lifecycle {
			if t == ev.Type {
				out = append(out, wf)
				break
			}
		}
	}
	return out
}

// insertTx enqueues jobs in tx.
func (e *Engine) insertTx(ctx context.Context, tx store.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	var err error
	switch {
	case tx.SQLite != nil && e.jobs.SQLite != nil:
		_, err = e.jobs.SQLite.InsertManyTx(ctx, tx.SQLite, params)
	case tx.Postgres != nil && e.jobs.Postgres != nil:
		_, err = e.jobs.Postgres.InsertManyTx(ctx, tx.Postgres, params)
	default:
		err = errors.New("the River client is not running on this store")
	}
	if err != nil {
		return fmt.Errorf("workflows: enqueue: %w", err)
	}
	return nil
}

// completeTx marks the running job completed in tx.
func completeTx[A river.JobArgs](ctx context.Context, tx store.Tx, job *river.Job[A]) error {
	var err error
	if tx.SQLite != nil {
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx.SQLite, job)
	} else {
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.Postgres, job)
	}
	return err
}

type startWorker struct {
	river.WorkerDefaults[startArgs]
	e *Engine
}

func (w *startWorker) Work(ctx context.Context, job *river.Job[startArgs]) error {
	e := w.e
	run, err := e.cfg.Runs.Run(ctx, job.Args.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if run.Status.Done() {
		return nil
	}
	ok, err := e.cfg.Runs.StartRun(ctx, run.ID, e.cfg.Limits.MaxRunsPerProject, e.cfg.Limits.MaxRunsPerUser)
	if err != nil {
		return err
	}
	if !ok {
		if e.cfg.Now().After(run.CreatedAt.Add(e.cfg.Limits.MaxRunDuration)) {
			run.Status, run.Error, run.FinishedAt = store.RunFailed,
				fmt.Sprintf("the run waited for a free slot (limits: %d runs per project, %d per user) longer than its maximum duration, %s",
					e.cfg.Limits.MaxRunsPerProject, e.cfg.Limits.MaxRunsPerUser, e.cfg.Limits.MaxRunDuration), e.cfg.Now().UTC()
			return e.finish(ctx, run, nil, nil, job)
		}
		return river.JobSnooze(time.Second)
	}
	return e.cfg.Runs.SaveRun(ctx, nil, nil, func(ctx context.Context, tx store.Tx) error {
		if err := e.insertTx(ctx, tx, []river.InsertManyParams{{Args: stepArgs{RunID: run.ID, WorkflowID: run.WorkflowID, Cursor: []int{0}}}}); err != nil {
			return err
		}
		return completeTx(ctx, tx, job)
	})
}

// finish records a run's end (and steps), completing job with it.
func (e *Engine) finish(ctx context.Context, run *store.WorkflowRun, steps []*store.WorkflowStep, next []river.InsertManyParams, job interface{}) error {
	err := e.cfg.Runs.SaveRun(ctx, run, steps, func(ctx context.Context, tx store.Tx) error {
		if err := e.insertTx(ctx, tx, next); err != nil {
			return err
		}
		switch j := job.(type) {
		case *river.Job[startArgs]:
			return completeTx(ctx, tx, j)
		case *river.Job[stepArgs]:
			return completeTx(ctx, tx, j)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if run != nil && run.Status.Done() {
		e.ended(run)
	}
	return nil
}

// ended counts a finished run and wakes those waiting for it here.
func (e *Engine) ended(run *store.WorkflowRun) {
	e.countRun(run)
	log := e.cfg.Log.With("workflow", run.WorkflowID, "run", run.ID, "project", run.ProjectID, "user", run.UserID)
	if run.Status == store.RunFailed {
		log.Warn("workflow run failed", "error", run.Error)
	} else {
		log.Info("workflow run succeeded", "duration_ms", run.FinishedAt.Sub(run.CreatedAt).Milliseconds())
	}
	e.mu.Lock()
	ws := e.waiters[run.ID]
	delete(e.waiters, run.ID)
	e.mu.Unlock()
	for _, c := range ws {
		close(c)
	}
}
