"""Runs of a project (paginated, ordered) and one run with its history keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...common.errors import InvalidArgument, NotFound
from ...common.verifier import project_for_read
from ..deps import PoolDep, PrincipalDep
from ..jsonresp import RunyardJSONResponse
from ..queries.history import history_keys
from ..queries.runs import ORDER_FIELDS, RUN_STATES, RunFilter, count_runs, get_run, list_runs
from ..schemas import ERROR_RESPONSES, RunList, RunWithKeys
from ..serialize import run_json

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)


def parse_order(order: str) -> tuple[str, bool]:
    descending = order.startswith("-")
    field = order.lstrip("-+")
    if field not in ORDER_FIELDS:
        raise InvalidArgument(
            f"order must be one of {', '.join(sorted(ORDER_FIELDS))}, optionally prefixed with '-'; "
            f"got {order!r}"
        )
    return field, descending


def parse_states(raw: str | None) -> tuple[str, ...]:
    states = tuple(dict.fromkeys(s.strip() for s in (raw or "").split(",") if s.strip()))
    unknown = [s for s in states if s not in RUN_STATES]
    if unknown:
        raise InvalidArgument(f"state must be among {', '.join(RUN_STATES)}; got {', '.join(unknown)}")
    return states


@router.get("/api/v1/projects/{entity}/{project}/runs", response_model=RunList)
async def runs(
    entity: str, project: str, who: PrincipalDep, pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    order: Annotated[str, Query(description="created_at, updated_at, name or state; '-' for descending")]
    = "-created_at",
    state: Annotated[str | None, Query(description="comma-separated states, e.g. running,crashed")] = None,
    tag: Annotated[str | None, Query(description="runs carrying this tag")] = None,
    group: Annotated[str | None, Query(description="runs of this group")] = None,
    search: Annotated[str | None, Query(description="case-insensitive part of the name or run id")] = None,
) -> RunyardJSONResponse:
    field, descending = parse_order(order)
    filters = RunFilter(states=parse_states(state), tag=tag or None, group=group or None, search=search or None)
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        total = await count_runs(conn, p["id"], filters)
        rows = await list_runs(conn, p["id"], order_field=field, descending=descending, limit=limit,
                               offset=offset, f=filters)
    return RunyardJSONResponse({"runs": [run_json(r, p["entity"], p["name"]) for r in rows], "total": total})


@router.get("/api/v1/runs/{entity}/{project}/{run_id}", response_model=RunWithKeys)
async def run(entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep) -> RunyardJSONResponse:
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        row = await get_run(conn, p["id"], run_id)
        if row is None:
            raise NotFound(f"run {entity}/{project}/{run_id} not found")
        keys = await history_keys(conn, row["pk"])
    out = run_json(row, p["entity"], p["name"])
    out["history_keys"] = sorted(keys)
    return RunyardJSONResponse(out)
