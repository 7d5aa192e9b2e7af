"""SQL of the garbage collector (`artifact/gc.py`): which objects nothing refers to, and their removal.

Each function is one statement, so each sees a fresh snapshot; the order they run in is what makes a
reference and a deletion unable to cross (gc.py's docstring).
"""

from __future__ import annotations

import asyncpg

# objects untouched for the grace period ($1 seconds) that are pending, or ready and referenced by nothing
_CANDIDATES = """
    SELECT o.id FROM storage_objects o
     WHERE o.touched_at < now() - make_interval(secs => $1)
       AND (o.state = 'pending'
            OR (o.state = 'ready'
                AND NOT EXISTS (SELECT 1 FROM run_files f WHERE f.object_id = o.id)
                AND NOT EXISTS (SELECT 1 FROM artifact_files a WHERE a.object_id = o.id)))
"""


async def count_candidates(conn: asyncpg.Connection, grace_s: float) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM ({_CANDIDATES}) c", float(grace_s)))


async def mark_deleting(conn: asyncpg.Connection, grace_s: float, limit: int) -> int:
    """Mark up to `limit` candidates `deleting`, re-checking the grace period under the row lock."""
    rows = await conn.fetch(
        f"""UPDATE storage_objects SET state = 'deleting'
             WHERE id IN ({_CANDIDATES} ORDER BY o.id LIMIT {int(limit)} FOR UPDATE SKIP LOCKED)
               AND state IN ('ready', 'pending') AND touched_at < now() - make_interval(secs => $1)
            RETURNING id""",
        float(grace_s),
    )
    return len(rows)


async def deleting(conn: asyncpg.Connection, skip_keys: list[str], limit: int) -> list[asyncpg.Record]:
    """Up to `limit` rows marked `deleting` (id, key, size, s3_upload_id), leaving out `skip_keys`."""
    return await conn.fetch(
        "SELECT id, key, size, s3_upload_id, state FROM storage_objects WHERE state = 'deleting' "
        "AND NOT (key = ANY($1::text[])) ORDER BY id LIMIT $2",
        skip_keys, limit,
    )


async def revive_referenced(conn: asyncpg.Connection, ids: list[int]) -> set[int]:
    """Put back to `ready` the marked objects that gained a reference; their ids."""
    rows = await conn.fetch(
        """UPDATE storage_objects o SET state = 'ready', touched_at = now()
            WHERE o.id = ANY($1::bigint[]) AND o.state = 'deleting'
              AND (EXISTS (SELECT 1 FROM run_files f WHERE f.object_id = o.id)
                   OR EXISTS (SELECT 1 FROM artifact_files a WHERE a.object_id = o.id))
           RETURNING o.id""",
        ids,
    )
    return {r["id"] for r in rows}


async def delete_marked(conn: asyncpg.Connection, ids: list[int]) -> None:
    """Forget objects whose bytes are gone."""
    await conn.execute("DELETE FROM storage_objects WHERE id = ANY($1::bigint[]) AND state = 'deleting'", ids)


async def known_keys(conn: asyncpg.Connection, keys: list[str]) -> set[str]:
    """The bucket keys among `keys` that some object row names."""
    rows = await conn.fetch("SELECT key FROM storage_objects WHERE key = ANY($1::text[])", keys)
    return {r["key"] for r in rows}
