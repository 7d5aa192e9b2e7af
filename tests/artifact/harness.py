"""Helpers for the artifact tests: a fresh database and bucket on the session stack, the artifact app
under uvicorn on a real socket, and users/projects/runs made directly in SQL (the rows the auth and
ingest services would write)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from runyard_server.artifact import create_app
from runyard_server.common.security import new_api_key
from runyard_server.common.settings import Settings, load_settings
from tests.services.harness import serve
from tests.support import db

MiB = 1024 * 1024


@dataclass
class User:
    username: str
    key: str
    entity_id: int
    user_id: int


@dataclass
class ArtifactEnv:
    dsn: str
    base_url: str
    settings: Settings
    s3: Any                      # the stack's S3Config
    bucket: str
    users: dict[str, User] = field(default_factory=dict)

    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return db.fetch(self.dsn, query, *args)

    def user(self, username: str, *, admin: bool = False) -> User:
        if username in self.users:
            return self.users[username]
        key, prefix, key_hash = new_api_key()
        (u,) = self.sql("INSERT INTO users (username, is_admin) VALUES ($1, $2) RETURNING id", username, admin)
        (e,) = self.sql("INSERT INTO entities (name, kind, user_id) VALUES ($1, 'user', $2) RETURNING id",
                        username, u["id"])
        self.sql("INSERT INTO api_keys (user_id, prefix, key_hash) VALUES ($1, $2, $3)", u["id"], prefix, key_hash)
        self.users[username] = User(username, key, e["id"], u["id"])
        return self.users[username]

    def project(self, owner: str, name: str, visibility: str | None = None) -> int:
        """The project's id (made private when new; `visibility` changes an existing one)."""
        u = self.user(owner)
        (p,) = self.sql(
            """INSERT INTO projects (entity_id, name, visibility) VALUES ($1, $2, coalesce($3, 'private'))
               ON CONFLICT (entity_id, name) DO UPDATE SET visibility = coalesce($3, projects.visibility)
               RETURNING id""",
            u.entity_id, name, visibility,
        )
        return int(p["id"])

    def run_row(self, owner: str, project: str, run_id: str) -> int:
        pid = self.project(owner, project)
        (r,) = self.sql(
            """INSERT INTO runs (project_id, run_id, name, run_number)
               VALUES ($1, $2, $2, (SELECT coalesce(max(run_number), 0) + 1 FROM runs WHERE project_id = $1))
               ON CONFLICT (project_id, run_id) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
            pid, run_id,
        )
        return int(r["id"])

    def bucket_keys(self, prefix: str = "objects/") -> dict[str, int]:
        client = self.s3.client()
        out: dict[str, int] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj["Size"]
        return out


@contextmanager
def artifact_env(stack: Any, **overrides: Any) -> Iterator[ArtifactEnv]:
    """The artifact app on a fresh database and a fresh bucket of the session's embedded S3."""
    bucket = "art-" + secrets.token_hex(5)
    stack.s3.client().create_bucket(Bucket=bucket)
    with db.fresh_database(stack.database_url, prefix="ry_art_") as dsn:
        settings = load_settings(
            database_url=dsn, db_pool_min=0, db_pool_max=6, shutdown_grace_s=2,
            s3_endpoint=stack.s3.endpoint, s3_access_key=stack.s3.access_key, s3_secret_key=stack.s3.secret_key,
            s3_bucket=bucket, s3_region=stack.s3.region,
            s3_multipart_threshold=16 * MiB, s3_part_size=8 * MiB, **overrides,
        )
        try:
            with serve(create_app(settings)) as url:
                yield ArtifactEnv(dsn, url, settings, stack.s3, bucket)
        finally:  # the big test objects do not outlive the module
            client = stack.s3.client()
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            client.delete_bucket(Bucket=bucket)


def random_file(path: Path, size: int, seed: int = 0) -> Path:
    """A file of pseudo-random bytes (written in 8 MiB blocks; incompressible)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 * 1024 * 1024)
            f.write(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
            left -= n
    return path
