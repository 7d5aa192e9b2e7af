"""SQL of the batched history read (`POST /api/v1/projects/{entity}/{project}/history`, history_batch.py).

Only the chunks of the requested keys (and, with a step window, only those meeting it) are read, one
query per group of runs, through the `(run_id, key)` unique index of `history_keys` and the primary key
`(run_id, key_id, id)` of `history_chunks`.
"""

from __future__ import annotations

import asyncpg


async def run_pks(conn: asyncpg.Connection, project_id: int, run_ids: list[str]) -> dict[str, int]:
    """run id -> row id, for the ids of `run_ids` that are runs of the project."""
    rows = await conn.fetch(
        "SELECT run_id, id FROM runs WHERE project_id = $1 AND run_id = ANY($2::text[])", project_id, run_ids)
    return {r["run_id"]: int(r["id"]) for r in rows}


async def chunks_of_runs(
    conn: asyncpg.Connection, pks: list[int], keys: list[str], min_step: int | None, max_step: int | None,
    skip: list[tuple[int, str]] | None = None,
) -> list[asyncpg.Record]:
    """(run_id, key, steps, vals) of every chunk of `keys` in the runs `pks` that meets the step window,
    ordered by run, key and arrival (what `history_codec.merge` needs); the (run, key) series in `skip`
    (answered by their levels of detail) are not read."""
    skip = skip or []
    return await conn.fetch(
        """SELECT k.run_id, k.key, c.steps, c.vals
             FROM history_keys k
             JOIN history_chunks c ON c.run_id = k.run_id AND c.key_id = k.key_id
            WHERE k.run_id = ANY($1::bigint[]) AND k.key = ANY($2::text[])
              AND ($3::bigint IS NULL OR c.max_step >= $3)
              AND ($4::bigint IS NULL OR c.min_step <= $4)
              AND NOT EXISTS (SELECT 1 FROM unnest($5::bigint[], $6::text[]) AS s (run_id, key)
                               WHERE s.run_id = k.run_id AND s.key = k.key)
            ORDER BY k.run_id, k.key_id, c.id""",
        pks, keys, min_step, max_step, [r for r, _ in skip], [k for _, k in skip],
    )


async def json_points_of_runs(
    conn: asyncpg.Connection, pks: list[int], keys: list[str] | None, per_key: int
) -> list[asyncpg.Record]:
    """(run_id, key, step, value) of the JSON-valued history (media descriptors, tables, histograms, text) of
    the runs: the last `per_key` points of each (run, key), every key or only `keys`, in step order."""
    return await conn.fetch(
        """SELECT run_id, key, step, value FROM (
               SELECT j.run_id, k.key, j.step, j.value,
                      row_number() OVER (PARTITION BY j.run_id, j.key_id ORDER BY j.step DESC) AS rn
                 FROM history_json j
                 JOIN history_keys k ON k.run_id = j.run_id AND k.key_id = j.key_id
                WHERE j.run_id = ANY($1::bigint[]) AND ($2::text[] IS NULL OR k.key = ANY($2::text[]))
           ) t
          WHERE rn <= $3
          ORDER BY run_id, key, step""",
        pks, keys, per_key,
    )
