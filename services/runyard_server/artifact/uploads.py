"""Upload sessions: begin (dedup or start/resume), part URLs, complete (verify), abort.

An object is identified by (storage scope = entity id, sha256). Its `storage_objects` row is the upload
session while pending, so a second client uploading the same bytes, or the same client after a crash,
finds the same session and resumes it: for multipart uploads the bucket's ListParts says which parts
are there, and the client sends only the others.

Integrity (docs/artifacts.md, "Integrity"): every presigned PUT signs a Content-MD5 (and, for single
PUTs, x-amz-checksum-sha256), so the bucket refuses bytes that differ from what the client hashed; the
SDK computes sha256 and MD5 in the same pass over the bytes it sends and refuses to complete when the
sha256 it declared does not match; `complete` checks sizes, part numbers and part ETags (= MD5s).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from ..common.settings import Settings
from ..common.verifier import Principal
from . import metrics
from .access import may_write_entity_id
from .names import md5_hex, object_key, sha256_hex
from .queries import objects as q
from .storage import NoSuchUpload, PartInfo, Storage

MAX_PARTS = 10_000
MAX_BATCH = 1000
TAKEOVER_AFTER_S = 3600  # a pending upload idle this long may be restarted by someone declaring other bytes


@dataclass(frozen=True)
class ObjectRequest:
    sha256: str
    size: int
    md5: str


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


def check_size(size: int, settings: Settings, what: str) -> None:
    if size < 0:
        raise InvalidArgument(f"{what}: size must be >= 0")
    if size > settings.max_file_size:
        raise ResourceExhausted(
            f"{what} is {human(size)}; this server accepts files up to {human(settings.max_file_size)} "
            "(RUNYARD_MAX_FILE_SIZE)"
        )


def part_size_for(size: int, settings: Settings) -> int | None:
    """None for a single PUT; else a part size that keeps the upload within 10,000 parts."""
    if size <= settings.s3_multipart_threshold:
        return None
    ps = settings.s3_part_size
    while math.ceil(size / ps) > MAX_PARTS:
        ps *= 2
    return ps


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def validate_requests(items: list[dict[str, Any]], settings: Settings) -> list[ObjectRequest]:
    if len(items) > MAX_BATCH:
        raise ResourceExhausted(f"at most {MAX_BATCH} objects per request (got {len(items)}); send batches")
    out = []
    for i, it in enumerate(items):
        sha = sha256_hex(str(it.get("sha256", "")))
        md5 = md5_hex(str(it.get("md5", "")))
        size = it.get("size")
        if not isinstance(size, int) or isinstance(size, bool):
            raise InvalidArgument(f"objects[{i}].size must be an integer")
        check_size(size, settings, str(it.get("path") or f"object {sha[:12]}"))
        out.append(ObjectRequest(sha, size, md5))
    return out


async def begin(pool: asyncpg.Pool, storage: Storage, settings: Settings, who: Principal, entity_id: int,
                items: list[ObjectRequest], *, single: bool = False) -> list[dict[str, Any]]:
    """For each object: `ready` (already stored: nothing to send) or upload instructions (`single`: one
    PUT whatever the size, see `_begin_one`)."""
    out: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.sha256 in seen:
            out.append(seen[item.sha256])
            continue
        result = await _begin_one(pool, storage, settings, who, entity_id, item, single=single)
        seen[item.sha256] = result
        out.append(result)
    return out


async def _begin_one(pool: asyncpg.Pool, storage: Storage, settings: Settings, who: Principal, entity_id: int,
                     item: ObjectRequest, *, single: bool = False) -> dict[str, Any]:
    """`single`: the bytes arrive as one object whatever their size (a server-side copy of staged bytes,
    staging.py), so the session never asks for parts."""
    stale_upload: tuple[str, str] | None = None
    part_size = None if single else part_size_for(item.size, settings)
    async with pool.acquire() as conn, conn.transaction():
        row = await q.lock(conn, entity_id, item.sha256)
        if row is None:
            row = await q.insert_pending(conn, entity_id, item.sha256, item.size, item.md5,
                                         object_key(entity_id, item.sha256), secrets.token_urlsafe(18),
                                         part_size, who.user_id)
            if row is None:  # another client inserted it a moment ago
                row = await q.lock(conn, entity_id, item.sha256)
        assert row is not None
        if row["state"] == "ready" and row["verified_at"] is None and row["created_by"] != who.user_id:
            # stored before the service verified uploads: hash it before anyone else's file trusts it
            if await storage.sha256_of(row["key"]) == item.sha256:
                await q.mark_verified(conn, row["id"])
                row = await q.lock(conn, entity_id, item.sha256)
                assert row is not None
            else:
                metrics.OBJECTS.labels("mismatch").inc()
                row = await q.reopen(conn, row["id"], item.size, item.md5, part_size,
                                     secrets.token_urlsafe(18), who.user_id)
        if row["state"] == "ready":
            if row["size"] != item.size:
                raise InvalidArgument(
                    f"object {item.sha256[:12]} is stored with size {row['size']}, not {item.size}: wrong sha256?"
                )
            await q.touch(conn, row["id"])
            metrics.OBJECTS.labels("dedup").inc()
            return {"sha256": item.sha256, "size": item.size, "state": "ready"}
        if row["state"] == "deleting":
            raise FailedPrecondition(
                f"object {item.sha256[:12]} is being garbage-collected right now; retry in a few seconds"
            )
        if row["size"] != item.size or row["md5"] != item.md5:
            if not await q.idle_for(conn, row["id"], TAKEOVER_AFTER_S):
                raise AlreadyExists(
                    f"another upload of sha256 {item.sha256[:12]}... with a different size or MD5 is in progress"
                )
            if row["s3_upload_id"]:
                stale_upload = (row["key"], row["s3_upload_id"])
            row = await q.restart(conn, row["id"], item.size, item.md5, part_size,
                                  secrets.token_urlsafe(18), who.user_id)
        else:
            await q.touch(conn, row["id"])
    assert row is not None
    if stale_upload:
        await storage.abort_multipart(*stale_upload)
    metrics.OBJECTS.labels("upload").inc()
    base = {"sha256": item.sha256, "size": item.size, "state": "pending", "upload_id": row["upload_token"]}
    if row["part_size"] is None:
        url, headers = storage.presign_put(row["key"], md5_hex=row["md5"], sha256_hex=row["sha256"])
        metrics.PRESIGNED.labels("put").inc()
        return {**base, "method": "put", "url": url, "headers": headers}
    _, parts = await _multipart_state(pool, storage, row)
    return {
        **base, "method": "multipart", "part_size": row["part_size"],
        "part_count": part_count(row["size"], row["part_size"]),
        "parts_done": [{"number": p.number, "size": p.size, "etag": p.etag} for p in parts],
    }


async def _multipart_state(pool: asyncpg.Pool, storage: Storage, row: asyncpg.Record) -> tuple[str, list[PartInfo]]:
    """The multipart upload id of a pending row (created on first use) and the parts already in the bucket."""
    upload_id = row["s3_upload_id"]
    if upload_id:
        try:
            return upload_id, await storage.list_parts(row["key"], upload_id)
        except NoSuchUpload:
            pass  # expired or aborted by the bucket: start a fresh one below
    new_id = await storage.create_multipart(row["key"])
    async with pool.acquire() as conn:
        if not await q.set_multipart_id(conn, row["id"], upload_id, new_id):  # someone else started one first
            await storage.abort_multipart(row["key"], new_id)
            current = await q.multipart_id(conn, row["id"])
            if not current:
                raise FailedPrecondition("the upload changed state meanwhile; start it again")
            return current, await storage.list_parts(row["key"], current)
    return new_id, []


async def _session(conn: asyncpg.Connection, who: Principal, token: str) -> asyncpg.Record:
    row = await q.by_token(conn, token)
    if row is None:
        raise NotFound("upload not found (finished long ago, aborted, or restarted by a newer upload)")
    await may_write_entity_id(conn, who, row["entity_id"])
    return row


async def status(pool: asyncpg.Pool, storage: Storage, who: Principal, token: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await _session(conn, who, token)
    out: dict[str, Any] = {"upload_id": token, "sha256": row["sha256"], "size": row["size"], "state": row["state"]}
    if row["state"] == "pending" and row["part_size"] is not None:
        parts: list[PartInfo] = []
        if row["s3_upload_id"]:
            try:
                parts = await storage.list_parts(row["key"], row["s3_upload_id"])
            except NoSuchUpload:
                parts = []
        out.update(method="multipart", part_size=row["part_size"], part_count=part_count(row["size"], row["part_size"]),
                   parts_done=[{"number": p.number, "size": p.size, "etag": p.etag} for p in parts])
    elif row["state"] == "pending":
        out["method"] = "put"
    return out


async def part_urls(pool: asyncpg.Pool, storage: Storage, who: Principal, token: str,
                    parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not parts or len(parts) > MAX_BATCH:
        raise InvalidArgument(f"ask for 1 to {MAX_BATCH} parts at a time")
    async with pool.acquire() as conn:
        row = await _session(conn, who, token)
        if row["state"] != "pending":
            raise FailedPrecondition(f"upload is {row['state']}, not pending")
        if row["part_size"] is None or not row["s3_upload_id"]:
            raise FailedPrecondition("this upload is a single PUT; use its url")
        n_parts = part_count(row["size"], row["part_size"])
        await q.touch(conn, row["id"])
    out = []
    for p in parts:
        number = p.get("number")
        if not isinstance(number, int) or not 1 <= number <= n_parts:
            raise InvalidArgument(f"part number must be 1..{n_parts}, got {number!r}")
        url, headers = storage.presign_part(row["key"], row["s3_upload_id"], number, md5_hex=md5_hex(str(p.get("md5", ""))))
        out.append({"number": number, "url": url, "headers": headers})
    metrics.PRESIGNED.labels("part").inc(len(out))
    return out


def composite_etag(md5s: list[str]) -> str:
    return hashlib.md5(b"".join(bytes.fromhex(m) for m in md5s)).hexdigest() + f"-{len(md5s)}"


async def complete(pool: asyncpg.Pool, storage: Storage, who: Principal, token: str,
                   client_parts: list[str] | None) -> dict[str, Any]:
    """Verify what the bucket holds against what was declared, then mark the object ready."""
    async with pool.acquire() as conn:
        row = await _session(conn, who, token)
    done = {"upload_id": token, "sha256": row["sha256"], "size": row["size"], "state": "ready"}
    if row["state"] == "ready":
        return done
    if row["state"] != "pending":
        raise FailedPrecondition(f"upload is {row['state']}")
    key, size = row["key"], row["size"]
    if row["part_size"] is None:
        head = await storage.head(key)
        if head is None:
            raise FailedPrecondition("nothing was uploaded yet: PUT the bytes to the upload url first")
        etag = str(head.get("ETag", "")).strip('"')
        if int(head["ContentLength"]) != size or (len(etag) == 32 and "-" not in etag and etag != row["md5"]):
            await storage.delete([key])
            raise InvalidArgument(
                f"the uploaded object does not match what was declared (size {head['ContentLength']} vs {size}); "
                "it was removed: upload again"
            )
    else:
        n_parts = part_count(size, row["part_size"])
        if client_parts is not None:
            if len(client_parts) != n_parts:
                raise InvalidArgument(f"expected {n_parts} part MD5s, got {len(client_parts)}")
            client_parts = [md5_hex(m) for m in client_parts]
        upload_id = row["s3_upload_id"]
        try:
            if not upload_id:
                raise NoSuchUpload("")
            parts = await storage.list_parts(key, upload_id)
        except NoSuchUpload:
            # completed by a racing client (or by us just before a crash)? then the object is there
            head = await storage.head(key)
            ok_etags = {row["md5"]} | ({composite_etag(client_parts)} if client_parts else set())
            if head is not None and int(head["ContentLength"]) == size and str(head.get("ETag", "")).strip('"') in ok_etags:
                etag = str(head.get("ETag", "")).strip('"')
            else:
                raise FailedPrecondition("the multipart upload expired or was aborted; start the upload again") from None
        else:
            numbers = [p.number for p in parts]
            if numbers != list(range(1, n_parts + 1)):
                missing = sorted(set(range(1, n_parts + 1)) - set(numbers))
                raise FailedPrecondition(f"parts missing: {missing[:20]}{'...' if len(missing) > 20 else ''}")
            for p in parts:
                want = row["part_size"] if p.number < n_parts else size - row["part_size"] * (n_parts - 1)
                if p.size != want:
                    raise InvalidArgument(f"part {p.number} holds {p.size} bytes, expected {want}; upload it again")
                if client_parts is not None and p.etag != client_parts[p.number - 1]:
                    raise InvalidArgument(f"part {p.number} in the bucket differs from the client's (MD5); upload it again")
            etag = await storage.complete_multipart(key, upload_id, parts)
            head = await storage.head(key)
            if head is None or int(head["ContentLength"]) != size:
                raise FailedPrecondition("the completed object has the wrong size; upload again")
    # the content address: the bucket checked the MD5 the client chose, not the SHA-256 (the embedded one
    # ignores x-amz-checksum-sha256, and multipart has no whole-object SHA-256); hash what it holds
    actual = await storage.sha256_of(key)
    if actual != row["sha256"]:
        await storage.delete([key])
        async with pool.acquire() as conn:
            await q.delete_pending(conn, row["id"])
        metrics.OBJECTS.labels("mismatch").inc()
        raise InvalidArgument(
            f"the uploaded bytes have sha256 {actual}, not the declared {row['sha256']}; they were removed "
            "(hash the file again and upload it)"
        )
    async with pool.acquire() as conn:
        await q.mark_ready(conn, row["id"], etag)
    metrics.OBJECTS.labels("completed").inc()
    metrics.UPLOADED_BYTES.inc(size)
    return done


async def abort(pool: asyncpg.Pool, storage: Storage, who: Principal, token: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await _session(conn, who, token)
        if row["state"] != "pending":
            return
        await q.delete_pending(conn, row["id"])
    if row["s3_upload_id"]:
        await storage.abort_multipart(row["key"], row["s3_upload_id"])
    await storage.delete([row["key"]])


async def claim_ready(conn: asyncpg.Connection, entity_id: int, sha256s: list[str], user_id: int
                      ) -> dict[str, asyncpg.Record]:
    """Lock and touch the ready objects about to be referenced (inside the caller's transaction).

    Touching moves them out of the GC's reach (the GC only takes objects untouched for its grace period,
    and re-checks that under the row lock), so a reference is never created to an object being deleted.
    Raises FailedPrecondition naming what is not stored (yet).
    """
    wanted = sorted(set(sha256s))
    found = {r["sha256"]: r for r in await q.claim_ready(conn, entity_id, wanted, user_id)}
    missing = [s for s in wanted if s not in found]
    if missing:
        raise FailedPrecondition(
            f"{len(missing)} file(s) are not uploaded (or were garbage-collected): first sha256 {missing[0]}; "
            "upload them, then commit again"
        )
    return found
