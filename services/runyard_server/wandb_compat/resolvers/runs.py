"""Runs: reading them (the query service) and creating, resuming and editing them (ingest).

`upsertBucket` opens the run on an ingest stream: a new run is created with its config, tags, notes,
group and job type; for an existing run the given fields travel as ordinary records (ConfigUpdate,
RunUpdate, SummaryUpdate), unsequenced: an edit is idempotent, and the client's file stream writes the
same run at the same time (filestream.py explains the sequence numbers).
"""

from __future__ import annotations

import json
import time
from typing import Any

from ariadne import MutationType, ObjectType
from graphql import GraphQLResolveInfo

from runyard_proto.v1 import ingest_pb2 as pb

from ...common.errors import InvalidArgument, NotFound, RunyardError
from .. import filestream, filters, ids, translate
from ..context import q
from .core import DEFAULT_PROJECT, _user
from .objects import ProjectObj, ResumeInfo, RunObj, ctx_of, offset_of, page

__all__ = ["bindables", "load_run"]

mutation = MutationType()
project_type = ObjectType("Project")
run_type = ObjectType("Run")

# config keys the client keeps for itself (telemetry, metric definitions): stored, never removed by an edit
_INTERNAL_CONFIG = ("_wandb", "_runyard", "wandb_version")


async def load_run(info: GraphQLResolveInfo, run: RunObj) -> dict[str, Any]:
    if run.data is None:
        data = await ctx_of(info).run(run.entity, run.project, run.run_id)
        if data is None:
            raise NotFound(f"run {run.entity}/{run.project}/{run.run_id} not found")
        run.data = data
    return run.data


# ---- Project.run / bucket / runs ---------------------------------------------------------------------

@project_type.field("run")
async def resolve_run(project: ProjectObj, info: GraphQLResolveInfo, name: str) -> RunObj | None:
    data = await ctx_of(info).run(project.entity, project.name, name)
    return None if data is None else RunObj(project.entity, project.name, name, data)


@project_type.field("bucket")
async def resolve_bucket(project: ProjectObj, info: GraphQLResolveInfo, name: str,
                         missingOk: bool | None = None) -> RunObj | None:  # noqa: N803
    """The run as a resuming client sees it (RunResumeStatus): also where its streams stand.

    The stream state comes from ingest (the highest sequence it holds), which a resuming client is
    about to write to anyway, so this needs write access to the run's entity, like resuming."""
    ctx = ctx_of(info)
    data = await ctx.run(project.entity, project.name, name)
    if data is None:
        return None
    try:
        opened = (await ctx.up.write(ctx.key, pb.OpenRun(
            entity=project.entity, project=project.name, run_id=name, resume="must"))).opened
    except NotFound:
        return None
    out = await ctx.up.get(ctx.key, "/api/v1/runs/" + q(project.entity, project.name, name) + "/output",
                           params={"limit": 1, "tail": "true"})
    channels = dict(opened.channel_seqs)
    resume = ResumeInfo(int(channels.get(filestream.HISTORY_CHANNEL, 0)),
                        int(channels.get(filestream.EVENTS_CHANNEL, 0)), int(opened.next_step),
                        int(out.get("total", 0)))
    return RunObj(project.entity, project.name, name, data, resume)


def _runs_params(filters_raw: Any, order: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"order": filters.to_order(order)}
    expr = filters.to_filter(filters_raw)
    if expr:
        params["filter"] = expr
    return params


@project_type.field("runCount")
async def resolve_run_count(project: ProjectObj, info: GraphQLResolveInfo, filters: Any = None) -> int:
    ctx = ctx_of(info)
    params = _runs_params(filters, None)
    params.update(limit=1, fields="id")
    res = await ctx.up.get(ctx.key, "/api/v1/projects/" + q(project.entity, project.name) + "/runs", params=params)
    return int(res["total"])


@project_type.field("runs")
async def resolve_runs(project: ProjectObj, info: GraphQLResolveInfo, filters: Any = None, after: str | None = None,
                       first: int | None = None, order: str | None = None) -> dict[str, Any]:
    ctx = ctx_of(info)
    start, limit = offset_of(after), min(max(1, first or 50), 1000)
    params = _runs_params(filters, order)
    params.update(limit=limit, offset=start)
    res = await ctx.up.get(ctx.key, "/api/v1/projects/" + q(project.entity, project.name) + "/runs", params=params)
    items = [RunObj(project.entity, project.name, r["id"], r) for r in res["runs"]]
    return page(items, int(res["total"]), start, limit)


# ---- Run fields --------------------------------------------------------------------------------------

def _run_field(name: str, fn: Any, *, needs_data: bool = True) -> None:
    async def resolve(run: RunObj, info: GraphQLResolveInfo, **_: Any) -> Any:
        if needs_data:
            await load_run(info, run)
        return fn(run)

    run_type.set_field(name, resolve)


def _d(run: RunObj) -> dict[str, Any]:
    assert run.data is not None
    return run.data


