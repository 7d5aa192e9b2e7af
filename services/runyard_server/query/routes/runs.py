"""One run with its history keys (the runs list with the filter language is in runs_search)."""

from __future__ import annotations

from fastapi import APIRouter

from ...common.errors import InvalidArgument, NotFound
from ...common.verifier import project_for_read
from ..deps import PoolDep, PrincipalDep
from ..jsonresp import RunyardJSONResponse
from ..queries.history import key_kinds
from ..queries.runs import RUN_STATES, get_run
from ..schemas import ERROR_RESPONSES, RunWithKeys
from ..serialize import run_json

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)


def parse_states(raw: str | None) -> tuple[str, ...]:
    states = tuple(dict.fromkeys(s.strip() for s in (raw or "").split(",") if s.strip()))
    unknown = [s for s in states if s not in RUN_STATES]
    if unknown:
        raise InvalidArgument(f"state must be among {', '.join(RUN_STATES)}; got {', '.join(unknown)}")
    return states


@router.get("/api/v1/runs/{entity}/{project}/{run_id}", response_model=RunWithKeys)
async def run(entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep) -> RunyardJSONResponse:
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        row = await get_run(conn, p["id"], run_id)
        if row is None:
            raise NotFound(f"run {entity}/{project}/{run_id} not found")
        numeric, media = await key_kinds(conn, row["pk"])
    out = run_json(row, p["entity"], p["name"])
    out["history_keys"] = numeric  # what charts draw
    out["media_keys"] = media  # images, tables, histograms and other non-numeric values
    return RunyardJSONResponse(out)
