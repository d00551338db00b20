package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var _ WorkflowRuns = (*SQLite)(nil)

const sqliteRunColumns = `id, project_id, user_id, workflow_id, workflow_hash, trigger_type, trigger, settings,
	COALESCE(dedup_key, ''), status, error, response_status, response, created_at, started_at, finished_at, credential_id`

func (s *SQLite) CreateRuns(ctx context.Context, runs []*WorkflowRun, maxQueuedPerUser int, then func(context.Context, Tx, []*WorkflowRun) error) ([]*WorkflowRun, error) {
	var created []*WorkflowRun
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		created = created[:0]
		// One writer: the count holds until the transaction ends.
		err := checkQueues(runs, maxQueuedPerUser, func(projectID, userID string) (n int, err error) {
			err = tx.QueryRowContext(ctx, `SELECT count(*) FROM workflow_runs WHERE status = 'queued' AND project_id = ? AND user_id = ?`,
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
			var dedup sql.NullString
			if r.DedupKey != "" {
				dedup = sql.NullString{String: r.DedupKey, Valid: true}
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO workflow_runs (id, project_id, user_id, workflow_id, workflow_hash,
				trigger_type, trigger, settings, dedup_key, status, error, response_status, response, created_at, started_at, finished_at, credential_id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				r.ID, r.ProjectID, r.UserID, r.WorkflowID, r.WorkflowHash, r.TriggerType, jsonOr(r.Trigger, "null"),
				jsonOr(r.Settings, "{}"), dedup, string(r.Status), r.Error, r.ResponseStatus, jsonOrNull(r.Response),
				toMillis(now), nullMillis(r.StartedAt), nullMillis(r.FinishedAt), r.CredentialID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				created = append(created, r)
			}
		}
		if then != nil && len(created) > 0 {
			return then(ctx, Tx{SQLite: tx}, created)
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

func scanSQLiteRun(sc rowScanner) (*WorkflowRun, error) {
	var r WorkflowRun
	var trigger, settings string
	var response sql.NullString
	var created int64
	var started, finished sql.NullInt64
	err := sc.Scan(&r.ID, &r.ProjectID, &r.UserID, &r.WorkflowID, &r.WorkflowHash, &r.TriggerType, &trigger, &settings,
		&r.DedupKey, &r.Status, &r.Error, &r.ResponseStatus, &response, &created, &started, &finished, &r.CredentialID)
	if err != nil {
		return nil, err
	}
	r.Trigger, r.Settings = json.RawMessage(trigger), json.RawMessage(settings)
	if response.Valid {
		r.Response = json.RawMessage(response.String)
	}
	r.CreatedAt = fromNullMillis(sql.NullInt64{Int64: created, Valid: true})
	r.StartedAt, r.FinishedAt = fromNullMillis(started), fromNullMillis(finished)
	return &r, nil
}

func (s *SQLite) Run(ctx context.Context, id string) (*WorkflowRun, error) {
	r, err := scanSQLiteRun(s.r.QueryRowContext(ctx, `SELECT `+sqliteRunColumns+` FROM workflow_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: workflow run %s: %w", id, err)
	}
	return r, nil
}

func (s *SQLite) RunSteps(ctx context.Context, runID string) ([]*WorkflowStep, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT path, seq, step_id, kind, status, attempts, started_at, finished_at, output, error
		FROM workflow_steps WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("store: steps of workflow run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []*WorkflowStep
	for rows.Next() {
		st := &WorkflowStep{RunID: runID}
		var started int64
		var finished sql.NullInt64
		var output sql.NullString
		if err := rows.Scan(&st.Path, &st.Seq, &st.StepID, &st.Kind, &st.Status, &st.Attempts, &started, &finished, &output, &st.Error); err != nil {
			return nil, fmt.Errorf("store: steps of workflow run %s: %w", runID, err)
		}
		st.StartedAt = fromNullMillis(sql.NullInt64{Int64: started, Valid: true})
		st.FinishedAt = fromNullMillis(finished)
		if output.Valid {
			st.Output = json.RawMessage(output.String)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func (s *SQLite) ListRuns(ctx context.Context, f RunFilter) (RunPage, error) {
	before, beforeID, err := f.check()
	if err != nil {
		return RunPage{}, err
	}
	var args []any
	ph := func(v any) string { args = append(args, v); return "?" }
	q := `SELECT ` + sqliteRunColumns + ` FROM workflow_runs` + runWhere(f, before, beforeID, ph, before) +
		` ORDER BY created_at DESC, id DESC LIMIT ` + strconv.Itoa(f.Limit+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return RunPage{}, fmt.Errorf("store: list workflow runs: %w", err)
	}
	defer rows.Close()
	var runs []*WorkflowRun
	for rows.Next() {
		r, err := scanSQLiteRun(rows)
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

func (s *SQLite) SaveRun(ctx context.Context, r *WorkflowRun, steps []*WorkflowStep, then func(context.Context, Tx) error) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if r != nil {
			res, err := tx.ExecContext(ctx, `UPDATE workflow_runs SET status = ?, error = ?, response_status = ?, response = ?,
				started_at = ?, finished_at = ? WHERE id = ?`, string(r.Status), r.Error, r.ResponseStatus, jsonOrNull(r.Response),
				nullMillis(r.StartedAt), nullMillis(r.FinishedAt), r.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return ErrNotFound
			}
		}
		for _, st := range steps {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO workflow_steps (run_id, path, seq, step_id, kind, status,
				attempts, started_at, finished_at, output, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				st.RunID, st.Path, st.Seq, st.StepID, st.Kind, string(st.Status), st.Attempts, toMillis(st.StartedAt),
				nullMillis(st.FinishedAt), jsonOrNull(st.Output), st.Error); err != nil {
				return err
			}
		}
		if then != nil {
			return then(ctx, Tx{SQLite: tx})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save workflow run: %w", err)
	}
	return nil
}

func (s *SQLite) StartRun(ctx context.Context, id string, maxProject, maxUser int) (bool, error) {
	started := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var status RunStatus
		var projectID, userID string
		err := tx.QueryRowContext(ctx, `SELECT status, project_id, user_id FROM workflow_runs WHERE id = ?`, id).Scan(&status, &projectID, &userID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status != RunQueued {
			started = status == RunRunning
			return nil
		}
		if maxProject > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM workflow_runs WHERE status = 'running' AND project_id = ?`, projectID).Scan(&n); err != nil {
				return err
			}
			if n >= maxProject {
				return nil
			}
		}
		if maxUser > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM workflow_runs WHERE status = 'running' AND project_id = ? AND user_id = ?`,
				projectID, userID).Scan(&n); err != nil {
				return err
			}
			if n >= maxUser {
				return nil
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE workflow_runs SET status = 'running', started_at = ? WHERE id = ?`, toMillis(nowMillis()), id)
		started = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: start workflow run %s: %w", id, err)
	}
	return started, nil
}

func (s *SQLite) CountRuns(ctx context.Context, statuses ...RunStatus) (map[string]map[RunStatus]int, error) {
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = string(st)
	}
	q := `SELECT workflow_id, status, count(*) FROM workflow_runs`
	if len(statuses) > 0 {
		q += ` WHERE status IN (` + strings.TrimSuffix(strings.Repeat("?,", len(statuses)), ",") + `)`
	}
	rows, err := s.r.QueryContext(ctx, q+` GROUP BY workflow_id, status`, args...)
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
