-- The schema of SQLite's 0001_init.sql and 0002_tickets.sql, for PostgreSQL.
-- Times are timestamptz, written by the gateway rounded to the millisecond.

-- Connections: one credential of one end user for one integration.
-- credential is the sealed JSON of store.Credential ("v1.<kid>.<base64url>"),
-- bound to id and owner.
CREATE TABLE connections (
    id             uuid        NOT NULL PRIMARY KEY,       -- version 4
    -- Insertion order: List and Delete's promotion order connections
    -- created in the same millisecond by it (SQLite uses its rowid).
    seq            bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    project_id     text        NOT NULL,
    user_id        text        NOT NULL,
    integration_id text        NOT NULL,                   -- manifest id, no "custom." prefix
    is_default     boolean     NOT NULL DEFAULT false,
    status         text        NOT NULL,
    credential     text        NOT NULL,
    expires_at     timestamptz,                            -- NULL: unknown or not applicable
    last_error     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    version        bigint      NOT NULL
)
-- Token refreshes rewrite rows without touching indexed columns: free space
-- on each page lets those updates stay on the page (HOT), without index writes.
WITH (fillfactor = 90);

-- List, Create (is this the first?) and Delete (who is next oldest?).
CREATE INDEX connections_owner
    ON connections (project_id, user_id, integration_id, created_at, seq);

-- Default, and the rule that a user has at most one default per integration.
CREATE UNIQUE INDEX connections_default
    ON connections (project_id, user_id, integration_id)
    WHERE is_default;

-- Tickets: short-lived, single-use records (connect links, OAuth states).
-- Keys are hashes of the secret the browser holds; values are sealed.
CREATE TABLE tickets (
    kind       text        NOT NULL,
    key        text        NOT NULL,
    value      text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE INDEX tickets_expiry ON tickets (expires_at);
