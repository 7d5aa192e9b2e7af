"""Runs list with the filter language, ordering by any field, partial fields and cheap polling; groups;
the project's metric keys; a run's console output.

Registered before `routes.runs` in app.py, so it answers `GET /api/v1/projects/{e}/{p}/runs` (a superset of
the older parameters: state, tag, group, search keep working).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ...common.errors import InvalidArgument, NotFound
from ...common.formats import iso
from ...common.limits import FILTER_MAX, INT64_MAX, ORDER_KEYS_MAX, QUERY_TEXT_MAX
from ...common.verifier import project_for_read
from ...http.schemas import JsonValue
from .. import filterlang
from ..deps import PoolDep, PrincipalDep
from ..jsonresp import RunyardJSONResponse
from ..queries import runs_search as q
from ..queries.runs import run_pk
from ..schemas import ERROR_RESPONSES, RunFields, RunState
from ..serialize import run_json
from .runs import parse_states

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)

RUN_FIELDS = ("id", "entity", "project", "name", "run_number", "state", "config", "summary", "tags", "group",
              "job_type", "notes", "host", "created_by", "created_at", "updated_at", "heartbeat_at", "finished_at",
              "exit_code", "error", "history_keys")
DEFAULT_FIELDS = tuple(f for f in RUN_FIELDS if f != "history_keys")
MAX_ORDER_KEYS = ORDER_KEYS_MAX


class RunSearchOut(BaseModel):
    runs: list[RunFields]  # type: ignore[valid-type]
    total: int
    server_time: str


class GroupOut(BaseModel):
    value: JsonValue
    count: int
    metric_count: int
    mean: float | str | None = Field(description="\"Infinity\" where the numbers exceed a double")
    min: float | str | None
    max: float | str | None
    run_ids: list[str]


class GroupsOut(BaseModel):
    by: str
    metric: str | None
    groups: list[GroupOut]
    total: int


class KeysOut(BaseModel):
    keys: list[str]
    config: list[str]
    summary: list[str]


class OutputLine(BaseModel):
    line_no: int
    ts: float
    stream: str
    line: str


class OutputOut(BaseModel):
    lines: list[OutputLine]
    next_after: int
    total: int
    state: RunState


def parse_fields(raw: str | None) -> set[str]:
    if raw is None or not raw.strip():
        return set(DEFAULT_FIELDS)
    wanted: set[str] = set()
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        if name.startswith("-"):  # `-config,-summary`: everything but these
            if not wanted:
                wanted = set(DEFAULT_FIELDS)
            wanted.discard(name[1:])
            if name[1:] not in RUN_FIELDS:
                raise InvalidArgument(f"fields: unknown field {name[1:]!r} (fields: {', '.join(RUN_FIELDS)})")
            continue
        if name not in RUN_FIELDS:
            raise InvalidArgument(f"fields: unknown field {name!r} (fields: {', '.join(RUN_FIELDS)})")
        wanted.add(name)
    wanted.add("id")
    return wanted


def parse_order_list(raw: str) -> list[str]:
    items = [s.strip() for s in raw.split(",") if s.strip()]
    if not items:
        raise InvalidArgument("order: empty")
    if len(items) > MAX_ORDER_KEYS:
        raise InvalidArgument(f"order: at most {MAX_ORDER_KEYS} fields")
    return items


def parse_time(raw: str, what: str) -> dt.datetime:
    try:
        return filterlang.parse_time(raw)
    except ValueError as exc:
        raise InvalidArgument(f"{what}: {exc}") from None


@router.get("/api/v1/projects/{entity}/{project}/runs", response_model=RunSearchOut)
async def search_runs(
    entity: str, project: str, who: PrincipalDep, pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    order: Annotated[str, Query(max_length=QUERY_TEXT_MAX,
                                description="comma-separated fields, '-' for descending: created_at, name, "
                                            "state, config.<key>, summary.<key>, ...")] = "-created_at",
    filter: Annotated[str | None, Query(max_length=FILTER_MAX,
                                        description="filter expression, e.g. config.lr < 0.01 and "
                                                    "(state = finished or tags contains \"best\")")] = None,
    fields: Annotated[str | None, Query(max_length=QUERY_TEXT_MAX,
                                        description="comma-separated fields to return (id always); "
                                                    "`-config,-summary` omits those; `history_keys` adds them")]
    = None,
    updated_since: Annotated[str | None, Query(max_length=64,
                                               description="only runs updated after this ISO 8601 time")] = None,
    state: Annotated[str | None, Query(max_length=QUERY_TEXT_MAX,
                                       description="comma-separated states, e.g. running,crashed")] = None,
    tag: Annotated[str | None, Query(max_length=QUERY_TEXT_MAX, description="runs carrying this tag")] = None,
    group: Annotated[str | None, Query(max_length=QUERY_TEXT_MAX, description="runs of this group")] = None,
    search: Annotated[str | None, Query(max_length=QUERY_TEXT_MAX,
                                        description="case-insensitive part of the name or run id")] = None,
) -> RunyardJSONResponse:
    wanted = parse_fields(fields)
    order_items = parse_order_list(order)
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        w = q.Where(p["id"])
        w.legacy(parse_states(state), tag or None, group or None, search or None)
        if filter and filter.strip():
            w.filter(filter)
        if updated_since:
            w.updated_since(parse_time(updated_since, "updated_since"))
        now = await conn.fetchval("SELECT now()")
        total = await q.count(conn, w)
        rows = await q.search(conn, w, order_items, limit, offset, with_config="config" in wanted,
                              with_summary="summary" in wanted)
        keys = await q.keys_of_runs(conn, [r["pk"] for r in rows]) if "history_keys" in wanted and rows else {}
    out = []
    for r in rows:
        full = run_json(r, p["entity"], p["name"])
        if "history_keys" in wanted:
            full["history_keys"] = keys.get(r["pk"], [])
        out.append(full if wanted.issuperset(DEFAULT_FIELDS) else {k: v for k, v in full.items() if k in wanted})
    return RunyardJSONResponse({"runs": out, "total": total, "server_time": iso(now)})


@router.get("/api/v1/projects/{entity}/{project}/runs/groups", response_model=GroupsOut)
async def run_groups(
    entity: str, project: str, who: PrincipalDep, pool: PoolDep,
    by: Annotated[str, Query(max_length=QUERY_TEXT_MAX,
                             description="config.<key>, summary.<key>, state, group, job_type, host, ...")],
    metric: Annotated[str | None, Query(max_length=QUERY_TEXT_MAX,
                                        description="summary.<key> (or config.<key>) to aggregate")] = None,
    filter: Annotated[str | None, Query(max_length=FILTER_MAX,
                                        description="filter expression (as for the runs list)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> RunyardJSONResponse:
    """Runs grouped by a field's value: count, and mean/min/max of a numeric metric per group."""
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        w = q.Where(p["id"])
        if filter and filter.strip():
            w.filter(filter)
        total = await q.count(conn, w)
        groups = await q.groups(conn, w, by, metric, limit)
    return RunyardJSONResponse({"by": by, "metric": metric, "groups": groups, "total": total})


