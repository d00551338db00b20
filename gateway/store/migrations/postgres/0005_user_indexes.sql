-- The operators' listing filtered by user alone (/admin/v1/connections?user=…)
-- scanned the whole table (found by the growth tests, README "How cost grows").
CREATE INDEX connections_user ON connections (user_id, created_at, id);
-- Rows whose renewable flag is still to be filled in (written before
-- 0002): every start looks for them, which without this index read the
-- whole table. Normally empty.
CREATE INDEX connections_unfilled ON connections (id) WHERE renewable IS NULL;
