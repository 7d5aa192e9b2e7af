"""Staged uploads: for clients that cannot name a file's sha256 before sending it (the `wandb` client).

Every other upload declares sha256 + MD5 first and goes straight to its content-addressed key
(uploads.py). A client of the W&B protocol asks for an upload URL by file name (run files) or by MD5
only (artifact files), so its bytes first land under a staging key, and adopting them afterwards moves
them into ordinary storage:

    staging/<entity_id>/runs/<run pk>/<sha256 of the path>/<time in ns>-<random>   one key per run-file upload
    staging/<entity_id>/md5/<md5>                                                  artifact files (Content-MD5 signed)
    staging/<entity_id>/scratch/<sha256 of project id and name>                    a protocol's scratch documents

Adopting is an ordinary upload session (uploads.py) whose client is this service: the staged object is
read once (`Storage.digests`) to learn its address (sha256, with its MD5 and size), the session is begun
for those bytes (a stored object is deduplicated, with the same rules as every upload: an older object
someone else stored unverified is hashed first), the staged bytes are copied server-side to the
session's content-addressed key, and `uploads.complete` verifies what that key holds, exactly as for a
client's own PUT, before the object is marked ready and verified. So the staged key changing between
reading and copying (its presigned URL is still valid) cannot plant other bytes under an address: the
verification reads the copy. The staging key carries the entity id, so bytes can only be adopted into
the entity whose writer was given the URL; a key is only reachable through a presigned URL signed here.

Run-file uploads of the same path get a fresh key each (time-ordered): adopting takes the newest key
present and deletes the older ones, so an upload still in flight to a newer key is never touched, and
"latest upload wins" like saving a file again. `runyard-server gc` deletes staging keys older than its
grace period (uploads that were never adopted).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..common.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from ..common.settings import Settings
from ..common.verifier import Principal
from . import uploads
from .names import md5_hex, object_key
from .storage import Storage

__all__ = ["STAGING_PREFIX", "Adopted", "adopt", "artifact_key", "run_file_key", "run_file_prefix", "scratch_key"]

STAGING_PREFIX = "staging/"
MAX_COPY_BYTES = 5 * 1024**3  # one server-side CopyObject; larger staged files are refused


def run_file_prefix(entity_id: int, run_pk: int, path: str) -> str:
    return f"{STAGING_PREFIX}{int(entity_id)}/runs/{int(run_pk)}/{hashlib.sha256(path.encode()).hexdigest()}/"


def run_file_key(entity_id: int, run_pk: int, path: str) -> str:
    """A fresh staging key for one upload of a run file (newer uploads sort after older ones)."""
    return f"{run_file_prefix(entity_id, run_pk, path)}{time.time_ns():020d}-{secrets.token_hex(6)}"


def artifact_key(entity_id: int, md5: str) -> str:
    return f"{STAGING_PREFIX}{int(entity_id)}/md5/{md5_hex(md5)}"


def scratch_key(entity_id: int, project_id: int, name: str) -> str:
    """A project's scratch document (never adopted; the GC removes it after its grace period)."""
    digest = hashlib.sha256(f"{int(project_id)}/{name}".encode()).hexdigest()
    return f"{STAGING_PREFIX}{int(entity_id)}/scratch/{digest}"


@dataclass(frozen=True)
class Adopted:
    sha256: str
    md5: str
    size: int


async def newest_staged(storage: Storage, prefix: str) -> tuple[str | None, list[str]]:
    """(newest staging key under `prefix`, every key under it)."""
    keys = sorted(k for k, _ in await storage.list_keys(prefix))
    return (keys[-1] if keys else None), keys


async def adopt(pool: asyncpg.Pool, storage: Storage, settings: Settings, who: Principal, entity_id: int,
                key: str, *, expect_md5: str | None = None) -> Adopted | None:
    """Move a staged object into content-addressed storage through an upload session (module docstring);
    None when nothing is staged at `key`. The caller deletes the staged key afterwards."""
    head = await storage.head(key)
    if head is None:
        return None
    size = int(head["ContentLength"])
    if size > settings.max_file_size:
        await storage.delete([key])
        raise ResourceExhausted(f"a staged file is {size} bytes; the limit is {settings.max_file_size} "
                                "(RUNYARD_MAX_FILE_SIZE)")
    if size > MAX_COPY_BYTES:
        await storage.delete([key])
        raise ResourceExhausted("files uploaded through the W&B protocol may be at most 5 GiB each")
    found = await storage.digests(key, md5=True)
    assert found.md5 is not None
    if expect_md5 is not None and found.md5 != md5_hex(expect_md5):
        await storage.delete([key])
        raise InvalidArgument(f"the uploaded bytes have MD5 {found.md5}, not the declared {expect_md5}; upload again")
    item = uploads.ObjectRequest(found.sha256, found.size, found.md5)
    (session,) = await uploads.begin(pool, storage, settings, who, entity_id, [item], single=True)
    if session["state"] == "pending":
        if session.get("method") != "put":
            raise FailedPrecondition("another client is uploading these bytes in parts right now; "
                                     "try again when it is done")
        await storage.copy(key, object_key(entity_id, found.sha256))
        await uploads.complete(pool, storage, who, str(session["upload_id"]), None)
    return Adopted(found.sha256, found.md5, found.size)


def describe(adopted: Adopted) -> dict[str, Any]:
    return {"state": "ready", "sha256": adopted.sha256, "md5": adopted.md5, "size": adopted.size}
