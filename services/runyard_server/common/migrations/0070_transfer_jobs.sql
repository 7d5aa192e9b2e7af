-- "Copy to instance..." (issue 16, docs/transfer.md "Copy from the UI"): remote instances an admin
-- registered, and server-side copy jobs a worker (`runyard-server transfer-worker`) runs.

-- A remote Runyard instance. The API key is stored encrypted (AES-GCM, RUNYARD_SECRET_KEY): `key_box` is
-- nonce || ciphertext+tag; only `key_hint` (prefix and last four characters) is ever shown.
CREATE TABLE remote_instances (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    url             text NOT NULL CHECK (url ~ '^https?://'),
    key_box         bytea NOT NULL,
    key_hint        text NOT NULL,
    remote_user     text NOT NULL DEFAULT '',
    created_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    created_by_name text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    checked_at      timestamptz,
    check_ok        boolean,
    check_message   text NOT NULL DEFAULT ''
);

-- One copy: a project (run_ids NULL) or some of its runs, to a remote. State: queued -> running ->
-- succeeded | failed | cancelled. A running job whose worker stopped beating is claimed again.
CREATE TABLE transfer_jobs (
    id               bigserial PRIMARY KEY,
    remote_id        bigint REFERENCES remote_instances (id) ON DELETE SET NULL,
    remote_name      text NOT NULL,
    remote_url       text NOT NULL,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    username         text NOT NULL,
    project_id       bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    entity           text NOT NULL,
    project          text NOT NULL,
    run_ids          text[],
    to_entity        text NOT NULL,
    to_project       text NOT NULL,
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    cancel_requested boolean NOT NULL DEFAULT false,
    attempts         integer NOT NULL DEFAULT 0,
    worker           text NOT NULL DEFAULT '',
    heartbeat_at     timestamptz,
    source_key_id    bigint REFERENCES api_keys (id) ON DELETE SET NULL,
    runs_total       integer NOT NULL DEFAULT 0,
    runs_done        integer NOT NULL DEFAULT 0,
    runs_failed      integer NOT NULL DEFAULT 0,
    artifacts_created integer NOT NULL DEFAULT 0,
    bytes_uploaded   bigint NOT NULL DEFAULT 0,
    message          text NOT NULL DEFAULT '',
    summary          text[] NOT NULL DEFAULT '{}',
    journal          jsonb NOT NULL DEFAULT '{}',
    log_tail         text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transfer_jobs_open ON transfer_jobs (id) WHERE state IN ('queued', 'running');
CREATE INDEX transfer_jobs_project ON transfer_jobs (project_id, id DESC);
CREATE INDEX transfer_jobs_user ON transfer_jobs (user_id, id DESC);

-- Per run of a job: its progress and outcome (status as `runyard transfer` names it).
CREATE TABLE transfer_job_runs (
    job_id        bigint NOT NULL REFERENCES transfer_jobs (id) ON DELETE CASCADE,
    run_id        text NOT NULL,
    position      integer NOT NULL DEFAULT 0,
    status        text NOT NULL DEFAULT 'waiting',
    records_sent  bigint NOT NULL DEFAULT 0,
    records_total bigint NOT NULL DEFAULT 0,
    points        bigint NOT NULL DEFAULT 0,
    files_sent    integer NOT NULL DEFAULT 0,
    detail        text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, run_id)
);
