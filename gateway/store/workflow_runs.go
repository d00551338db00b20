package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// WorkflowRuns keeps workflow runs (gateway/workflow) and the steps they
// executed. Every write takes a hook that runs in its transaction, so
// that the engine enqueues the run's next job with the write that makes
// it due (River's InsertTx and JobCompleteTx on Tx).
type WorkflowRuns interface {
	// CreateRuns inserts runs, assigning IDs (when empty) and CreatedAt.
	// A run whose DedupKey is already taken is skipped. It returns the
	// runs inserted; then, if not nil, runs in the same transaction with
	// them. With maxQueuedPerUser > 0, when a user's queued runs and
	// those of runs given for them would be more than that, nothing is
	// inserted and the error is a *QueueFullError (counted under a lock,
	// so that concurrent calls cannot both pass).
	CreateRuns(ctx context.Context, runs []*WorkflowRun, maxQueuedPerUser int, then func(ctx context.Context, tx Tx, created []*WorkflowRun) error) ([]*WorkflowRun, error)
	// Run returns one run. Unknown: ErrNotFound.
	Run(ctx context.Context, id string) (*WorkflowRun, error)
	// RunSteps returns the steps a run executed, in execution order.
	RunSteps(ctx context.Context, runID string) ([]*WorkflowStep, error)
	// ListRuns returns a page of runs, newest first.
	ListRuns(ctx context.Context, f RunFilter) (RunPage, error)
	// SaveRun writes run's status, error, response and times, and
	// inserts or replaces steps (by run and path); then, if not nil, runs
	// in the same transaction.
	SaveRun(ctx context.Context, run *WorkflowRun, steps []*WorkflowStep, then func(ctx context.Context, tx Tx) error) error
	// StartRun turns a queued run to running (StartedAt now) if, counting
	// it, at most maxProject runs of its project and maxUser runs of its
	// user would be running (0: no cap). It reports whether it did; a run
	// that is not queued is left alone and reported as started when it is
	// running.
	StartRun(ctx context.Context, id string, maxProject, maxUser int) (bool, error)
	// CountRuns counts runs by workflow and status (for the metrics'
	// queue depth, with statuses queued and running).
	CountRuns(ctx context.Context, statuses ...RunStatus) (map[string]map[RunStatus]int, error)
}

// QueueFullError is CreateRuns refusing runs: their user already has
// Queued runs waiting, and Max is the most they may have.
type QueueFullError struct {
	ProjectID, UserID string
	Queued, Max       int
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("store: user %q of project %q has %d workflow runs queued, the most they may have is %d", e.UserID, e.ProjectID, e.Queued, e.Max)
}