def _summary(run: RunObj) -> dict[str, Any]:
    return translate.restore_nonfinite(_d(run).get("summary") or {})  # type: ignore[no-any-return]


def _config(run: RunObj) -> dict[str, Any]:
    return translate.restore_nonfinite(_d(run).get("config") or {})  # type: ignore[no-any-return]


def _history_line_count(run: RunObj) -> int | None:
    if run.resume is not None:
        return resume_counts(run.resume)[0]
    if run.upserted:
        # Not told after an upsert: a resuming client has its counts from RunResumeStatus already, and a
        # client syncing a run again then resends from offset 0, which ingest skips. (wandb 0.22 would
        # also drop its console offset when given a count here, and rewrite the first console lines.)
        return None
    step = _summary(run).get("_step")
    return step + 1 if isinstance(step, int) and not isinstance(step, bool) else None


def resume_counts(r: ResumeInfo) -> tuple[int, int, int]:
    """(historyLineCount, eventsLineCount, logLineCount) told to a resuming client.

    Its later file_stream offsets continue from these, and the history and events channels skip what
    they already hold (filestream.py). A run with history rows but none from the file stream (logged by
    the Runyard SDK) counts one line, so the client continues after the last step instead of on it."""
    history = r.history_lines if r.history_lines > 0 else (1 if r.next_step > 0 else 0)
    return history, r.events_lines, r.output_lines


_run_field("id", lambda r: ids.run_id(r.entity, r.project, r.run_id), needs_data=False)
_run_field("name", lambda r: r.run_id, needs_data=False)
_run_field("projectId", lambda r: ids.project_number(r.entity, r.project), needs_data=False)
_run_field("project", lambda r: ProjectObj(r.entity, r.project), needs_data=False)
_run_field("displayName", lambda r: _d(r).get("name"))
_run_field("description", lambda r: _d(r).get("notes") or "")
_run_field("notes", lambda r: _d(r).get("notes") or "")
_run_field("tags", lambda r: list(_d(r).get("tags") or []))
_run_field("state", lambda r: _d(r).get("state"))
_run_field("config", lambda r: json.dumps(translate.config_to_wandb(_config(r))))
_run_field("group", lambda r: _d(r).get("group") or None)
_run_field("groupName", lambda r: _d(r).get("group") or None)
_run_field("jobType", lambda r: _d(r).get("job_type") or None)
_run_field("host", lambda r: _d(r).get("host") or None)
_run_field("commit", lambda r: None, needs_data=False)
_run_field("readOnly", lambda r: False, needs_data=False)
_run_field("createdAt", lambda r: _d(r).get("created_at"))
_run_field("updatedAt", lambda r: _d(r).get("updated_at"))
_run_field("heartbeatAt", lambda r: _d(r).get("heartbeat_at"))
_run_field("exitcode", lambda r: _d(r).get("exit_code"))
_run_field("stopped", lambda r: False, needs_data=False)
_run_field("sweepName", lambda r: None, needs_data=False)
_run_field("sweep", lambda r: None, needs_data=False)
_run_field("benchmarkRun", lambda r: None, needs_data=False)
_run_field("runInfo", lambda r: None, needs_data=False)
_run_field("user", lambda r: _user(_d(r)["created_by"]) if _d(r).get("created_by") else None)
_run_field("summaryMetrics", lambda r: json.dumps(_summary(r)))
_run_field("historyLineCount", _history_line_count)
_run_field("eventsLineCount", lambda r: resume_counts(r.resume)[1] if r.resume else None)
_run_field("logLineCount", lambda r: resume_counts(r.resume)[2] if r.resume else None)
_run_field("eventsTail", lambda r: "[]", needs_data=False)


@run_type.field("computeSeconds")
async def resolve_compute_seconds(run: RunObj, info: GraphQLResolveInfo) -> float | None:
    await load_run(info, run)
    own = _summary(run).get("_wandb")
    runtime = own.get("runtime") if isinstance(own, dict) else None
    return float(runtime) if isinstance(runtime, (int, float)) else None


@run_type.field("wandbConfig")
async def resolve_wandb_config(run: RunObj, info: GraphQLResolveInfo, keys: list[str] | None = None) -> str:
    """The client's own config section (`_wandb`); `t` is always present for an existing run, so a
    resuming client sees that the run started (a run logged by the Runyard SDK has none of its own)."""
    await load_run(info, run)
    own = _config(run).get("_wandb")
    own = dict(own) if isinstance(own, dict) else {}
    own.setdefault("t", {})
    if keys:
        own = {k: v for k, v in own.items() if k in keys}
    return json.dumps(own)


