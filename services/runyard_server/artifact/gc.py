"""`runyard-server gc`: delete the bytes of objects nothing refers to any more.

An object is collected when it is
  - ready and referenced by no run file and no artifact version, or
  - pending (an upload never completed),
and it has not been touched for the grace period (default 24 h). Every begin, part URL, complete and
reference commit touches the object, so an upload in progress, or an object a client was just told
is already stored, is never taken. The grace check is re-evaluated under the row lock when the row is
marked `deleting`; a commit only references `ready` rows (locking and touching them); and before any
bytes go, marked rows that gained a reference meanwhile are put back to `ready` (a fresh snapshot sees
every commit that locked the row before the mark), so a reference and a deletion cannot cross, even
with `--grace 0`.
Marked rows lose their bytes first (multipart upload aborted, key deleted), then the row; a GC that
crashes half-way leaves `deleting` rows, which the next run finishes. Uploads that meet a `deleting`
row are told to retry.

`--sweep-bucket` also deletes keys under `objects/` that have no row at all and are older than the
grace period (left by a crash between the bucket and the database).

Staged uploads (`staging/`, artifact/staging.py: W&B-protocol uploads waiting to be adopted) older than
the grace period were never adopted; every run deletes them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import asyncpg

from ..common.db import create_pool
from ..common.settings import Settings
from . import metrics
from .queries import gc as q
from .staging import STAGING_PREFIX
from .storage import Storage

log = logging.getLogger(__name__)
DEFAULT_GRACE_S = 24 * 3600
BATCH = 500

@dataclass
class GcReport:
    deleted_objects: int = 0
    deleted_bytes: int = 0
    aborted_uploads: int = 0
    swept_keys: int = 0
    staged_keys: int = 0
    candidates: int = 0
    failed_keys: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        if self.dry_run:
            return f"dry run: {self.candidates} object(s) would be deleted"
        return (f"deleted {self.deleted_objects} object(s), {self.deleted_bytes} bytes; aborted "
                f"{self.aborted_uploads} unfinished upload(s); swept {self.swept_keys} orphan key(s) and "
                f"{self.staged_keys} abandoned staged upload(s)"
                + (f"; {len(self.failed_keys)} key(s) failed, kept for the next run" if self.failed_keys else ""))


async def collect(pool: asyncpg.Pool, storage: Storage, *, grace_s: float = DEFAULT_GRACE_S,
                  dry_run: bool = False, sweep_bucket: bool = False) -> GcReport:
    report = GcReport(dry_run=dry_run)
    async with pool.acquire() as conn:
        if dry_run:
            report.candidates = await q.count_candidates(conn, grace_s)
            return report
        while True:
            marked = await q.mark_deleting(conn, grace_s, BATCH)
            done = await _finish_deleting(conn, storage, report)
            if not marked and not done:
                break
    await _sweep_staging(storage, grace_s, report)
    if sweep_bucket:
        await _sweep(pool, storage, grace_s, report)
    return report


async def _sweep_staging(storage: Storage, grace_s: float, report: GcReport) -> None:
    """Staged uploads never adopted within the grace period (adoption deletes the keys it took)."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=grace_s)
    keys = [k for k, modified in await storage.list_keys(STAGING_PREFIX) if modified < cutoff]
    if keys:
        failed = await storage.delete(keys)
        report.failed_keys.extend(failed)
        report.staged_keys += len(keys) - len(failed)
        metrics.GC_DELETED.labels("staged").inc(len(keys) - len(failed))


async def _finish_deleting(conn: asyncpg.Connection, storage: Storage, report: GcReport) -> int:
    """Remove the bytes, then the rows, of up to BATCH objects marked `deleting`."""
    rows = await q.deleting(conn, report.failed_keys, BATCH)
    if not rows:
        return 0
    # A commit that locked and referenced an object just before it was marked is visible now (this is a
    # new statement, hence a new snapshot): such objects go back to `ready` and keep their bytes. After
    # this, no new reference can appear (commits only reference `ready` rows).
    revived = await q.revive_referenced(conn, [r["id"] for r in rows])
    rows = [r for r in rows if r["id"] not in revived]
    if not rows:
        return len(revived)
    for r in rows:
        if r["s3_upload_id"]:
            await storage.abort_multipart(r["key"], r["s3_upload_id"])
            report.aborted_uploads += 1
            metrics.GC_DELETED.labels("upload").inc()
    failed = set(await storage.delete([r["key"] for r in rows]))
    report.failed_keys.extend(sorted(failed))
    gone = [r for r in rows if r["key"] not in failed]
    await q.delete_marked(conn, [r["id"] for r in gone])
    report.deleted_objects += len(gone)
    report.deleted_bytes += sum(int(r["size"]) for r in gone)
    metrics.GC_DELETED.labels("object").inc(len(gone))
    return len(rows)


async def _sweep(pool: asyncpg.Pool, storage: Storage, grace_s: float, report: GcReport) -> None:
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=grace_s)
    keys = [k for k, modified in await storage.list_keys("objects/") if modified < cutoff]
    orphans: list[str] = []
    async with pool.acquire() as conn:
        for i in range(0, len(keys), 1000):
            chunk = keys[i:i + 1000]
            known = await q.known_keys(conn, chunk)
            orphans.extend(k for k in chunk if k not in known)
    if orphans:
        failed = await storage.delete(orphans)
        report.failed_keys.extend(failed)
        report.swept_keys += len(orphans) - len(failed)
        metrics.GC_DELETED.labels("orphan").inc(len(orphans) - len(failed))


async def run_gc(settings: Settings, *, grace_s: float = DEFAULT_GRACE_S, dry_run: bool = False,
                 sweep_bucket: bool = False) -> GcReport:
    storage = Storage(settings)
    pool = await create_pool(settings.database_url, min_size=1, max_size=2,
                             statement_cache_size=settings.db_statement_cache_size)
    try:
        return await collect(pool, storage, grace_s=grace_s, dry_run=dry_run, sweep_bucket=sweep_bucket)
    finally:
        await pool.close()


# ---- CLI (wired into runyard_server/cli.py as the `gc` sub-command) ---------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, metavar="SECONDS",
                        help="only collect objects untouched this long (default 86400: a day)")
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    parser.add_argument("--sweep-bucket", action="store_true",
                        help="also delete bucket keys under objects/ that no database row knows")


def command(args: argparse.Namespace) -> int:
    from ..common.settings import load_settings

    report = asyncio.run(run_gc(load_settings(), grace_s=args.grace, dry_run=args.dry_run,
                                sweep_bucket=args.sweep_bucket))
    print(report.summary())
    return 1 if report.failed_keys else 0
