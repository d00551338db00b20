-- SQLite's 0005_workflow_runs.sql, for PostgreSQL: workflow runs and the
-- steps they executed (gateway/workflow).
CREATE TABLE workflow_runs (
    id              uuid        NOT NULL PRIMARY KEY,
    project_id      text        NOT NULL,
    user_id         text        NOT NULL,
    workflow_id     text        NOT NULL,
    workflow_hash   text        NOT NULL,
    trigger_type    text        NOT NULL,
    trigger         jsonb       NOT NULL,
    settings        jsonb       NOT NULL,
    dedup_key       text,                               -- NULL, or unique: a schedule's (workflow, user, time)
    status          text        NOT NULL,               -- queued, running, succeeded, failed
    error           text        NOT NULL DEFAULT '',
    response_status integer     NOT NULL DEFAULT 0,
    response        jsonb,
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz
);

CREATE UNIQUE INDEX workflow_runs_dedup ON workflow_runs (dedup_key) WHERE dedup_key IS NOT NULL;
CREATE INDEX workflow_runs_created ON workflow_runs (created_at, id);
CREATE INDEX workflow_runs_active ON workflow_runs (status, project_id, user_id);

CREATE TABLE workflow_steps (
    run_id      uuid        NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    path        text        NOT NULL,
    seq         integer     NOT NULL,
    step_id     text        NOT NULL,
    kind        text        NOT NULL,
    status      text        NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    output      jsonb,
    error       text        NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, path)
);