@run_type.field("historyTail")
async def resolve_history_tail(run: RunObj, info: GraphQLResolveInfo) -> str:
    """The last history row, as much as a resuming client needs of it: its `_step` (and `_runtime`)."""
    await load_run(info, run)
    summary = _summary(run)
    last = run.resume.next_step - 1 if run.resume else summary.get("_step")
    if not isinstance(last, int) or last < 0:
        return "[]"
    row: dict[str, Any] = {"_step": last}
    runtime = summary.get("_runtime")
    if isinstance(runtime, (int, float)):
        row["_runtime"] = runtime
    return json.dumps([json.dumps(row)])


# ---- upsertBucket ------------------------------------------------------------------------------------

def _opt(inp: dict[str, Any], *names: str) -> Any:
    for name in names:
        if inp.get(name) is not None:
            return inp[name]
    return None


@mutation.field("upsertBucket")
async def resolve_upsert_bucket(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    ctx = ctx_of(info)
    entity, project, run_id = input.get("entityName") or "", input.get("modelName") or "", input.get("name") or ""
    if input.get("id"):
        e, p, r = ids.parse_run_id(input["id"])
        entity, project, run_id = entity or e, project or p, run_id or r
    if not run_id:
        raise InvalidArgument("upsertBucket: name (the run id) is required")
    if input.get("sweep"):
        raise InvalidArgument("this Runyard server does not run W&B sweeps (upsertBucket.sweep)")
    if input.get("state") not in (None, "", "running"):
        raise InvalidArgument(f"Runyard runs have no state {input['state']!r} to set: a run is running while it "
                              "logs and ends finished or failed with its exit code")
    project = project or DEFAULT_PROJECT
    notes = _opt(input, "notes", "description")
    config = translate.unwrap_config(input["config"]) if input.get("config") is not None else None
    own = config.get("_wandb") if config else None
    metrics = translate.runyard_metrics(own.get("m")) if isinstance(own, dict) else None
    if config is not None and metrics:
        config["_runyard"] = {"metrics": metrics}  # define_metric, where Runyard's UI looks for it
    summary = None
    if input.get("summaryMetrics") is not None:
        summary = translate.loads(input["summaryMetrics"])
        if not isinstance(summary, dict):
            raise InvalidArgument("upsertBucket.summaryMetrics must be a JSON object")
    tags = input.get("tags")

    before = None
    if config is not None or summary is not None:
        # the client sends the whole config (or summary): keys it no longer holds are removed
        before = await ctx.run(await ctx.entity_or_default(entity), project, run_id)
    open_run = pb.OpenRun(
        entity=entity, project=project, run_id=run_id, resume="allow",
        name=input.get("displayName") or "", config_json=translate.dumps(config or {}),
        tags=list(tags or []), group=input.get("groupName") or "", job_type=input.get("jobType") or "",
        notes=notes or "", host=input.get("host") or "", start_time=time.time(),
    )

    def build(opened: pb.RunOpened) -> list[pb.Record]:
        records: list[pb.Record] = []
        if opened.resumed:
            upd = pb.RunUpdate()
            changed = False
            for field, value in (("name", input.get("displayName")), ("notes", notes),
                                 ("group", input.get("groupName")), ("job_type", input.get("jobType"))):
                if value is not None:
                    setattr(upd, field, value)
                    changed = True
            if tags is not None:
                upd.set_tags = True
                upd.tags.extend(tags)
                changed = True
            if changed:
                records.append(pb.Record(update=upd))
            if config is not None:
                old = set((before or {}).get("config") or {})
                gone = sorted(k for k in old - set(config) if k not in _INTERNAL_CONFIG)
                records.append(pb.Record(config=pb.ConfigUpdate(set_json=translate.dumps(config), remove=gone)))
        if summary is not None:
            old = set((before or {}).get("summary") or {}) if opened.resumed else set()
            gone = sorted(old - set(summary))
            records.append(pb.Record(summary=pb.SummaryUpdate(set_json=translate.dumps(summary), remove=gone)))
        # unsequenced (filestream.UNSEQUENCED): edits are idempotent (ingest allows seq 0 for exactly these
        # kinds), and the client's file stream writes the same run at the same time, so they must not take
        # sequence numbers from it
        return records

    written = await ctx.up.write(ctx.key, open_run, build)
    opened = written.opened
    if written.rejected:
        # the other fields were stored; what was refused is named, never silently dropped
        raise InvalidArgument("; ".join(written.rejected))
    ctx.forget_run(opened.entity, opened.project, opened.run_id)
    run = RunObj(opened.entity, opened.project, opened.run_id, upserted=True)
    return {"bucket": run, "inserted": not opened.resumed, "updateAvailable": False,
            "serverSettings": {"serverMessages": []}}


@mutation.field("stopRun")
async def resolve_stop_run(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    entity, project, run_id = ids.parse_run_id(str(input["id"]))
    if await ctx_of(info).run(entity, project, run_id) is None:
        raise NotFound(f"run {entity}/{project}/{run_id} not found")
    raise RunyardError(
        "Runyard cannot stop a run from the server: stop the script itself (its run then ends as usual)"
    )


bindables = [mutation, project_type, run_type]
