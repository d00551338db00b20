package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plugboardhq/plugboard/manifest"
)

var _ WorkflowSettings = (*Postgres)(nil)

// SetWorkflow records a user's choice about wf in one transaction; the
// previous row, read when settings is nil, is locked (FOR UPDATE) so that
// two replicas saving at once do not lose each other's settings.
func (p *Postgres) SetWorkflow(ctx context.Context, projectID, userID string, wf *manifest.Workflow, enabled bool, settings map[string]any) (WorkflowChoice, error) {
	if err := checkWorkflowIDs(projectID, userID, wf); err != nil {
		return WorkflowChoice{}, fmt.Errorf("store: set workflow: %w", err)
	}
	now := nowMillis()
	var stored string
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		var previous map[string]any
		if settings == nil {
			var raw string
			err := tx.QueryRow(ctx, `SELECT settings::text FROM workflow_settings WHERE project_id = $1 AND user_id = $2 AND workflow_id = $3 FOR UPDATE`,
				projectID, userID, wf.ID).Scan(&raw)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if raw != "" {
				if previous, err = decodeSettings(wf.ID, raw); err != nil {
					return err
				}
			}
		}
		var err error
		if stored, err = mergeSettings(wf, previous, settings, enabled); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO workflow_settings (project_id, user_id, workflow_id, enabled, settings, updated_at)
			VALUES ($1, $2, $3, $4, $5::jsonb, $6)
			ON CONFLICT (project_id, user_id, workflow_id) DO UPDATE SET enabled = excluded.enabled, settings = excluded.settings, updated_at = excluded.updated_at`,
			projectID, userID, wf.ID, enabled, stored, now)
		return err
	})
	if err != nil {
		var se *SettingsError
		if errors.As(err, &se) {
			return WorkflowChoice{}, se
		}
		return WorkflowChoice{}, fmt.Errorf("store: set workflow %s: %w", wf.ID, err)
	}
	decoded, err := decodeSettings(wf.ID, stored)
	return WorkflowChoice{WorkflowID: wf.ID, Enabled: enabled, Settings: decoded, UpdatedAt: now}, err
}

// GetWorkflow returns a user's recorded choice about a workflow.
func (p *Postgres) GetWorkflow(ctx context.Context, projectID, userID, workflowID string) (WorkflowChoice, error) {
	var c WorkflowChoice
	var raw string
	var updated time.Time
	err := p.pool.QueryRow(ctx, `SELECT workflow_id, enabled, settings::text, updated_at FROM workflow_settings
		WHERE project_id = $1 AND user_id = $2 AND workflow_id = $3`, projectID, userID, workflowID).Scan(&c.WorkflowID, &c.Enabled, &raw, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("store: get workflow %s: %w", workflowID, err)
	}
	c.UpdatedAt = updated.UTC()
	c.Settings, err = decodeSettings(workflowID, raw)
	return c, err
}

// ListWorkflows returns a user's recorded choices, by workflow id.
func (p *Postgres) ListWorkflows(ctx context.Context, projectID, userID string) ([]WorkflowChoice, error) {
	rows, err := p.pool.Query(ctx, `SELECT workflow_id, enabled, settings::text, updated_at FROM workflow_settings
		WHERE project_id = $1 AND user_id = $2 ORDER BY workflow_id COLLATE "C"`, projectID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list workflows: %w", err)
	}
	defer rows.Close()
	out := []WorkflowChoice{}
	for rows.Next() {
		var c WorkflowChoice
		var raw string
		var updated time.Time
		if err := rows.Scan(&c.WorkflowID, &c.Enabled, &raw, &updated); err != nil {
			return nil, fmt.Errorf("store: list workflows: %w", err)
		}
		c.UpdatedAt = updated.UTC()
		if c.Settings, err = decodeSettings(c.WorkflowID, raw); err != nil {
			return nil, fmt.Errorf("store: list workflows: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list workflows: %w", err)
	}
	return out, nil
}

// UserWorkflow is the engine's question: see WorkflowSettings.
func (p *Postgres) UserWorkflow(ctx context.Context, projectID, userID string, wf *manifest.Workflow) (bool, map[string]any, error) {
	return userWorkflow(ctx, p.GetWorkflow, projectID, userID, wf)
}
