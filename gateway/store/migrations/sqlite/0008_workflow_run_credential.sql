-- The connection a workflow run calls APIs with when its trigger chose one
-- (the SDK's X-Paragon-Credential); '': the user's default connection of the
-- workflow's integration, as before.
ALTER TABLE workflow_runs ADD COLUMN credential_id TEXT NOT NULL DEFAULT '';
