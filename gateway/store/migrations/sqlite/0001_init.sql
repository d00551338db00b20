-- Connections: one credential of one end user for one integration.
-- Times are Unix milliseconds (UTC). credential is the sealed JSON of
-- store.Credential ("v1.<kid>.<base64url>"), bound to id and owner.
CREATE TABLE connections (
    id             TEXT    NOT NULL PRIMARY KEY,           -- UUID v4
    project_id     TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    integration_id TEXT    NOT NULL,                       -- manifest id, no "custom." prefix
    is_default     INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    status         TEXT    NOT NULL,
    credential     TEXT    NOT NULL,
    expires_at     INTEGER,                                -- NULL: unknown or not applicable
    last_error     TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL
) STRICT;

-- List, Create (is this the first?) and Delete (who is next oldest?).
CREATE INDEX connections_owner
    ON connections (project_id, user_id, integration_id, created_at);

-- Default, and the rule that a user has at most one default per integration.
CREATE UNIQUE INDEX connections_default
    ON connections (project_id, user_id, integration_id)
    WHERE is_default = 1;
