package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

var _ WorkflowRuns = (*Postgres)(nil)

const pgRunColumns = `id::text, project_id, user_id, workflow_id, workflow_hash, trigger_type, trigger, settings,
	COALESCE(dedup_key, ''), status, error, response_status, response, created_at, started_at, finished_at, credential_id`

func (p *Postgres) CreateRuns(ctx context.Context, runs []*WorkflowRun, maxQueuedPerUser int, then func(context.Context, Tx, []*WorkflowRun) error) ([]*WorkflowRun, error) {
	var created []*WorkflowRun
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		created = created[:0]
		// A user's queue is counted under a per-user advisory lock (taken
		// in checkQueues' order), so that two replicas cannot both add
		// the last runs it may hold.
		err := checkQueues(runs, maxQueuedPerUser, func(projectID, userID string) (n int, err error) {
			key := strconv.Itoa(len(projectID)) + "/" + projectID + "/" + userID
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, pgLockRunQueue, key); err != nil {
				return 0, err
			}
			err = tx.QueryRow(ctx, `SELECT count(*) FROM workflow_runs WHERE status = 'queued' AND project_id = $1 AND user_id = $2`,
				projectID, userID).Scan(&n)
			return n, err
		})
		if err != nil {
			return err
		}
		now := nowMillis()
		for _, r := range runs {
			if r.ID == "" {
				r.ID = newConnectionID()
			}
			r.CreatedAt = now
			if r.Status == "" {
				r.Status = RunQueued
			}
			var dedup *string
			if r.DedupKey != "" {
				dedup = &r.DedupKey
			}
			tag, err := tx.Exec(ctx, `INSERT INTO workflow_runs (id, project_id, user_id, workflow_id, workflow_hash,
				trigger_type, trigger, settings, dedup_key, status, error, response_status, response, created_at, started_at, finished_at, credential_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING`,
				r.ID, r.ProjectID, r.UserID, r.WorkflowID, r.WorkflowHash, r.TriggerType, jsonOr(r.Trigger, "null"),
				jsonOr(r.Settings, "{}"), dedup, string(r.Status), r.Error, r.ResponseStatus, jsonOrNull(r.Response),
				now, nullTime(r.StartedAt), nullTime(r.FinishedAt), r.CredentialID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				created = append(created, r)
			}
		}
		if then != nil && len(created) > 0 {
			return then(ctx, Tx{Postgres: tx}, created)
		}
		return nil
	})
	var full *QueueFullError
	if errors.As(err, &full) {
		return nil, full
	}
	if err != nil {
		return nil, fmt.Errorf("store: create workflow runs: %w", err)
	}
	return created, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func scanPostgresRun(sc pgx.Row) (*WorkflowRun, error) {
	var r WorkflowRun
	var trigger, settings, response []byte
	var started, finished *time.Time
	err := sc.Scan(&r.ID, &r.ProjectID, &r.UserID, &r.WorkflowID, &r.WorkflowHash, &r.TriggerType, &trigger, &settings,
		&r.DedupKey, &r.Status, &r.Error, &r.ResponseStatus, &response, &r.CreatedAt, &started, &finished, &r.CredentialID)
	if err != nil {
		return nil, err
	}
	r.Trigger, r.Settings = json.RawMessage(trigger), json.RawMessage(settings)
	if response != nil {
		r.Response = json.RawMessage(response)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.StartedAt, r.FinishedAt = utcOrZero(started), utcOrZero(finished)
	return &r, nil
}

func (p *Postgres) Run(ctx context.Context, id string) (*WorkflowRun, error) {
	if !validConnectionID(id) {
		return nil, ErrNotFound
	}
	r, err := scanPostgresRun(p.pool.QueryRow(ctx, `SELECT `+pgRunColumns+` FROM workflow_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: workflow run %s: %w", id, err)
	}
	return r, nil
}

func (p *Postgres) RunSteps(ctx context.Context, runID string) ([]*WorkflowStep, error) {
	if !validConnectionID(runID) {
		return nil, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT path, seq, step_id, kind, status, attempts, started_at, finished_at, output, error
		FROM workflow_steps WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("store: steps of workflow run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []*WorkflowStep
	for rows.Next() {
		st := &WorkflowStep{RunID: runID}
		var finished *time.Time
		var output []byte
		if err := rows.Scan(&st.Path, &st.Seq, &st.StepID, &st.Kind, &st.Status, &st.Attempts, &st.StartedAt, &finished, &output, &st.Error); err != nil {
			return nil, fmt.Errorf("store: steps of workflow run %s: %w", runID, err)
		}
		st.StartedAt, st.FinishedAt = st.StartedAt.UTC(), utcOrZero(finished)
		if output != nil {
			st.Output = json.RawMessage(output)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func (p *Postgres) ListRuns(ctx context.Context, f RunFilter) (RunPage, error) {
	before, beforeID, err := f.check()
	if err != nil {
		return RunPage{}, err
	}
	var args []any
	ph := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := runWhere(f, before, beforeID, ph, time.UnixMilli(before).UTC())
	rows, err := p.pool.Query(ctx, `SELECT `+pgRunColumns+` FROM workflow_runs`+where+
		` ORDER BY created_at DESC, id DESC LIMIT `+strconv.Itoa(f.Limit+1), args...)
	if err != nil {
		return RunPage{}, fmt.Errorf("store: list workflow runs: %w", err)
	}
	defer rows.Close()
	var runs []*WorkflowRun
	for rows.Next() {
		r, err := scanPostgresRun(rows)
		if err != nil {
			return RunPage{}, fmt.Errorf("store: list workflow runs: %w", err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return RunPage{}, fmt.Errorf("store: list workflow runs: %w", err)
	}
	var page RunPage
	page.Runs, page.NextCursor = nextRunCursor(runs, f.Limit)
	return page, nil
}

func (p *Postgres) SaveRun(ctx context.Context, r *WorkflowRun, steps []*WorkflowStep, then func(context.Context, Tx) error) error {
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		if r != nil {
			tag, err := tx.Exec(ctx, `UPDATE workflow_runs SET status = $1, error = $2, response_status = $3, response = $4,
				started_at = $5, finished_at = $6 WHERE id = $7`, string(r.Status), r.Error, r.ResponseStatus, jsonOrNull(r.Response),
				nullTime(r.StartedAt), nullTime(r.FinishedAt), r.ID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return ErrNotFound
			}
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, `INSERT INTO workflow_steps (run_id, path, seq, step_id, kind, status,
				attempts, started_at, finished_at, output, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
				ON CONFLICT (run_id, path) DO UPDATE SET seq = EXCLUDED.seq, step_id = EXCLUDED.step_id, kind = EXCLUDED.kind,
				status = EXCLUDED.status, attempts = EXCLUDED.attempts, started_at = EXCLUDED.started_at,
				finished_at = EXCLUDED.finished_at, output = EXCLUDED.output, error = EXCLUDED.error`,
				st.RunID, st.Path, st.Seq, st.StepID, st.Kind, string(st.Status), st.Attempts, st.StartedAt,
				nullTime(st.FinishedAt), jsonOrNull(st.Output), st.Error); err != nil {
				return err
			}
		}
		if then != nil {
			return then(ctx, Tx{Postgres: tx})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save workflow run: %w", err)
	}
	return nil
}

func (p *Postgres) StartRun(ctx context.Context, id string, maxProject, maxUser int) (bool, error) {
	started := false
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		var status RunStatus
		var projectID, userID string
		// The row lock orders concurrent starts of one run; the limits
		// are counted under a per-project advisory lock, so that two
		// replicas do not both take the last slot.
		err := tx.QueryRow(ctx, `SELECT status, project_id, user_id FROM workflow_runs WHERE id = $1 FOR UPDATE`, id).Scan(&status, &projectID, &userID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status != RunQueued {
			started = status == RunRunning
			return nil
		}
		if maxProject > 0 || maxUser > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, pgLockRunStart, projectID); err != nil {
				return err
			}
		}
		if maxProject > 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM workflow_runs WHERE status = 'running' AND project_id = $1`, projectID).Scan(&n); err != nil {
				return err
			}
			if n >= maxProject {
				return nil
			}
		}
		if maxUser > 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM workflow_runs WHERE status = 'running' AND project_id = $1 AND user_id = $2`,
				projectID, userID).Scan(&n); err != nil {
				return err
			}
			if n >= maxUser {
				return nil
			}
		}
		_, err = tx.Exec(ctx, `UPDATE workflow_runs SET status = 'running', started_at = $1 WHERE id = $2`, nowMillis(), id)
		started = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: start workflow run %s: %w", id, err)
	}
	return started, nil
}

func (p *Postgres) CountRuns(ctx context.Context, statuses ...RunStatus) (map[string]map[RunStatus]int, error) {
	q := `SELECT workflow_id, status, count(*) FROM workflow_runs`
	var args []any
	if len(statuses) > 0 {
		ss := make([]string, len(statuses))
		for i, st := range statuses {
			ss[i] = string(st)
		}
		q += ` WHERE status = ANY($1)`
		args = append(args, ss)
	}
	rows, err := p.pool.Query(ctx, q+` GROUP BY workflow_id, status`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: count workflow runs: %w", err)
	}
	defer rows.Close()
	out := map[string]map[RunStatus]int{}
	for rows.Next() {
		var wf string
		var st RunStatus
		var n int
		if err := rows.Scan(&wf, &st, &n); err != nil {
			return nil, fmt.Errorf("store: count workflow runs: %w", err)
		}
		if out[wf] == nil {
			out[wf] = map[RunStatus]int{}
		}
		out[wf][st] = n
	}
	return out, rows.Err()
}
