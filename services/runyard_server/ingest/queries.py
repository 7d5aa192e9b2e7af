"""SQL of the ingest service (the one writer of runs, history and console output)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from ..common.security import split_api_key

_RUN_COLS = "id, name, state, last_seq, next_step, channel_seqs"


async def upsert_project(conn: asyncpg.Connection, entity_pk: int, name: str) -> int:
    return await conn.fetchval(
        """INSERT INTO projects (entity_id, name) VALUES ($1, $2)
           ON CONFLICT (entity_id, name) DO UPDATE SET updated_at = now()
           RETURNING id""",
        entity_pk, name,
    )


async def lock_run(conn: asyncpg.Connection, project_pk: int, run_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_RUN_COLS} FROM runs WHERE project_id = $1 AND run_id = $2 FOR UPDATE",
        project_pk, run_id,
    )


async def next_run_number(conn: asyncpg.Connection, project_pk: int) -> int:
    # The project row lock serialises run creation inside one project, so numbers never collide.
    await conn.execute("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", project_pk)
    return await conn.fetchval(
        "SELECT coalesce(max(run_number), 0) + 1 FROM runs WHERE project_id = $1", project_pk
    )


async def insert_run(
    conn: asyncpg.Connection, *, project_pk: int, run_id: str, name: str, number: int,
    config: dict[str, Any], tags: list[str], group: str, job_type: str, notes: str, host: str,
    created_by: int, start_time: float, state: str = "running",
) -> asyncpg.Record:
    created = dt.datetime.fromtimestamp(start_time, dt.timezone.utc)
    return await conn.fetchrow(
        f"""INSERT INTO runs (project_id, run_id, name, run_number, config, tags, group_name, job_type,
                              notes, host, created_by, created_at, heartbeat_at, state)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), $13)
            RETURNING {_RUN_COLS}""",
        project_pk, run_id, name, number, config, tags, group, job_type, notes, host, created_by, created,
        state,
    )


async def resume_run(conn: asyncpg.Connection, pk: int) -> asyncpg.Record:
    # Only the heartbeat moves: the state is left alone (a stream that reconnects after its Finish
    # was committed replays only old records and must not flip the run back to running; new records
    # do that), the config is not merged again (OpenRun.config_json applies only to a new run), and
    # `updated_at` moves only when something is written, so a sync that sends nothing changes nothing.
    return await conn.fetchrow(
        f"UPDATE runs SET heartbeat_at = now() WHERE id = $1 RETURNING {_RUN_COLS}", pk
    )


async def key_ids(conn: asyncpg.Connection, run_pk: int) -> dict[str, int]:
    rows = await conn.fetch("SELECT key, key_id FROM history_keys WHERE run_id = $1", run_pk)
    return {r["key"]: r["key_id"] for r in rows}


async def insert_keys(conn: asyncpg.Connection, run_pk: int, keys: dict[str, int]) -> None:
    await conn.executemany(
        "INSERT INTO history_keys (run_id, key_id, key) VALUES ($1, $2, $3)",
        [(run_pk, kid, key) for key, kid in keys.items()],
    )


async def lock_run_state(conn: asyncpg.Connection, run_pk: int) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT last_seq, next_step, output_lines, loose_chunks, state, channel_seqs FROM runs WHERE id = $1 FOR UPDATE",
        run_pk,
    )


_CHUNK_COLS = ["run_id", "key_id", "min_step", "max_step", "n", "steps", "vals"]


async def copy_chunks(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table("history_chunks", records=rows, columns=_CHUNK_COLS)


async def upsert_json_points(conn: asyncpg.Connection, rows: list[tuple[int, int, int, Any]]) -> None:
    await conn.executemany(
        """INSERT INTO history_json (run_id, key_id, step, value) VALUES ($1, $2, $3, $4)
           ON CONFLICT (run_id, key_id, step) DO UPDATE SET value = excluded.value""",
        rows,
    )


async def append_output(
    conn: asyncpg.Connection, run_pk: int, first_line: int, lines: list[tuple[float, str, str]]
) -> None:
    await conn.copy_records_to_table(
        "run_output",
        records=[(run_pk, first_line + i, ts, stream, text) for i, (ts, stream, text) in enumerate(lines)],
        columns=["run_id", "line_no", "ts", "stream", "line"],
    )


async def put_output(
    conn: asyncpg.Connection, run_pk: int, lines: dict[int, tuple[float, str, str]]
) -> None:
    """Write console lines at their line numbers, replacing lines already there."""
    await conn.executemany(
        """INSERT INTO run_output (run_id, line_no, ts, stream, line) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (run_id, line_no) DO UPDATE
               SET ts = excluded.ts, stream = excluded.stream, line = excluded.line""",
        [(run_pk, n, ts, stream, text) for n, (ts, stream, text) in sorted(lines.items())],
    )


async def update_run_after_batch(
    conn: asyncpg.Connection, run_pk: int, *, last_seq: int, next_step: int,
    summary_set: dict[str, Any], summary_remove: list[str], config_set: dict[str, Any],
    config_remove: list[str], loose_chunks: int, output_lines: int, update: dict[str, Any],
    finish_state: str | None, exit_code: int | None, error: str, activity: bool,
    finished_at: float | None = None, channel_seqs: dict[str, int] | None = None,
) -> None:
    await conn.execute(
        """UPDATE runs SET
               last_seq = greatest(last_seq, $2),
               next_step = greatest(next_step, $3),
               summary = (summary - $4::text[]) || $5::jsonb,
               config = (config - $6::text[]) || $7::jsonb,
               loose_chunks = loose_chunks + $8,
               output_lines = output_lines + $9,
               name = coalesce($10, name),
               notes = coalesce($11, notes),
               group_name = coalesce($12, group_name),
               job_type = coalesce($13, job_type),
               tags = coalesce($14, tags),
               state = CASE WHEN $15::text IS NOT NULL THEN $15::text
                            WHEN $18 THEN 'running' ELSE state END,
               exit_code = coalesce($16, exit_code),
               error = CASE WHEN $15::text IS NOT NULL THEN $17 ELSE error END,
               finished_at = CASE WHEN $15::text IS NOT NULL THEN coalesce(to_timestamp($19), now())
                                  ELSE finished_at END,
               heartbeat_at = now(),
               updated_at = now(),
               channel_seqs = channel_seqs || $20::jsonb
            WHERE id = $1""",
        run_pk, last_seq, next_step, summary_remove, summary_set, config_remove, config_set,
        loose_chunks, output_lines, update.get("name"), update.get("notes"), update.get("group"),
        update.get("job_type"), update.get("tags"), finish_state, exit_code, error, activity, finished_at,
        channel_seqs or {},
    )


async def touch_run(conn: asyncpg.Connection, run_pk: int, *, revive: bool = True) -> None:
    await conn.execute(
        """UPDATE runs SET heartbeat_at = now(),
                  state = CASE WHEN $2 AND state = 'crashed' THEN 'running' ELSE state END
            WHERE id = $1""",
        run_pk, revive,
    )


async def set_sequences(conn: asyncpg.Connection, run_pk: int, last_seq: int, channel_seqs: dict[str, int]) -> None:
    """Move the replay guards alone (a batch whose every record was rejected)."""
    await conn.execute(
        "UPDATE runs SET last_seq = greatest(last_seq, $2), channel_seqs = channel_seqs || $3::jsonb WHERE id = $1",
        run_pk, last_seq, channel_seqs,
    )


async def small_chunks(conn: asyncpg.Connection, run_pk: int, target: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, key_id, steps, vals FROM history_chunks
            WHERE run_id = $1 AND n < $2 ORDER BY key_id, id""",
        run_pk, target,
    )


