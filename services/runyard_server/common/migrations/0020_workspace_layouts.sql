-- 0020: the web UI's workspace layouts (docs/ui.md): each user's own arrangement of a project's panels,
-- and read-only snapshots of one that a link shares. Written by the query service only.
CREATE TABLE workspace_layouts (
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    layout     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE workspace_views (
    id         text PRIMARY KEY,                   -- random and URL-safe: the link names it
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_by bigint REFERENCES users (id) ON DELETE SET NULL,
    layout     jsonb NOT NULL,
    query      text NOT NULL DEFAULT '',           -- the page's URL query when shared (filter, sort, runs, ...)
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspace_views_project ON workspace_views (project_id, created_at DESC);
