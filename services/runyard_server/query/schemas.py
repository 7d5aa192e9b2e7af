"""Response shapes of the query service, for the OpenAPI spec.

Handlers return `RunyardJSONResponse` themselves (non-finite floats become strings), so these models
document the contract without re-validating large payloads.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..http.schemas import error_responses

Number = float | int | str | None  # "NaN", "Infinity", "-Infinity" travel as strings


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
    state: str
    config: dict[str, Any]
    summary: dict[str, Any]
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
    history_keys: list[str]
    media_keys: list[str] = []




class SeriesOut(BaseModel):
    step: list[int]
    value: list[Number]
    min: list[Number]
    max: list[Number]


class HistoryOut(BaseModel):
    series: dict[str, SeriesOut]
    sampled: bool


class FullHistoryOut(BaseModel):
    steps: list[int]
    columns: dict[str, list[Any]]
    next_step: int | None


ERROR_RESPONSES = error_responses(400, 401, 403, 404, 422)
