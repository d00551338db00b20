-- A user's connections in creation order (List, behind /sdk/me): without
-- it SQLite walked the project's index, every connection of the project,
-- to avoid a sort (found by the growth tests, README "How cost grows").
CREATE INDEX connections_user_list ON connections (project_id, user_id, created_at);
-- The operators' listing filtered by user alone (/admin/v1/connections?user=…)
-- scanned the whole table.
CREATE INDEX connections_user ON connections (user_id, created_at, id);
-- Rows whose renewable flag is still to be filled in (written before
-- 0003): every open looks for them, which without this index read the
-- whole table (13 s at startup with a million connections). Normally empty.
CREATE INDEX connections_unfilled ON connections (id) WHERE renewable IS NULL;
