"""History reads: key ids, numeric chunks (columnar, see common/history_codec.py) and JSON points."""

from __future__ import annotations

from collections import defaultdict

import asyncpg
import numpy as np

from ...common import history_codec


async def history_keys(conn: asyncpg.Connection, run_pk: int) -> dict[str, int]:
    """Key name -> key id, every key of the run (`_timestamp` included)."""
    rows = await conn.fetch("SELECT key, key_id FROM history_keys WHERE run_id = $1 ORDER BY key", run_pk)
    return {r["key"]: r["key_id"] for r in rows}


async def key_kinds(conn: asyncpg.Connection, run_pk: int) -> tuple[list[str], list[str]]:
    """(keys with numeric points, keys with only non-numeric values such as media), each sorted."""
    rows = await conn.fetch(
        """SELECT k.key, EXISTS (SELECT 1 FROM history_chunks c
                                  WHERE c.run_id = k.run_id AND c.key_id = k.key_id) AS numeric
             FROM history_keys k WHERE k.run_id = $1 ORDER BY k.key""",
        run_pk,
    )
    return [r["key"] for r in rows if r["numeric"]], [r["key"] for r in rows if not r["numeric"]]


async def numeric_series(
    conn: asyncpg.Connection, run_pk: int, key_ids: list[int], min_step: int | None, max_step: int | None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per key id: (steps, values) sorted by step, repeated steps resolved (last arrival wins).

    Only chunks whose [min_step, max_step] meets the window are read; points outside the window may
    still come back (the caller trims).
    """
    rows = await conn.fetch(
        """SELECT key_id, steps, vals FROM history_chunks
            WHERE run_id = $1 AND key_id = ANY($2::int[])
              AND ($3::bigint IS NULL OR max_step >= $3)
              AND ($4::bigint IS NULL OR min_step <= $4)
            ORDER BY key_id, id""",
        run_pk, key_ids, min_step, max_step,
    )
    chunks: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
    for r in rows:
        chunks[r["key_id"]].append((r["steps"], r["vals"]))
    return {k: history_codec.merge(chunks.get(k, [])) for k in key_ids}


async def json_steps(conn: asyncpg.Connection, run_pk: int, key_ids: list[int], start: int, limit: int) -> np.ndarray:
    """The first `limit` distinct steps >= start with a JSON value for any of the keys."""
    rows = await conn.fetch(
        """SELECT DISTINCT step FROM history_json
            WHERE run_id = $1 AND key_id = ANY($2::int[]) AND step >= $3
            ORDER BY step LIMIT $4""",
        run_pk, key_ids, start, limit,
    )
    return np.array([r["step"] for r in rows], dtype=np.int64)


async def json_points(
    conn: asyncpg.Connection, run_pk: int, key_ids: list[int], start: int, end: int | None
) -> list[asyncpg.Record]:
    """(key_id, step, value) of JSON-valued history with start <= step <= end."""
    return await conn.fetch(
        """SELECT key_id, step, value FROM history_json
            WHERE run_id = $1 AND key_id = ANY($2::int[]) AND step >= $3
              AND ($4::bigint IS NULL OR step <= $4)
            ORDER BY step""",
        run_pk, key_ids, start, end,
    )


async def chunk_extents(
    conn: asyncpg.Connection, run_pk: int, key_ids: list[int], start: int
) -> list[asyncpg.Record]:
    """(key_id, min_step, max_step, n) of the chunks reaching `start` or later (no payload read)."""
    return await conn.fetch(
        """SELECT key_id, min_step, max_step, n FROM history_chunks
            WHERE run_id = $1 AND key_id = ANY($2::int[]) AND max_step >= $3
            ORDER BY key_id, min_step""",
        run_pk, key_ids, start,
    )
