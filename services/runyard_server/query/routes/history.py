"""History of a run: downsampled for charts, and full resolution (columnar, paginated)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import asyncpg
import numpy as np
from fastapi import APIRouter, Query

from ...common.errors import InvalidArgument, NotFound
from ...common.limits import HISTORY_KEYS_MAX, INT64_MAX, INT64_MIN, QUERY_TEXT_MAX
from ...common.verifier import Principal, project_for_read
from .. import lod
from ..deps import PoolDep, PrincipalDep
from ..downsample import bucket, window
from ..fullhistory import full_page
from ..jsonresp import RunyardJSONResponse, float_list
from ..queries.history import history_keys, numeric_series
from ..queries.runs import run_pk
from ..schemas import ERROR_RESPONSES, FullHistoryOut, HistoryOut
from ..xaxis import x_at_steps

router = APIRouter(tags=["history"], responses=ERROR_RESPONSES)

MAX_KEYS = HISTORY_KEYS_MAX
_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))

KeysQuery = Annotated[
    list[str] | None,
    Query(description="comma-separated key names (the parameter may also repeat); default: every key"),
]


def parse_keys(raw: list[str] | None) -> list[str] | None:
    """`keys=a,b&keys=c` -> ['a', 'b', 'c'] (order kept, duplicates dropped); None when absent."""
    if not raw:
        return None
    names = list(dict.fromkeys(k.strip() for part in raw for k in part.split(",") if k.strip()))
    if len(names) > MAX_KEYS:
        raise InvalidArgument(f"at most {MAX_KEYS} keys per request, got {len(names)}")
    return names or None


async def resolve_run(conn: asyncpg.Connection, who: Principal, entity: str, project: str, run_id: str) -> int:
    p = await project_for_read(conn, who, entity, project)
    pk = await run_pk(conn, p["id"], run_id)
    if pk is None:
        raise NotFound(f"run {entity}/{project}/{run_id} not found")
    return pk


@router.get("/api/v1/runs/{entity}/{project}/{run_id}/history", response_model=HistoryOut)
async def history(
    entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep,
    keys: KeysQuery = None,
    samples: Annotated[int, Query(ge=1, le=100_000, description="buckets per key")] = 1500,
    min_step: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX,
                                          description="first step of the window (inclusive)")] = None,
    max_step: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX,
                                          description="last step of the window (inclusive)")] = None,
    x: Annotated[str | None, Query(max_length=QUERY_TEXT_MAX, description="also return `x`: this key's value (e.g. _timestamp) at each "
                                               "point's step (joined by step; null where absent)")] = None,
) -> RunyardJSONResponse:
    """Downsampled series for charts: per bucket the last step/value and the min/max (NaN ignored)."""
    if min_step is not None and max_step is not None and min_step > max_step:
        raise InvalidArgument(f"min_step ({min_step}) is greater than max_step ({max_step})")
    names = parse_keys(keys)
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        pk = await resolve_run(conn, who, entity, project, run_id)
        ids = await history_keys(conn, pk)
        wanted = names if names is not None else sorted(ids)
        # long series through their levels of detail when the window is wide (query/lod.py), the rest exactly
        present = [n for n in wanted if n in ids]
        lod_names = present + ([x] if x and x in ids and x not in present else [])
        lods = {key: s for (_, key), s in (await lod.read(conn, [pk], lod_names, samples, min_step, max_step)).items()}
        exact = [n for n in present if n not in lods]
        x_exact = bool(x and x in ids and (exact or (x not in lods and any(n in lods for n in present))))
        found = [ids[n] for n in exact]
        if x and x_exact and ids[x] not in found:
            found.append(ids[x])
        data = await numeric_series(conn, pk, found, min_step, max_step) if found else {}
    def build() -> RunyardJSONResponse:
        xs, xv = data.get(ids[x], _EMPTY) if x and x in ids and x_exact else _EMPTY
        x_lod = (lods[x].step, lods[x].value) if x and x in lods else None
        series: dict[str, Any] = {}
        sampled = False
        for name in wanted:
            if name in lods:
                s = lods[name]
                sampled = True
                series[name] = {"step": s.step.tolist(), "value": float_list(s.value),
                                "min": float_list(s.min), "max": float_list(s.max)}
                if x:
                    # the x key's own levels give its value at each bucket's last step (same rows, same
                    # steps); without levels, its exact points
                    series[name]["x"] = x_at_steps(*(x_lod if x_lod is not None else (xs, xv)), s.step)
                continue
            steps, vals = data.get(ids[name], _EMPTY) if name in ids else _EMPTY
            b = bucket(*window(steps, vals, min_step, max_step), samples)
            sampled = sampled or b.sampled
            series[name] = {"step": b.step.tolist(), "value": float_list(b.value),
                            "min": float_list(b.min), "max": float_list(b.max)}
            if x:
                series[name]["x"] = x_at_steps(xs, xv, b.step)
        return RunyardJSONResponse({"series": series, "sampled": sampled})  # rendered here, in the thread

    # bucketing and JSON rendering of many long series take CPU: keep them off the event loop, so one
    # big chart request does not stall every other request (and the live streams) of this process
    return await asyncio.to_thread(build)


@router.get("/api/v1/runs/{entity}/{project}/{run_id}/history/full", response_model=FullHistoryOut)
async def history_full(
    entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep,
    keys: KeysQuery = None,
    start_step: Annotated[int, Query(ge=INT64_MIN, le=INT64_MAX, description="first step to return (inclusive)")]
    = 0,
    limit: Annotated[int, Query(ge=1, le=100_000, description="rows per page")] = 10_000,
) -> RunyardJSONResponse:
    """Full resolution, columnar: rows are the steps where any requested key has a value."""
    names = parse_keys(keys)
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        pk = await resolve_run(conn, who, entity, project, run_id)
        ids = await history_keys(conn, pk)
        page = await full_page(conn, pk, ids, names, start_step, limit)
    return RunyardJSONResponse(page)
