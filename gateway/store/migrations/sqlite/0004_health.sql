-- Health checks (api.healthCheck): when the gateway last called the
-- integration's test endpoint with the connection's credential, when that
-- last succeeded, and the last check's error ('' when it succeeded).
ALTER TABLE connections ADD COLUMN last_checked_at INTEGER;   -- NULL: never
ALTER TABLE connections ADD COLUMN last_check_ok_at INTEGER;  -- NULL: never
ALTER TABLE connections ADD COLUMN check_error TEXT NOT NULL DEFAULT '';
