-- The operators' listing filtered by user alone (/admin/v1/connections?user=…)
-- scanned the whole table (found by the growth tests, README "How cost grows").
CREATE INDEX connections_user ON connections (user_id, created_at, id);
