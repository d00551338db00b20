-- Tickets: short-lived, single-use records (connect links, OAuth states).
-- Keys are hashes of the secret the browser holds; values are sealed.
CREATE TABLE tickets (
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;

CREATE INDEX tickets_expiry ON tickets (expires_at);
