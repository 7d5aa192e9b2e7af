-- 0005: the live runs list asks for runs changed since its last answer (`updated_since`).
CREATE INDEX runs_project_updated ON runs (project_id, updated_at DESC);
