package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/plugboardhq/plugboard/manifest"
)

var _ WorkflowSettings = (*SQLite)(nil)

// SetWorkflow records a user's choice about wf in one transaction (the
// previous settings are read in it when settings is nil).
func (s *SQLite) SetWorkflow(ctx context.Context, projectID, userID string, wf *manifest.Workflow, enabled bool, settings map[string]any) (WorkflowChoice, error) {
	out, err := s.SetWorkflows(ctx, projectID, userID, []WorkflowChange{{Workflow: wf, Enabled: enabled, Settings: settings}})
	if err != nil {
		return WorkflowChoice{}, err
	}
	return out[0], nil
}

// SetWorkflows records several choices in one transaction: all or none.
func (s *SQLite) SetWorkflows(ctx context.Context, projectID, userID string, changes []WorkflowChange) ([]WorkflowChoice, error) {
	if err := checkWorkflowIDs(projectID, userID, changes); err != nil {
		return nil, fmt.Errorf("store: set workflow: %w", err)
	}
	now := nowMillis()
	stored := make([]string, len(changes))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, i := range workflowOrder(changes) {
			c := changes[i]
			var previous map[string]any
			if c.Settings == nil {
				var raw string
				err := tx.QueryRowContext(ctx, `SELECT settings FROM workflow_settings WHERE project_id = ? AND user_id = ? AND workflow_id = ?`,
					projectID, userID, c.Workflow.ID).Scan(&raw)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
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
			if _, err = tx.ExecContext(ctx, `INSERT INTO workflow_settings (project_id, user_id, workflow_id, enabled, settings, updated_at)
				VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (project_id, user_id, workflow_id) DO UPDATE SET enabled = excluded.enabled, settings = excluded.settings, updated_at = excluded.updated_at`,
				projectID, userID, c.Workflow.ID, c.Enabled, stored[i], toMillis(now)); err != nil {
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
func (s *SQLite) GetWorkflow(ctx context.Context, projectID, userID, workflowID string) (WorkflowChoice, error) {
	var c WorkflowChoice
	var raw string
	var updated int64
	err := s.r.QueryRowContext(ctx, `SELECT workflow_id, enabled, settings, updated_at FROM workflow_settings
		WHERE project_id = ? AND user_id = ? AND workflow_id = ?`, projectID, userID, workflowID).Scan(&c.WorkflowID, &c.Enabled, &raw, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("store: get workflow %s: %w", workflowID, err)
	}
	c.UpdatedAt = fromNullMillis(sql.NullInt64{Int64: updated, Valid: true})
	c.Settings, err = decodeSettings(workflowID, raw)
	return c, err
}

// ListWorkflows returns a user's recorded choices, by workflow id.
func (s *SQLite) ListWorkflows(ctx context.Context, projectID, userID string) ([]WorkflowChoice, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT workflow_id, enabled, settings, updated_at FROM workflow_settings
		WHERE project_id = ? AND user_id = ? ORDER BY workflow_id`, projectID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list workflows: %w", err)
	}
	defer rows.Close()
	out := []WorkflowChoice{}
	for rows.Next() {
		var c WorkflowChoice
		var raw string
		var updated int64
		if err := rows.Scan(&c.WorkflowID, &c.Enabled, &raw, &updated); err != nil {
			return nil, fmt.Errorf("store: list workflows: %w", err)
		}
		c.UpdatedAt = fromNullMillis(sql.NullInt64{Int64: updated, Valid: true})
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
func (s *SQLite) UserWorkflow(ctx context.Context, projectID, userID string, wf *manifest.Workflow) (bool, map[string]any, error) {
	return userWorkflow(ctx, s.GetWorkflow, projectID, userID, wf)
}
