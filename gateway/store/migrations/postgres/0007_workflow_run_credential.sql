-- SQLite's 0008_workflow_run_credential.sql, for PostgreSQL: the connection
-- a workflow run calls APIs with when its trigger chose one; '': the user's
-- default connection of the workflow's integration.
ALTER TABLE workflow_runs ADD COLUMN credential_id text NOT NULL DEFAULT '';
