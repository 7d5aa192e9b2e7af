"""Runs search: filter-language conditions, ordering by any field (config/summary keys too), groups, keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import asyncpg

from ..filterlang import SqlBuilder, compile_filter, compile_sort_key, group_key_sql, metric_sql

_COLUMNS = """r.id AS pk, r.run_id, r.name, r.run_number, r.state, {config} AS config, {summary} AS summary, r.tags,
              r.group_name, r.job_type, r.notes, r.host, u.username AS created_by, r.created_at, r.updated_at,
              r.heartbeat_at, r.finished_at, r.exit_code, r.error"""


class Where:
    """The WHERE clause of a runs query: `r.project_id = $1` plus optional conditions, with their params."""

    def __init__(self, project_id: int) -> None:
        self.b = SqlBuilder(0)
        self.b.param(project_id, "bigint")
        self.parts = ["r.project_id = $1"]

    def add(self, sql: str) -> None:
        self.parts.append(sql)

    def filter(self, text: str) -> None:
        sql, args = compile_filter(text, start=self.b.start + len(self.b.args))
        self.b.args.extend(args)
        self.parts.append(sql)

    def legacy(self, states: tuple[str, ...], tag: str | None, group: str | None, search: str | None) -> None:
        b = self.b
        if states:
            self.add(f"r.state = ANY({b.param(list(states), 'text[]')})")
        if tag:
            self.add(f"{b.param(tag, 'text')} = ANY(r.tags)")
        if group:
            self.add(f"r.group_name = {b.param(group, 'text')}")
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            p = b.param(f"%{escaped}%", "text")
            self.add(f"(r.name ILIKE {p} OR r.run_id ILIKE {p})")

    def updated_since(self, ts: dt.datetime) -> None:
        self.add(f"r.updated_at > {self.b.param(ts, 'timestamptz')}")

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts)


async def count(conn: asyncpg.Connection, w: Where) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM runs r WHERE {w.sql}", *w.b.args))


async def search(
    conn: asyncpg.Connection, w: Where, order: list[str], limit: int, offset: int, *, with_config: bool,
    with_summary: bool,
) -> list[asyncpg.Record]:
    items: list[str] = []
    for spec in order:
        items += compile_sort_key(spec, w.b)
    last_desc = bool(order) and order[-1].startswith("-")
    items.append(f"r.id {'DESC' if last_desc else 'ASC'}")
    cols = _COLUMNS.format(config="r.config" if with_config else "'{}'::jsonb",
                           summary="r.summary" if with_summary else "'{}'::jsonb")
    lim = w.b.param(limit, "int")
    off = w.b.param(offset, "bigint")
    return await conn.fetch(
        f"""SELECT {cols}
              FROM runs r LEFT JOIN users u ON u.id = r.created_by
             WHERE {w.sql}
             ORDER BY {", ".join(items)}
             LIMIT {lim} OFFSET {off}""",
        *w.b.args,
    )


async def keys_of_runs(conn: asyncpg.Connection, run_pks: list[int]) -> dict[int, list[str]]:
    rows = await conn.fetch(
        # numeric keys only (what charts draw): a key with no chunk holds media or other JSON values
        "SELECT k.run_id, array_agg(k.key ORDER BY k.key) AS keys FROM history_keys k "
        "WHERE k.run_id = ANY($1::bigint[]) "
        "AND EXISTS (SELECT 1 FROM history_chunks c WHERE c.run_id = k.run_id AND c.key_id = k.key_id) "
        "GROUP BY k.run_id",
        run_pks,
    )
    return {r["run_id"]: list(r["keys"]) for r in rows}


async def project_keys(conn: asyncpg.Connection, project_id: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT DISTINCT k.key FROM history_keys k JOIN runs r ON r.id = k.run_id
            WHERE r.project_id = $1 ORDER BY k.key""",
        project_id,
    )
    return [r["key"] for r in rows]


async def project_config_summary_keys(conn: asyncpg.Connection, project_id: int) -> tuple[list[str], list[str]]:
    """Top-level config and summary keys used by the project's runs."""
    row = await conn.fetchrow(
        """SELECT (SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}') FROM runs r, jsonb_object_keys(r.config) k
                    WHERE r.project_id = $1 AND jsonb_typeof(r.config) = 'object') AS config,
                  (SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}') FROM runs r, jsonb_object_keys(r.summary) k
                    WHERE r.project_id = $1 AND jsonb_typeof(r.summary) = 'object') AS summary""",
        project_id,
    )
    return list(row["config"]), list(row["summary"])


async def groups(conn: asyncpg.Connection, w: Where, by: str, metric: str | None, limit: int) -> list[dict[str, Any]]:
    key = group_key_sql(by, w.b)
    m = metric_sql(metric, w.b) if metric else "NULL::numeric"
    lim = w.b.param(limit, "int")
    rows = await conn.fetch(
        f"""SELECT g.value, count(*) AS count, count(g.m) AS metric_count, avg(g.m) AS mean, min(g.m) AS min,
                   max(g.m) AS max, (array_agg(g.run_id ORDER BY g.created_at DESC))[1:20] AS run_ids
              FROM (SELECT {key} AS value, {m} AS m, r.run_id, r.created_at
                      FROM runs r WHERE {w.sql}) g
             GROUP BY g.value
             ORDER BY count(*) DESC, g.value::text
             LIMIT {lim}""",
        *w.b.args,
    )
    return [
        {"value": r["value"], "count": r["count"], "metric_count": r["metric_count"], "mean": _float(r["mean"]),
         "min": _float(r["min"]), "max": _float(r["max"]), "run_ids": list(r["run_ids"])}
        for r in rows
    ]


def _float(value: Decimal | None) -> float | None:
    """An aggregate as a float; beyond a double's range it is an infinity (sent as "Infinity")."""
    return None if value is None else float(value)


async def output_lines(
    conn: asyncpg.Connection, run_pk: int, after: int | None, limit: int, tail: bool
) -> list[asyncpg.Record]:
    if tail and after is None:
        rows = await conn.fetch(
            """SELECT line_no, ts, stream, line FROM run_output WHERE run_id = $1
                ORDER BY line_no DESC LIMIT $2""",
            run_pk, limit,
        )
        return list(reversed(rows))
    return await conn.fetch(
        """SELECT line_no, ts, stream, line FROM run_output WHERE run_id = $1 AND line_no > $2
            ORDER BY line_no LIMIT $3""",
        run_pk, -1 if after is None else after, limit,
    )
