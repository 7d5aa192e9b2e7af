-- 0003: run files and artifacts (the artifact service writes every table here).
-- Object bytes live in the bucket; these tables say what exists, who refers to it and what the GC may
-- remove. See docs/artifacts.md.

-- One stored object, content-addressed by sha256 inside a storage scope (the owning entity):
--   key = objects/<entity_id>/<sha256[0:2]>/<sha256>
-- The row is the upload session while `state = 'pending'` (upload_token, s3_upload_id, part_size);
-- 'ready' once the service verified the upload; 'deleting' while the GC removes the bytes.
-- entity_id has no foreign key on purpose: when an entity is deleted the rows must survive so that the
-- GC can still find and delete their bytes.
CREATE TABLE storage_objects (
    id            bigserial PRIMARY KEY,
    entity_id     bigint NOT NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size          bigint NOT NULL CHECK (size >= 0),
    md5           text NOT NULL CHECK (md5 ~ '^[0-9a-f]{32}$'),
    key           text NOT NULL UNIQUE,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ready', 'deleting')),
    upload_token  text UNIQUE,
    s3_upload_id  text,
    part_size     bigint,
    etag          text NOT NULL DEFAULT '',
    created_by    bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    -- last begin/part/complete/reference; the GC grace period counts from here
    touched_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (entity_id, sha256)
);
CREATE INDEX storage_objects_state_touched ON storage_objects (state, touched_at);

-- Files of a run (config, requirements.txt, media, `run.save` files). Path is the logical name shown
-- in the UI; "C" collation so a folder is one index range.
CREATE TABLE run_files (
    run_id       bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    path         text COLLATE "C" NOT NULL,
    object_id    bigint NOT NULL REFERENCES storage_objects (id),
    size         bigint NOT NULL,
    sha256       text NOT NULL,
    content_type text NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    uploaded_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    PRIMARY KEY (run_id, path)
);
CREATE INDEX run_files_object ON run_files (object_id);

CREATE TABLE artifacts (
    id           bigserial PRIMARY KEY,
    project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    type         text NOT NULL CHECK (type ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    description  text NOT NULL DEFAULT '',
    next_version integer NOT NULL DEFAULT 0,   -- version numbers are never reused
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- One version: its manifest is the set of artifact_files rows; `digest` is the sha256 of the
-- canonical manifest (see artifact/manifest.py), so equal contents have equal digests.
CREATE TABLE artifact_versions (
    id             bigserial PRIMARY KEY,
    artifact_id    bigint NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    version        integer NOT NULL,
    digest         text NOT NULL,
    size           bigint NOT NULL DEFAULT 0,
    file_count     integer NOT NULL DEFAULT 0,
    description    text NOT NULL DEFAULT '',
    metadata       jsonb NOT NULL DEFAULT '{}',
    created_by_run bigint REFERENCES runs (id) ON DELETE SET NULL,
    created_by     bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (artifact_id, version)
);
CREATE INDEX artifact_versions_run ON artifact_versions (created_by_run);

-- Manifest entries: a stored file (object_id, sha256) or a reference (ref_uri, kept, never copied).
CREATE TABLE artifact_files (
    version_id bigint NOT NULL REFERENCES artifact_versions (id) ON DELETE CASCADE,
    path       text COLLATE "C" NOT NULL,
    object_id  bigint REFERENCES storage_objects (id),
    sha256     text,
    size       bigint,
    ref_uri    text,
    ref_digest text,
    PRIMARY KEY (version_id, path),
    CHECK ((object_id IS NULL) = (ref_uri IS NOT NULL))
);
CREATE INDEX artifact_files_object ON artifact_files (object_id) WHERE object_id IS NOT NULL;

-- An alias names one version of an artifact; `latest` always names the newest version.
CREATE TABLE artifact_aliases (
    artifact_id bigint NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    alias       text NOT NULL CHECK (alias ~ '^[A-Za-z0-9_.-]{1,128}$'),
    version_id  bigint NOT NULL REFERENCES artifact_versions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (artifact_id, alias)
);
CREATE INDEX artifact_aliases_version ON artifact_aliases (version_id);

-- Lineage: which runs used which versions (the producer is artifact_versions.created_by_run).
CREATE TABLE artifact_usage (
    version_id bigint NOT NULL REFERENCES artifact_versions (id) ON DELETE CASCADE,
    run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    used_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version_id, run_id)
);
CREATE INDEX artifact_usage_run ON artifact_usage (run_id);
