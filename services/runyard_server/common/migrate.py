"""Numbered SQL migrations, applied in order, each once.

`runyard-server migrate` runs `apply_migrations`. It is idempotent, records every applied file in
`schema_migrations`, and is safe from two processes at once: a transaction-level advisory lock makes the
second wait, after which it finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)
_LOCK_ID = 0x52554E59  # "RUNY"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The shipped migrations, `NNNN_name.sql`, sorted by number."""
    out = []
    folder = resources.files("runyard_server.common") / "migrations"
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        out.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    out.sort(key=lambda m: m.version)
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return out


async def apply_migrations(dsn: str, *, statement_cache_size: int = 100) -> list[int]:
    """Apply what is missing; returns the versions applied by this call. `statement_cache_size=0` behind
    PgBouncer in transaction pooling (see common/db.py)."""
    conn = await asyncpg.connect(dsn, statement_cache_size=statement_cache_size)
    applied_now: list[int] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
            done = {r["version"]: r["checksum"] for r in rows}
            for m in load_migrations():
                if m.version in done:
                    if done[m.version] != m.checksum:
                        log.warning("migration %04d_%s changed after it was applied", m.version, m.name)
                    continue
                log.info("applying migration %04d_%s", m.version, m.name)
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version, m.name, m.checksum,
                )
                applied_now.append(m.version)
    finally:
        await conn.close()
    return applied_now
