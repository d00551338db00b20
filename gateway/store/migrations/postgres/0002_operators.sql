-- SQLite's 0003_operators.sql, for PostgreSQL: what operators see of
-- connections (last used, last refreshed, renewable without the user), and
-- the admin listing's indexes. renewable is NULL for rows written before
-- this migration until the store fills it in at open.
ALTER TABLE connections
    ADD COLUMN last_used_at    timestamptz,                -- NULL: never
    ADD COLUMN last_refresh_at timestamptz,                -- NULL: never
    ADD COLUMN renewable       boolean;

-- The admin listing: every connection, by project or by integration, in
-- creation order (created_at, id), which its cursor continues.
CREATE INDEX connections_created ON connections (created_at, id);
CREATE INDEX connections_project ON connections (project_id, created_at, id);
CREATE INDEX connections_integration ON connections (integration_id, created_at, id);
