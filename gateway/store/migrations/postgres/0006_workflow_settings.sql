-- SQLite's 0006_workflow_settings.sql, for PostgreSQL: end users' choices
-- about workflows (store.WorkflowSettings), kept apart from connections so
-- that they outlive them.
CREATE TABLE workflow_settings (
    project_id  text        NOT NULL,
    user_id     text        NOT NULL,
    workflow_id text        NOT NULL,
    enabled     boolean     NOT NULL,
    settings    jsonb       NOT NULL DEFAULT '{}',   -- not secret
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, user_id, workflow_id)
);