async def delete_chunks(conn: asyncpg.Connection, run_pk: int, ids: list[int]) -> None:
    # run_id first: the primary key (run_id, key_id, id) then finds the run's chunks directly; by id
    # alone it was a scan of the whole index, 35 ms per compaction at 55 M points and growing with the
    # table (docs/scaling.md)
    await conn.execute("DELETE FROM history_chunks WHERE run_id = $1 AND id = ANY($2::bigint[])", run_pk, ids)


async def reset_loose(conn: asyncpg.Connection, run_pk: int) -> None:
    await conn.execute("UPDATE runs SET loose_chunks = 0 WHERE id = $1", run_pk)


async def mark_crashed(conn: asyncpg.Connection, timeout_s: float) -> list[str]:
    rows = await conn.fetch(
        """UPDATE runs SET state = 'crashed', updated_at = now()
            WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => $1)
            RETURNING run_id""",
        timeout_s,
    )
    return [r["run_id"] for r in rows]


async def key_problem_by_key(conn: asyncpg.Connection, key: str | None) -> str | None:
    """Why a key that opened a stream may no longer write (revoked, account disabled), or None.

    Reads PostgreSQL directly (no cache), so a revocation is seen at the next check."""
    prefix = split_api_key(key or "")
    if prefix is None:
        return None  # not a key this server issues: authenticate() says why
    row = await conn.fetchrow(
        """SELECT k.revoked_at, u.disabled FROM api_keys k JOIN users u ON u.id = k.user_id
            WHERE k.prefix = $1""",
        prefix,
    )
    if row is None or row["revoked_at"] is not None:
        return "the API key was revoked while this run was streaming"
    if row["disabled"]:
        return "the account of this API key was disabled while this run was streaming"
    return None