// queuedByUser counts the queued runs among runs, by (project, user), in
// a stable order (so that locks are taken in the same order everywhere).
func queuedByUser(runs []*WorkflowRun) ([][2]string, map[[2]string]int) {
	n := map[[2]string]int{}
	var users [][2]string
	for _, r := range runs {
		if r.Status != "" && r.Status != RunQueued {
			continue
		}
		k := [2]string{r.ProjectID, r.UserID}
		if n[k] == 0 {
			users = append(users, k)
		}
		n[k]++
	}
	slices.SortFunc(users, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return users, n
}

// checkQueues refuses runs that would put a user over max queued runs;
// count returns how many a user has queued now.
func checkQueues(runs []*WorkflowRun, max int, count func(projectID, userID string) (int, error)) error {
	if max <= 0 {
		return nil
	}
	users, adding := queuedByUser(runs)
	for _, k := range users {
		queued, err := count(k[0], k[1])
		if err != nil {
			return err
		}
		if queued+adding[k] > max {
			return &QueueFullError{ProjectID: k[0], UserID: k[1], Queued: queued, Max: max}
		}
	}
	return nil
}

// Tx is the transaction a WorkflowRuns hook runs in: one of the fields is
// set, by driver.
type Tx struct {
	SQLite   *sql.Tx
	Postgres pgx.Tx
}

// RunStatus is where a run is.
type RunStatus string

const (
	RunQueued    RunStatus = "queued"  // waiting for its first step (a concurrency limit)
	RunRunning   RunStatus = "running" // a step is being executed or is due
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// RunStatuses lists every status.
var RunStatuses = []RunStatus{RunQueued, RunRunning, RunSucceeded, RunFailed}

// Valid reports whether s is one of RunStatuses.
func (s RunStatus) Valid() bool { return validRunStatus(s) }

// Done reports whether the run has finished.
func (s RunStatus) Done() bool { return s == RunSucceeded || s == RunFailed }

// StepStatus is where a step is.
type StepStatus string

const (
	StepRunning   StepStatus = "running"
	StepRetrying  StepStatus = "retrying" // an attempt failed; another is due
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
)

// WorkflowRun is one run of a workflow for one end user.
type WorkflowRun struct {
	ID           string          `json:"id"`
	ProjectID    string          `json:"projectId"`
	UserID       string          `json:"userId"`
	WorkflowID   string          `json:"workflowId"`
	WorkflowHash string          `json:"workflowHash"`
	TriggerType  string          `json:"triggerType"`
	Trigger      json.RawMessage `json:"trigger"`  // what expressions see as trigger
	Settings     json.RawMessage `json:"settings"` // the user's settings when the run began
	// CredentialID is the connection the run's steps call APIs with, when
	// its trigger chose one (the SDK's X-Paragon-Credential); empty: the
	// user's default connection of the workflow's integration.
	CredentialID string `json:"credentialId,omitempty"`
	// DedupKey, when set, is unique among runs: a second run with it is
	// not created (a schedule's firing for one user).
	DedupKey       string          `json:"-"`
	Status         RunStatus       `json:"status"`
	Error          string          `json:"error,omitempty"`
	ResponseStatus int             `json:"responseStatus,omitempty"`
	Response       json.RawMessage `json:"response,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	StartedAt      time.Time       `json:"startedAt,omitzero"`
	FinishedAt     time.Time       `json:"finishedAt,omitzero"`
}

// WorkflowStep is one execution of a step in a run (a step inside a loop
// executes once per item, each with its own path).
type WorkflowStep struct {
	RunID      string          `json:"-"`
	Path       string          `json:"path"` // "post", "each/3/post"
	Seq        int             `json:"seq"`  // execution order
	StepID     string          `json:"stepId"`
	Kind       string          `json:"kind"`
	Status     StepStatus      `json:"status"`
	Attempts   int             `json:"attempts"`
	StartedAt  time.Time       `json:"startedAt"`
	FinishedAt time.Time       `json:"finishedAt,omitzero"`
	Output     json.RawMessage `json:"output,omitempty"` // secrets redacted
	Error      string          `json:"error,omitempty"`
}

// RunFilter selects runs; empty fields select all.
type RunFilter struct {
	ProjectID, UserID, WorkflowID string
	Status                        RunStatus
	Cursor                        string // a RunPage's NextCursor
	Limit                         int    // 1 to MaxPageLimit; 0 is DefaultPageLimit
}

// RunPage is one page of runs.
type RunPage struct {
	Runs       []*WorkflowRun
	NextCursor string // "" on the last page
}

func (f *RunFilter) check() (before int64, beforeID string, err error) {
	if f.Limit <= 0 {
		f.Limit = DefaultPageLimit
	}
	f.Limit = min(f.Limit, MaxPageLimit)
	if f.Status != "" && !validRunStatus(f.Status) {
		return 0, "", errors.New("store: list runs: unknown status " + strconv.Quote(string(f.Status)))
	}
	if f.Cursor == "" {
		return 0, "", nil
	}
	return decodeCursor(f.Cursor)
}

func validRunStatus(s RunStatus) bool {
	for _, k := range RunStatuses {
		if s == k {
			return true
		}
	}
	return false
}

// runWhere is the WHERE clause of a RunFilter; ph numbers placeholders.
func runWhere(f RunFilter, before int64, beforeID string, ph func(any) string, beforeArg any) string {
	var conds []string
	if f.ProjectID != "" {
		conds = append(conds, "project_id = "+ph(f.ProjectID))
	}
	if f.UserID != "" {
		conds = append(conds, "user_id = "+ph(f.UserID))
	}
	if f.WorkflowID != "" {
		conds = append(conds, "workflow_id = "+ph(f.WorkflowID))
	}
	if f.Status != "" {
		conds = append(conds, "status = "+ph(string(f.Status)))
	}
	if before != 0 || beforeID != "" {
		conds = append(conds, "(created_at, id) < ("+ph(beforeArg)+", "+ph(beforeID)+")")
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func nextRunCursor(runs []*WorkflowRun, limit int) ([]*WorkflowRun, string) {
	if len(runs) <= limit {
		return runs, ""
	}
	runs = runs[:limit]
	last := runs[len(runs)-1]
	return runs, encodeCursor(last.CreatedAt, last.ID)
}

func jsonOrNull(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func jsonOr(b json.RawMessage, def string) string {
	if len(b) == 0 {
		return def
	}
	return string(b)
}
