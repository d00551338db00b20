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
	out, err := p.SetWorkflows(ctx, projectID, userID, []WorkflowChange{{Workflow: wf, Enabled: enabled, Settings: settings}})
	if err != nil {
		return WorkflowChoice{}, err
	}
	return out[0], nil
}

// SetWorkflows records several choices in one transaction: all or none.
func (p *Postgres) SetWorkflows(ctx context.Context, projectID, userID string, changes []WorkflowChange) ([]WorkflowChoice, error) {
	if err := checkWorkflowIDs(projectID, userID, changes); err != nil {
		return nil, fmt.Errorf("store: set workflow: %w", err)
	}
	now := nowMillis()
	stored := make([]string, len(changes))
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		for _, i := range workflowOrder(changes) {
			c := changes[i]
			var previous map[string]any
			if c.Settings == nil {
				var raw string
				err := tx.QueryRow(ctx, `SELECT settings::text FROM workflow_settings WHERE project_id = $1 AND user_id = $2 AND workflow_id = $3 FOR UPDATE`,
					projectID, userID, c.Workflow.ID).Scan(&raw)
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				if raw != "" {
					if previous, err = decodeSettings(c.Workflow.ID, raw); err != nil {
						return err
					}
				}
			}
			var err error
			if stored[i], err = mergeSettings(c.Workflow, previous, c.Settings, c.Enabled); err != nil {
				return err
			}
			if _, err = tx.Exec(ctx, `INSERT INTO workflow_settings (project_id, user_id, workflow_id, enabled, settings, updated_at)
				VALUES ($1, $2, $3, $4, $5::jsonb, $6)
				ON CONFLICT (project_id, user_id, workflow_id) DO UPDATE SET enabled = excluded.enabled, settings = excluded.settings, updated_at = excluded.updated_at`,
				projectID, userID, c.Workflow.ID, c.Enabled, stored[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, setWorkflowErr(changes, err)
	}
	return workflowChoices(changes, stored, now)
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
