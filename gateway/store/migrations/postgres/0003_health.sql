-- SQLite's 0004_health.sql, for PostgreSQL: the last health check of each
-- connection (api.healthCheck): when, when it last succeeded, its error.
ALTER TABLE connections
    ADD COLUMN last_checked_at  timestamptz,              -- NULL: never
    ADD COLUMN last_check_ok_at timestamptz,              -- NULL: never
    ADD COLUMN check_error      text NOT NULL DEFAULT '';
