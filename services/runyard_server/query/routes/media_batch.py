"""`POST /api/v1/projects/{entity}/{project}/media`: the JSON-valued history (images, tables, histograms,
text) of many runs in one answer, for the workspace's media, table and histogram panels (docs/api.md).

The SQL is in `queries/history_batch.py`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from ...common.verifier import project_for_read
from ...http.schemas import JsonValue
from ..deps import PoolDep, PrincipalDep
from ..jsonresp import RunyardJSONResponse
from ..queries.history_batch import json_points_of_runs, run_pks
from ..schemas import ERROR_RESPONSES

router = APIRouter(tags=["history"], responses=ERROR_RESPONSES)

MAX_RUNS = 100
MAX_KEYS = 100

RunId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class MediaIn(BaseModel):
    runs: list[RunId] = Field(min_length=1, max_length=MAX_RUNS, description="run ids of the project")
    keys: list[Key] | None = Field(None, max_length=MAX_KEYS,
                                   description="only these keys; default every JSON-valued key of the runs")
    per_key: int = Field(200, ge=1, le=1000, description="the last points of each (run, key)")


class MediaSeries(BaseModel):
    steps: list[int]
    values: list[JsonValue]
    truncated: bool = Field(description="older points than these exist (raise per_key)")


class MediaRun(BaseModel):
    run_id: str
    media: dict[str, MediaSeries]


class MediaOut(BaseModel):
    runs: list[MediaRun] = Field(description="in the order asked for; runs without such values have `media: {}`")
    missing: list[str] = Field(description="requested ids that are not runs of the project")


@router.post("/api/v1/projects/{entity}/{project}/media", response_model=MediaOut)
async def media_batch(entity: str, project: str, body: MediaIn, who: PrincipalDep, pool: PoolDep) -> RunyardJSONResponse:
    """Media descriptors and other JSON history of up to 100 runs (the last `per_key` points of each key)."""
    run_ids = list(dict.fromkeys(body.runs))
    keys = list(dict.fromkeys(body.keys)) if body.keys else None
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        p = await project_for_read(conn, who, entity, project)
        pks = await run_pks(conn, p["id"], run_ids)
        # one more than asked: tells whether older points exist
        rows = await json_points_of_runs(conn, list(pks.values()), keys, body.per_key + 1) if pks else []
    by_pk: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        m = by_pk.setdefault(r["run_id"], {}).setdefault(r["key"], {"steps": [], "values": [], "truncated": False})
        m["steps"].append(r["step"])
        m["values"].append(r["value"])
    for media in by_pk.values():
        for m in media.values():
            if len(m["steps"]) > body.per_key:  # the oldest one was only the "more exist" marker
                del m["steps"][0], m["values"][0]
                m["truncated"] = True
    out = [{"run_id": rid, "media": by_pk.get(pks[rid], {})} for rid in run_ids if rid in pks]
    return RunyardJSONResponse({"runs": out, "missing": [r for r in run_ids if r not in pks]})
