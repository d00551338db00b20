-- What operators see of connections (the admin API): when a connection was
-- last used and last refreshed, and whether its token can be renewed
-- without the user, kept in clear beside the sealed credential so that
-- listings and counts by status need not decrypt it. renewable is NULL for
-- rows written before this migration until the store fills it in at open.
ALTER TABLE connections ADD COLUMN last_used_at INTEGER;      -- NULL: never
ALTER TABLE connections ADD COLUMN last_refresh_at INTEGER;   -- NULL: never
ALTER TABLE connections ADD COLUMN renewable INTEGER CHECK (renewable IN (0, 1));

-- The admin listing: every connection, by project or by integration, in
-- creation order (created_at, id), which its cursor continues.
CREATE INDEX connections_created ON connections (created_at, id);
CREATE INDEX connections_project ON connections (project_id, created_at, id);
CREATE INDEX connections_integration ON connections (integration_id, created_at, id);
