-- A user's connections in creation order (List, behind /sdk/me): without
-- it SQLite walked the project's index, every connection of the project,
-- to avoid a sort (found by the growth tests, README "How cost grows").
CREATE INDEX connections_user_list ON connections (project_id, user_id, created_at);
-- The operators' listing filtered by user alone (/admin/v1/connections?user=…)
-- scanned the whole table.
CREATE INDEX connections_user ON connections (user_id, created_at, id);