@router.get("/api/v1/projects/{entity}/{project}/keys", response_model=KeysOut)
async def project_keys(entity: str, project: str, who: PrincipalDep, pool: PoolDep) -> RunyardJSONResponse:
    """The union of the history keys of the project's runs, and their top-level config and summary keys."""
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        keys = await q.project_keys(conn, p["id"])
        config, summary = await q.project_config_summary_keys(conn, p["id"])
    return RunyardJSONResponse({"keys": keys, "config": config, "summary": summary})


@router.get("/api/v1/runs/{entity}/{project}/{run_id}/output", response_model=OutputOut)
async def run_output(
    entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep,
    after: Annotated[int | None, Query(ge=-1, le=INT64_MAX, description="return lines with line_no > after")]
    = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    tail: Annotated[bool, Query(description="without `after`: the last `limit` lines instead of the first")]
    = False,
) -> RunyardJSONResponse:
    """Console output lines in order; poll (or follow live events) with `after=next_after`."""
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        pk = await run_pk(conn, p["id"], run_id)
        if pk is None:
            raise NotFound(f"run {entity}/{project}/{run_id} not found")
        rows = await q.output_lines(conn, pk, after, limit, tail)
        meta = await conn.fetchrow("SELECT output_lines, state FROM runs WHERE id = $1", pk)
    lines = [{"line_no": r["line_no"], "ts": r["ts"], "stream": r["stream"], "line": r["line"]} for r in rows]
    next_after = lines[-1]["line_no"] if lines else (-1 if after is None else after)
    return RunyardJSONResponse({"lines": lines, "next_after": next_after, "total": int(meta["output_lines"]),
                                "state": meta["state"]})
