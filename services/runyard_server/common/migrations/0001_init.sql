-- 0001: users, API keys, entities, projects, runs and history storage.
-- See docs/storage.md for the history layout and its measured cost.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    email         text,
    password_hash text,
    is_admin      boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- An entity owns projects: every user has one of kind 'user' with the same name; teams are 'team'.
CREATE TABLE entities (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    kind       text NOT NULL CHECK (kind IN ('user', 'team')),
    user_id    bigint UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'user') = (user_id IS NOT NULL))
);

-- API keys: `ry_<prefix>_<secret>`; only the prefix and a SHA-256 of the whole key are stored.
-- The secret is 32 random bytes, so a fast hash is enough (passwords use argon2).
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    prefix       text NOT NULL UNIQUE,
    key_hash     bytea NOT NULL,
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE projects (
    id          bigserial PRIMARY KEY,
    entity_id   bigint NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    visibility  text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'internal')),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (entity_id, name)
);

CREATE TABLE runs (
    id           bigserial PRIMARY KEY,
    project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    run_id       text NOT NULL CHECK (run_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    name         text NOT NULL,
    run_number   integer NOT NULL,             -- N of the generated name, unique in the project
    state        text NOT NULL DEFAULT 'running'
                 CHECK (state IN ('running', 'finished', 'failed', 'crashed')),
    config       jsonb NOT NULL DEFAULT '{}',
    summary      jsonb NOT NULL DEFAULT '{}',
    tags         text[] NOT NULL DEFAULT '{}',
    group_name   text NOT NULL DEFAULT '',
    job_type     text NOT NULL DEFAULT '',
    notes        text NOT NULL DEFAULT '',
    host         text NOT NULL DEFAULT '',
    created_by   bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz,
    finished_at  timestamptz,
    exit_code    integer,
    error        text NOT NULL DEFAULT '',
    last_seq     bigint NOT NULL DEFAULT 0,    -- highest client sequence committed (replay guard)
    next_step    bigint NOT NULL DEFAULT 0,    -- one past the highest history step stored
    loose_chunks integer NOT NULL DEFAULT 0,   -- history chunks written since the last compaction
    output_lines bigint NOT NULL DEFAULT 0,    -- console lines stored
    UNIQUE (project_id, run_id),
    UNIQUE (project_id, run_number)
);
CREATE INDEX runs_project_created ON runs (project_id, created_at DESC);
CREATE INDEX runs_running_heartbeat ON runs (heartbeat_at) WHERE state = 'running';

-- History keys of a run, numbered densely per run; `_timestamp` is an ordinary key.
CREATE TABLE history_keys (
    run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key_id integer NOT NULL,
    key    text NOT NULL,
    PRIMARY KEY (run_id, key_id),
    UNIQUE (run_id, key)
);

-- Numeric history, columnar: one row holds up to a few thousand points of one key of one run.
--   steps: little-endian int64 deltas (first one against 0), so runs of +1 compress to almost nothing
--   vals:  little-endian IEEE-754 float64, bit for bit (NaN and +/-Inf kept)
-- Points are kept in the order they arrived; a reader sorts by step (stable), later points win.
CREATE TABLE history_chunks (
    id       bigserial,
    run_id   bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key_id   integer NOT NULL,
    min_step bigint NOT NULL,
    max_step bigint NOT NULL,
    n        integer NOT NULL,
    steps    bytea NOT NULL,
    vals     bytea NOT NULL,
    PRIMARY KEY (run_id, key_id, id)
);
ALTER TABLE history_chunks ALTER COLUMN steps SET STORAGE EXTENDED;

-- Non-numeric history values (media descriptors, tables, strings), one row per point.
CREATE TABLE history_json (
    run_id bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key_id integer NOT NULL,
    step   bigint NOT NULL,
    value  jsonb NOT NULL,
    PRIMARY KEY (run_id, key_id, step)
);

-- Console output, one row per line.
CREATE TABLE run_output (
    run_id  bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    line_no bigint NOT NULL,
    ts      double precision NOT NULL,
    stream  text NOT NULL,
    line    text NOT NULL,
    PRIMARY KEY (run_id, line_no)
);
