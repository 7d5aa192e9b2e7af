"""SQL of the levels-of-detail reads (query/lod.py; the tables: migration 0061)."""

from __future__ import annotations

import asyncpg


async def lod_states(conn: asyncpg.Connection, pks: list[int], keys: list[str]) -> list[asyncpg.Record]:
    """Per (run, key) of `pks` x `keys` that has levels of detail: what they cover (chunk_id, min_step,
    max_step) and the step extent of the chunks written since (new_lo, new_hi; NULL when none)."""
    return await conn.fetch(
        """SELECT k.run_id, k.key, k.key_id, s.min_step, s.max_step, d.new_lo, d.new_hi
             FROM history_keys k
             JOIN history_lod_state s ON s.run_id = k.run_id AND s.key_id = k.key_id
             LEFT JOIN LATERAL (SELECT min(c.min_step) AS new_lo, max(c.max_step) AS new_hi
                                  FROM history_chunks c
                                 WHERE c.run_id = k.run_id AND c.key_id = k.key_id AND c.id > s.chunk_id) d ON true
            WHERE k.run_id = ANY($1::bigint[]) AND k.key = ANY($2::text[])""",
        pks, keys,
    )


async def lod_segments(
    conn: asyncpg.Connection, runs: list[int], key_ids: list[int], levels: list[int], seg_lo: list[int],
    seg_hi: list[int],
) -> list[asyncpg.Record]:
    """(i, data) of the stored segments seg_lo[i] <= seg <= seg_hi[i] of (runs[i], key_ids[i], levels[i]),
    i counting from 1, by i and segment."""
    return await conn.fetch(
        """SELECT q.i, l.data
             FROM unnest($1::bigint[], $2::int[], $3::smallint[], $4::bigint[], $5::bigint[])
                  WITH ORDINALITY AS q (run_id, key_id, level, s0, s1, i)
             JOIN history_lod l ON l.run_id = q.run_id AND l.key_id = q.key_id AND l.level = q.level
                               AND l.seg BETWEEN q.s0 AND q.s1
            ORDER BY q.i, l.seg""",
        runs, key_ids, levels, seg_lo, seg_hi,
    )


async def chunks_in_ranges(
    conn: asyncpg.Connection, run_pk: int, key_id: int, lo: list[int], hi: list[int]
) -> list[asyncpg.Record]:
    """(steps, vals) of the key's chunks meeting any of the step ranges [lo[i], hi[i]], by arrival."""
    return await conn.fetch(
        """SELECT c.steps, c.vals FROM history_chunks c
            WHERE c.run_id = $1 AND c.key_id = $2
              AND EXISTS (SELECT 1 FROM unnest($3::bigint[], $4::bigint[]) AS r (a, b)
                           WHERE c.max_step >= r.a AND c.min_step <= r.b)
            ORDER BY c.id""",
        run_pk, key_id, lo, hi,
    )
