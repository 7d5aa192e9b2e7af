"""Edits of a run outside its ingest stream: `PATCH /api/v1/runs/{entity}/{project}/{run_id}` (name, notes,
tags, group, job type, config and summary merges and removals) and `DELETE` of a run.

Why not through ingest: an edit sent as records would take sequence numbers that the live process is about
to use, and the server would then ignore that process' own records as replays. Here the edit is one
UPDATE of the run row under its row lock (the same lock ingest takes for each batch), so it is ordered
with the live batches, moves neither `last_seq` nor the state nor the heartbeat, and loses neither side's
data. Writers of the project may edit (viewers 403; a project the caller may not read is 404). Values
follow ingest's limits (key length, JSON value size) plus the text limits below; non-finite floats are
stored as the strings "NaN", "Infinity", "-Infinity" (docs/api.md). The SDK's `Api` and the web UI use
this route (docs/api.md, "Editing and deleting runs").
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from ...common.errors import FailedPrecondition, InvalidArgument, NotFound
from ...common.verifier import project_for_write
from ...http.schemas import error_responses
from ..deps import PoolDep, PrincipalDep, SettingsDep
from ..jsonresp import RunyardJSONResponse
from ..queries import run_edit as q
from ..queries.runs import get_run
from ..schemas import Run
from ..serialize import run_json

router = APIRouter(tags=["runs"], responses=error_responses(400, 401, 403, 404, 409, 422))

MAX_NAME = 256
MAX_NOTES = 65_536
MAX_TAGS = 256
MAX_TAG = 128
MAX_KEYS = 10_000  # config or summary keys set or removed by one request


class RunPatch(BaseModel):
    """Fields to change; every one may be left out. `config`/`summary` merge at the top level (a key set
    to a value replaces it); `*_remove` deletes keys; `tags` replaces the tags, `add_tags`/`remove_tags`
    change them one by one."""

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    notes: str | None = Field(default=None, max_length=MAX_NOTES)
    group: str | None = Field(default=None, max_length=MAX_NAME)
    job_type: str | None = Field(default=None, max_length=MAX_NAME)
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    add_tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    remove_tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    config: dict[str, Any] | None = None
    config_remove: list[str] | None = Field(default=None, max_length=MAX_KEYS)
    summary: dict[str, Any] | None = None
    summary_remove: list[str] | None = Field(default=None, max_length=MAX_KEYS)


def _nonfinite_to_text(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _nonfinite_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nonfinite_to_text(v) for v in value]
    return value


def _check_tags(tags: list[str] | None, what: str) -> list[str] | None:
    if tags is None:
        return None
    out: list[str] = []
    for t in tags:
        if not t.strip() or len(t) > MAX_TAG:
            raise InvalidArgument(f"{what}: a tag must be 1-{MAX_TAG} characters, got {t[:40]!r}")
        if t not in out:
            out.append(t)
    return out


def _check_values(values: dict[str, Any] | None, removed: list[str] | None, what: str, max_key: int,
                  max_value: int) -> tuple[dict[str, Any], list[str]]:
    values = values or {}
    removed = list(dict.fromkeys(removed or []))
    if len(values) > MAX_KEYS:
        raise InvalidArgument(f"{what}: at most {MAX_KEYS} keys per request, got {len(values)}")
    for key in [*values, *removed]:
        if not key or len(key) > max_key:
            raise InvalidArgument(f"{what}: a key must be 1-{max_key} characters, got {key[:40]!r}")
    both = set(values) & set(removed)
    if both:
        raise InvalidArgument(f"{what}: {sorted(both)[0]!r} is both set and removed")
    clean = {}
    for key, value in values.items():
        value = _nonfinite_to_text(value)
        size = len(json.dumps(value, ensure_ascii=False))
        if size > max_value:
            raise InvalidArgument(f"{what}: the value of {key[:40]!r} is {size} bytes of JSON; the limit is {max_value}")
        clean[key] = value
    return clean, removed


@router.patch("/api/v1/runs/{entity}/{project}/{run_id}", response_model=Run)
async def patch_run(entity: str, project: str, run_id: str, body: RunPatch, who: PrincipalDep, pool: PoolDep,
                    settings: SettingsDep) -> RunyardJSONResponse:
    """Change a run's name, notes, tags, group, job type, config or summary (writers; viewers 403). Who may
    write is settled before the body is looked at: a run the caller may not see answers 404 whatever it sent."""
    async with pool.acquire() as conn, conn.transaction():
        p = await project_for_write(conn, who, entity, project)  # first: nobody learns anything of others'
        current = await q.lock_run(conn, p["id"], run_id)
        if current is None:
            raise NotFound(f"run {entity}/{project}/{run_id} not found")
        config, config_remove = _check_values(body.config, body.config_remove, "config", settings.max_key_length,
                                              settings.max_json_value_bytes)
        summary, summary_remove = _check_values(body.summary, body.summary_remove, "summary", settings.max_key_length,
                                                settings.max_json_value_bytes)
        tags = _check_tags(body.tags, "tags")
        add_tags = _check_tags(body.add_tags, "add_tags") or []
        remove_tags = _check_tags(body.remove_tags, "remove_tags") or []
        if tags is not None and (add_tags or remove_tags):
            raise InvalidArgument("send either tags (the new list) or add_tags/remove_tags, not both")
        fields = {k: v for k, v in (("name", body.name), ("notes", body.notes), ("group_name", body.group),
                                    ("job_type", body.job_type)) if v is not None}
        if not (fields or tags is not None or add_tags or remove_tags or config or config_remove or summary
                or summary_remove):
            raise InvalidArgument("nothing to change: send name, notes, tags, add_tags, remove_tags, group, job_type, "
                                  "config, config_remove, summary or summary_remove")
        if tags is None and (add_tags or remove_tags):
            tags = [t for t in current["tags"] if t not in remove_tags]
            tags += [t for t in add_tags if t not in tags]
        if tags is not None and len(tags) > MAX_TAGS:
            raise InvalidArgument(f"tags: at most {MAX_TAGS} tags")
        await q.update_run(conn, current["id"], fields=fields, tags=tags, config_set=config,
                           config_remove=config_remove, summary_set=summary, summary_remove=summary_remove)
        row = await get_run(conn, p["id"], run_id)
    assert row is not None
    return RunyardJSONResponse(run_json(row, p["entity"], p["name"]))


@router.delete("/api/v1/runs/{entity}/{project}/{run_id}", status_code=204)
async def delete_run(
    entity: str, project: str, run_id: str, who: PrincipalDep, pool: PoolDep,
    force: Annotated[bool, Query(description="also delete a run whose state is running")] = False,
) -> Response:
    """Delete a run with its history, console output, files list and alerts (writers; viewers 403). The
    bytes of its files are removed by `runyard-server gc` once nothing else refers to them. A running run
    is refused (409) unless `force=true`: a live process that logs again would create it anew."""
    async with pool.acquire() as conn, conn.transaction():
        p = await project_for_write(conn, who, entity, project)
        current = await q.lock_run(conn, p["id"], run_id)
        if current is None:
            raise NotFound(f"run {entity}/{project}/{run_id} not found")
        if current["state"] == "running" and not force:
            raise FailedPrecondition(f"run {entity}/{project}/{run_id} is running; stop it first, or delete it "
                                     "with force=true (a process still logging to it would create it again)")
        await q.delete_run(conn, current["id"])
    return Response(status_code=204)
