"""`POST /api/v1/projects/{entity}/{project}/history`: chart history of many runs in one streamed answer.

The shaping and streaming are in `query/history_batch.py`, the SQL in `queries/history_batch.py`;
docs/api.md describes the contract.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from ...common.errors import InvalidArgument
from ...common.verifier import project_for_read
from ..deps import PoolDep, PrincipalDep
from ..history_batch import BatchQuery, stream_history
from ..queries.history_batch import run_pks
from ..schemas import ERROR_RESPONSES, Number

router = APIRouter(tags=["history"])

# The errors are ordinary JSON (`ErrorOut`), unlike the NDJSON success: declared by hand, since a route's
# `model` responses take the route's media type.
_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"description": spec["description"],
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    for status, spec in ERROR_RESPONSES.items()
}

MAX_RUNS = 1000
MAX_KEYS = 100
MAX_POINTS = 10_000_000  # runs x keys x samples: what one answer may carry at most
_INT64 = 2**63 - 1

RunId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class BatchHistoryIn(BaseModel):
    runs: list[RunId] = Field(min_length=1, max_length=MAX_RUNS,
                              description="run ids of the project, in the order the lines should come")
    keys: list[Key] = Field(min_length=1, max_length=MAX_KEYS, description="history keys to return for each run")
    samples: int = Field(500, ge=1, le=10_000, description="buckets per series")
    min_step: int | None = Field(None, ge=-_INT64 - 1, le=_INT64, description="first step of the window")
    max_step: int | None = Field(None, ge=-_INT64 - 1, le=_INT64, description="last step of the window")
    x: Key | None = Field(None, description="also return `x`: this key's value at each point's step")
    bands: bool = Field(True, description="also return each bucket's `min` and `max`")
    digits: int | None = Field(None, ge=3, le=17, description="round values to this many significant digits "
                                                              "(smaller answers for overview charts); default exact")
    pack: bool = Field(False, description="series as base64 little-endian arrays (steps int32/float64, values float32) "
                                          "instead of JSON lists: far less CPU for many runs")


class BatchSeriesOut(BaseModel):
    step: list[int]
    value: list[Number]
    min: list[Number] = Field(default_factory=list, description="with `bands`: each bucket's minimum (NaN ignored)")
    max: list[Number] = Field(default_factory=list, description="with `bands`: each bucket's maximum (NaN ignored)")
    x: list[Number] = Field(default_factory=list, description="with `x`: that key's value at each step (null where absent)")


class PackedSeriesOut(BaseModel):
    """A series with `pack`: base64 of little-endian arrays of `n` elements; NaN and infinities as they are."""

    n: int
    step: str = Field(description="steps: int32 or float64, as `step_type` says")
    step_type: Literal["i4", "f8"] = Field(description="i4 when every step fits an int32, else f8")
    value: str = Field(description="float32 values")
    min: str | None = Field(None, description="with `bands`: float32 minima")
    max: str | None = Field(None, description="with `bands`: float32 maxima")
    x: str | None = Field(None, description="with `x`: float64 x values, NaN where absent")


class BatchHistoryLine(BaseModel):
    """One line of the answer: a run's series, or the last line (`done`), or an error that cut the stream."""

    run_id: str | None = None
    series: dict[str, BatchSeriesOut | PackedSeriesOut] | None = Field(
        None, description="per key; `min`/`max` only with `bands`, `x` only with `x`")
    sampled: bool | None = Field(None, description="whether any series of the run was downsampled")
    done: bool | None = Field(None, description="the last line of a complete answer")
    runs: int | None = Field(None, description="(done) number of run lines sent")
    missing: list[str] | None = Field(None, description="(done) requested ids that are not runs of the project")
    error: str | None = Field(None, description="the stream was cut: what failed (no `done` line follows)")
    code: str | None = None


class NDJSONResponse(StreamingResponse):
    media_type = "application/x-ndjson"


class _NDJSONDoc(JSONResponse):
    """For the OpenAPI document only: FastAPI describes a JSON-like response class by its `response_model`
    (here: the schema of one line) under this media type. The route returns an `NDJSONResponse`."""

    media_type = "application/x-ndjson"


@router.post(
    "/api/v1/projects/{entity}/{project}/history",
    response_class=_NDJSONDoc,
    response_model=BatchHistoryLine,
    responses={200: {"description": "newline-delimited JSON: one BatchHistoryLine per run, then `done`"}, **_ERRORS},
)
async def history_batch(entity: str, project: str, body: BatchHistoryIn, who: PrincipalDep,
                        pool: PoolDep) -> NDJSONResponse:
    """Downsampled series of `keys` for up to 1,000 runs of the project, one NDJSON line per run as it is read."""
    if body.min_step is not None and body.max_step is not None and body.min_step > body.max_step:
        raise InvalidArgument(f"min_step ({body.min_step}) is greater than max_step ({body.max_step})")
    run_ids = list(dict.fromkeys(body.runs))
    keys = list(dict.fromkeys(body.keys))
    if len(run_ids) * len(keys) * body.samples > MAX_POINTS:
        raise InvalidArgument(
            f"runs x keys x samples is {len(run_ids) * len(keys) * body.samples:,}; at most {MAX_POINTS:,} "
            "per request: ask for fewer samples, keys or runs")
    async with pool.acquire() as conn:
        p = await project_for_read(conn, who, entity, project)
        pks = await run_pks(conn, p["id"], run_ids)
    runs = [(r, pks[r]) for r in run_ids if r in pks]
    missing = [r for r in run_ids if r not in pks]
    q = BatchQuery(keys=keys, samples=body.samples, min_step=body.min_step, max_step=body.max_step, x=body.x,
                   bands=body.bands, digits=body.digits, pack=body.pack)
    return NDJSONResponse(stream_history(pool, runs, missing, q),
                          headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
