"""Runs search: filter-language conditions, ordering by any field (config/summary keys too), groups, keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import asyncpg

from ..filterlang import (
    FilterError,
    SqlBuilder,
    compile_filter,
    compile_sort_key,
    group_key_sql,
    metric_sql,
    resolve_field,
)


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


def _iso_sql(x: str) -> str:
    """SQL for common.formats.iso(): UTC, `Z`, microseconds only when there are any (as Python's isoformat)."""
    return (f"CASE WHEN {x} IS NULL THEN NULL ELSE to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
            f"CASE WHEN extract(microseconds FROM {x})::bigint % 1000000 = 0 THEN '' "
            f"ELSE to_char({x} AT TIME ZONE 'UTC', '.US') END || 'Z' END")


# a run's fields in the runs list (query/serialize.run_json's shape), as SQL for json_build_object
_FIELD_SQL = {
    "id": "r.run_id", "name": "r.name", "run_number": "r.run_number", "state": "r.state", "config": "r.config",
    "summary": "r.summary", "tags": "r.tags", "group": "r.group_name", "job_type": "r.job_type", "notes": "r.notes",
    "host": "r.host", "created_by": "u.username", "created_at": _iso_sql("r.created_at"),
    "updated_at": _iso_sql("r.updated_at"), "heartbeat_at": _iso_sql("r.heartbeat_at"),
    "finished_at": _iso_sql("r.finished_at"), "exit_code": "r.exit_code", "error": "r.error",
}


async def search(
    conn: asyncpg.Connection, w: Where, order: list[str], limit: int, offset: int, *, fields: list[str],
    entity: str, project: str,
) -> list[asyncpg.Record]:
    """One page of runs as (pk, doc): `doc` is the run's JSON object with `fields` in that order, rendered
    by PostgreSQL (config and summary as stored, non-finite numbers already strings).

    Two steps in one statement: the page's ids are chosen by sorting only (id, sort keys), then only
    those rows are read whole and rendered. Sorting whole rows (config and summary carried through a
    top-N sort of every run of the project) and building 1,000 runs in Python took about twice as long
    at 10,000 runs (docs/scaling.md). ARRAY(...) keeps the subquery's order; WITH ORDINALITY numbers it.
    """
    items: list[str] = []
    for spec in order:
        items += compile_sort_key(spec, w.b)
    last_desc = bool(order) and order[-1].startswith("-")
    items.append(f"r.id {'DESC' if last_desc else 'ASC'}")
    pairs = []
    for name in fields:
        if name == "entity":
            expr = w.b.param(entity, "text")
        elif name == "project":
            expr = w.b.param(project, "text")
        else:
            expr = _FIELD_SQL[name]
        pairs.append(f"'{name}', {expr}")
    lim = w.b.param(limit, "int")
    off = w.b.param(offset, "bigint")
    general = f"""ARRAY(SELECT r.id FROM runs r
                         WHERE {w.sql}
                         ORDER BY {", ".join(items)}
                         LIMIT {lim} OFFSET {off})"""
    summary_key = _summary_sort_key(order)
    if summary_key is None:
        ids, prefix = general, ""
    else:
        # Sorted by one numeric summary key: numbers sort first, so while the page holds only numbers it
        # is the first rows of the typed index (run_summary_num, migration 0060) in that order, ties by
        # run id in the same direction, as the general ORDER BY. When the page reaches past the numbers
        # (strings, missing values) the general sort answers; PostgreSQL evaluates that ARRAY(...) only
        # in that case (an InitPlan runs when first needed). ARRAY(...) keeps the index order.
        key = w.b.param(summary_key, "text")
        direction = "DESC" if order[0].startswith("-") else "ASC"
        prefix = f"""WITH fast AS MATERIALIZED (
                         SELECT ARRAY(SELECT s.run_id FROM run_summary_num s JOIN runs r ON r.id = s.run_id
                                       WHERE s.project_id = $1 AND s.key = {key} AND {w.sql}
                                       ORDER BY s.value {direction}, s.run_id {direction}
                                       LIMIT {lim} OFFSET {off}) AS ids) """
        ids = (f"CASE WHEN cardinality((SELECT f.ids FROM fast f)) = {lim} THEN (SELECT f.ids FROM fast f) "
               f"ELSE {general} END")
    return await conn.fetch(
        f"""{prefix}SELECT r.id AS pk, json_build_object({", ".join(pairs)})::text AS doc
              FROM unnest({ids}) WITH ORDINALITY AS page (id, ord)
              JOIN runs r ON r.id = page.id
              LEFT JOIN users u ON u.id = r.created_by
             ORDER BY page.ord""",
        *w.b.args,
    )


def _summary_sort_key(order: list[str]) -> str | None:
    """The top-level summary key when `order` is exactly one `summary.<key>` (either direction), else None."""
    if len(order) != 1:
        return None
    try:
        f = resolve_field(order[0].lstrip("-+").strip(), 0)
    except FilterError:
        return None
    if f.kind != "json" or f.sql != "r.summary" or len(f.path) != 1:
        return None
    return f.path[0]


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
