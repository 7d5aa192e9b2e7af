"""Request and response bodies of the copy-job routes (what the OpenAPI spec and the UI's client show)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RemoteIn(BaseModel):
    name: str = Field(max_length=64, description="a short name: lowercase letters, digits, '_', '.', '-'")
    url: str = Field(max_length=2000, description="the remote instance's base URL, e.g. https://runyard.example")
    api_key: str = Field(max_length=512, description="an API key of a user of the remote; stored encrypted, never shown")


class RemoteOut(BaseModel):
    name: str
    url: str
    key_hint: str = Field(description="the key's first 7 and last 4 characters")
    remote_user: str = Field(description="whose key it is on the remote (its /api/v1/viewer)")
    created_by: str
    created_at: datetime
    checked_at: datetime | None
    check_ok: bool | None
    check_message: str


class RemoteList(BaseModel):
    remotes: list[RemoteOut]


class TransferIn(BaseModel):
    remote: str = Field(max_length=64, description="the name of a registered remote instance")
    run_ids: list[str] | None = Field(default=None, max_length=10_000,
                                      description="copy only these runs of the project; absent: the whole project")
    to_entity: str | None = Field(default=None, max_length=64, description="entity on the remote (default: the same)")
    to_project: str | None = Field(default=None, max_length=128, description="project on the remote (default: the same)")


class JobRunOut(BaseModel):
    run_id: str
    status: str = Field(description="waiting, reading, sending, copied, resumed, up to date, skipped, conflict, failed")
    records_sent: int
    records_total: int
    points: int
    files_sent: int
    detail: str


class JobOut(BaseModel):
    id: int
    state: str = Field(description="queued, running, succeeded, failed or cancelled")
    remote: str
    remote_url: str
    entity: str
    project: str
    run_ids: list[str] | None
    to_entity: str
    to_project: str
    started_by: str
    cancel_requested: bool
    attempts: int
    runs_total: int
    runs_done: int
    runs_failed: int
    artifacts_created: int
    bytes_uploaded: int
    message: str
    summary: list[str]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class JobDetail(JobOut):
    runs: list[JobRunOut]
    log_tail: str


class JobList(BaseModel):
    jobs: list[JobOut]
