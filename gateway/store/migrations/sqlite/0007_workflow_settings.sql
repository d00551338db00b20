-- End users' choices about workflows (store.WorkflowSettings): enabled or
-- not, and the settings they filled in, as a JSON object. A choice belongs
-- to (project, user, workflow), not to a connection: it outlives the
-- user's connections and is found again when they reconnect.
CREATE TABLE workflow_settings (
    project_id  TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    workflow_id TEXT    NOT NULL,
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    settings    TEXT    NOT NULL DEFAULT '{}',    -- JSON object; not secret
    updated_at  INTEGER NOT NULL,                 -- Unix milliseconds
    PRIMARY KEY (project_id, user_id, workflow_id)
) STRICT, WITHOUT ROWID;
