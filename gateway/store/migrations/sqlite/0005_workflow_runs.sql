-- Workflow runs (gateway/workflow): one row per run of a workflow for one
-- end user, and one row per step execution of a run. Times are Unix
-- milliseconds; JSON columns hold text (outputs have secrets redacted).
CREATE TABLE workflow_runs (
    id              TEXT    NOT NULL PRIMARY KEY,   -- uuid v4
    project_id      TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    workflow_id     TEXT    NOT NULL,
    workflow_hash   TEXT    NOT NULL,               -- the file's SHA-256 when the run began
    trigger_type    TEXT    NOT NULL,               -- request, event, lifecycle, schedule
    trigger         TEXT    NOT NULL,               -- JSON: what expressions see as trigger
    settings        TEXT    NOT NULL,               -- JSON: the user's settings when the run began
    dedup_key       TEXT,                           -- NULL, or unique: a schedule's (workflow, user, time)
    status          TEXT    NOT NULL,               -- queued, running, succeeded, failed
    error           TEXT    NOT NULL DEFAULT '',
    response_status INTEGER NOT NULL DEFAULT 0,     -- the response step's, 0 when none
    response        TEXT,                           -- JSON, NULL when none
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER
);

CREATE UNIQUE INDEX workflow_runs_dedup ON workflow_runs (dedup_key) WHERE dedup_key IS NOT NULL;
-- The admin listing (newest first) and the concurrency limits.
CREATE INDEX workflow_runs_created ON workflow_runs (created_at, id);
CREATE INDEX workflow_runs_active ON workflow_runs (status, project_id, user_id);

CREATE TABLE workflow_steps (
    run_id      TEXT    NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    path        TEXT    NOT NULL,       -- where in the tree: "post", "each/3/post"
    seq         INTEGER NOT NULL,       -- order of execution in the run
    step_id     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    status      TEXT    NOT NULL,       -- running, retrying, succeeded, failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    output      TEXT,                   -- JSON, NULL when none
    error       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, path)
);
