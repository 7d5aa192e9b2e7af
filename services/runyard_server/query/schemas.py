"""Response shapes of the query service, for the OpenAPI spec.

Handlers return `RunyardJSONResponse` themselves (non-finite floats become strings), so these models
document the contract without re-validating large payloads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import NotRequired, TypedDict

from ..http.schemas import JsonValue, error_responses

Number = float | int | str | None  # "NaN", "Infinity", "-Infinity" travel as strings
RunState = Literal["running", "finished", "failed", "crashed"]  # queries.runs.RUN_STATES


class ServerInfo(BaseModel):
    version: str
    ingest_address: str = Field(description="host:port of the gRPC ingest service")
    ingest_tls: bool
    needs_setup: bool = Field(description="true until the first admin exists")


class Project(BaseModel):
    entity: str
    name: str
    visibility: str
    description: str
    created_at: str
    updated_at: str
    run_count: int
    last_activity: str


class ProjectList(BaseModel):
    projects: list[Project]


class Run(BaseModel):
    id: str
    entity: str
    project: str
    name: str
    run_number: int
    state: RunState
    config: dict[str, JsonValue]
    summary: dict[str, JsonValue]
    tags: list[str]
    group: str
    job_type: str
    notes: str
    host: str
    created_by: str | None
    created_at: str
    updated_at: str
    heartbeat_at: str | None
    finished_at: str | None
    exit_code: int | None
    error: str


class RunWithKeys(Run):
    history_keys: list[str] = Field(description="keys with numeric points (what charts draw)")
    media_keys: list[str] = Field(default=[], description="keys holding only non-numeric values (media)")


def _partial(model: type[BaseModel], name: str, doc: str, **more: Any) -> Any:
    """A TypedDict of the model's fields and `more`, each optional but `id`: a run with the fields asked for."""
    fields = {n: f.annotation for n, f in model.model_fields.items()} | more
    shape = TypedDict(name, {n: t if n == "id" else NotRequired[t] for n, t in fields.items()})  # type: ignore[misc]
    shape.__doc__ = doc
    return shape


RunFields = _partial(Run, "RunFields", "A run of the runs list: every field of a run, or with `fields=` only "
                     "those asked for (and `id`); `history_keys` only when asked for.", history_keys=list[str])


class SeriesOut(BaseModel):
    step: list[int]
    value: list[Number]
    min: list[Number]
    max: list[Number]
    x: list[Number] = Field(default_factory=list, description="with `x=`: that key's value at each step "
                                                              "(null where absent); left out otherwise")


class HistoryOut(BaseModel):
    series: dict[str, SeriesOut]
    sampled: bool


class FullHistoryOut(BaseModel):
    steps: list[int]
    columns: dict[str, list[JsonValue]]
    next_step: int | None


ERROR_RESPONSES = error_responses(400, 401, 403, 404, 422)