# -- levels of detail (common/history_lod.py), kept by compaction (writer._refresh_lod) --

async def lod_extents(conn: asyncpg.Connection, run_pk: int) -> list[asyncpg.Record]:
    """Per key of the run with numeric history: stored points, first and last step, and the first step of
    the chunks its levels of detail do not cover yet (NULL when they cover everything; every chunk's
    min_step when the key has none)."""
    return await conn.fetch(
        """SELECT c.key_id, sum(c.n)::bigint AS points, min(c.min_step) AS first, max(c.max_step) AS last,
                  min(c.min_step) FILTER (WHERE s.chunk_id IS NULL OR c.id > s.chunk_id) AS dirty_from,
                  bool_or(s.chunk_id IS NOT NULL) AS has_lod
             FROM history_chunks c
             LEFT JOIN history_lod_state s ON s.run_id = c.run_id AND s.key_id = c.key_id
            WHERE c.run_id = $1
            GROUP BY c.key_id""",
        run_pk,
    )


async def chunks_from(conn: asyncpg.Connection, run_pk: int, key_id: int, start: int | None) -> list[asyncpg.Record]:
    """(steps, vals) of the key's chunks reaching `start` or later (all of them without `start`), by arrival."""
    return await conn.fetch(
        """SELECT steps, vals FROM history_chunks
            WHERE run_id = $1 AND key_id = $2 AND ($3::bigint IS NULL OR max_step >= $3)
            ORDER BY id""",
        run_pk, key_id, start,
    )


async def lod_segment(conn: asyncpg.Connection, run_pk: int, key_id: int, level: int, seg: int) -> bytes | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT data FROM history_lod WHERE run_id = $1 AND key_id = $2 AND level = $3 AND seg = $4",
        run_pk, key_id, level, seg,
    )


async def replace_lod(conn: asyncpg.Connection, run_pk: int, key_id: int, from_segs: list[int | None],
                      rows: list[tuple[int, int, int, int, int, bytes]]) -> None:
    """Delete the key's segments at or after `from_segs[level]` (every one where None) and write `rows`
    (run_id, key_id, level, seg, n, data)."""
    for level, seg in enumerate(from_segs):
        await conn.execute(
            """DELETE FROM history_lod WHERE run_id = $1 AND key_id = $2 AND level = $3
                  AND ($4::bigint IS NULL OR seg >= $4)""",
            run_pk, key_id, level, seg,
        )
    if rows:
        await conn.copy_records_to_table(
            "history_lod", records=rows, columns=["run_id", "key_id", "level", "seg", "n", "data"])


async def put_lod_state(conn: asyncpg.Connection, run_pk: int, key_id: int, first: int, last: int, points: int) -> None:
    """The key's levels now cover every chunk it has."""
    await conn.execute(
        """INSERT INTO history_lod_state (run_id, key_id, chunk_id, min_step, max_step, points)
           SELECT $1, $2, max(id), $3, $4, $5 FROM history_chunks WHERE run_id = $1 AND key_id = $2
           ON CONFLICT (run_id, key_id) DO UPDATE SET chunk_id = EXCLUDED.chunk_id, min_step = EXCLUDED.min_step,
               max_step = EXCLUDED.max_step, points = EXCLUDED.points""",
        run_pk, key_id, first, last, points,
    )
