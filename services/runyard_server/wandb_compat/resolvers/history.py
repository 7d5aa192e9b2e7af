"""Run history for the public API: full pages, sampled rows, system metrics, history keys, console.

Everything is read from the query service's columnar full-resolution export
(`/history/full?keys=&start_step=&limit=`) and turned back into W&B rows: `{"_step", "_timestamp",
"_runtime", key: value}` (`_runtime` is rebuilt from the run's start; non-finite numbers come back as
floats). System metrics (`system/KEY`, stored on a millisecond time axis) come back as W&B events rows
(`system.KEY`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

from ariadne import ObjectType
from graphql import GraphQLResolveInfo

from ...common.errors import InvalidArgument
from ...common.formats import iso
from .. import translate
from ..context import Ctx, q
from .objects import RunObj, ctx_of, offset_of, page
from .runs import load_run

__all__ = ["bindables"]

run_type = ObjectType("Run")
PAGE_ROWS = 10_000          # rows per request to the query service
MAX_SCAN_ROWS = 2_000_000   # a sampled read looks at most at this many rows
SYSTEM = "system/"


def _start(run: dict[str, Any]) -> float:
    created = run.get("created_at")
    if not created:
        return 0.0
    return dt.datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()


async def _pages(ctx: Ctx, run: RunObj, keys: list[str] | None, start_step: int,
                 stop_step: int | None) -> AsyncIterator[list[tuple[int, dict[str, Any]]]]:
    """Pages of (step, {key: value}) from the query service, steps in [start_step, stop_step)."""
    path = "/api/v1/runs/" + q(run.entity, run.project, run.run_id) + "/history/full"
    step: int | None = start_step
    while step is not None and (stop_step is None or step < stop_step):
        params: list[tuple[str, Any]] = [("start_step", step), ("limit", PAGE_ROWS)]
        if keys:
            params.append(("keys", ",".join(keys)))
        res = await ctx.up.get(ctx.key, path, params=params)
        steps: list[int] = res["steps"]
        columns: dict[str, list[Any]] = res["columns"]
        rows = []
        for i, s in enumerate(steps):
            if stop_step is not None and s >= stop_step:
                step = None
                break
            rows.append((s, {k: col[i] for k, col in columns.items() if col[i] is not None}))
        if rows:
            yield rows
        if step is not None:
            step = res.get("next_step")


def _wandb_row(step: int, values: dict[str, Any], start: float, *, system: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {}
    ts = values.get("_timestamp")
    for key, value in values.items():
        if key == "_timestamp":
            continue
        row[translate.system_key_to_wandb(key) if system else key] = translate.restore_nonfinite(value)
    if system:
        ts = step / 1000.0
    else:
        row["_step"] = step
    if isinstance(ts, (int, float)):
        row["_timestamp"] = ts
        row["_runtime"] = max(0.0, ts - start)
    return row


def _subsample(rows: list[Any], samples: int) -> list[Any]:
    """At most `samples` rows, evenly spread, first and last kept."""
    if samples <= 0:
        return []
    if len(rows) <= samples:
        return rows
    if samples == 1:
        return [rows[-1]]
    step = (len(rows) - 1) / (samples - 1)
    return [rows[round(i * step)] for i in range(samples)]


async def _numeric_keys(info: GraphQLResolveInfo, run: RunObj) -> tuple[list[str], list[str]]:
    """(history keys, system keys) of the run (numeric and media keys; `_timestamp` left out)."""
    data = await load_run(info, run)
    keys = sorted(set(data.get("history_keys") or []) | set(data.get("media_keys") or []))
    plain = [k for k in keys if k != "_timestamp" and not k.startswith(SYSTEM)]
    system = [k for k in keys if k.startswith(SYSTEM)]
    return plain, system


@run_type.field("history")
async def resolve_history(run: RunObj, info: GraphQLResolveInfo, samples: int | None = None,
                          minStep: int | None = None, maxStep: int | None = None) -> list[str]:  # noqa: N803
    """Rows as JSON lines: all rows with minStep <= step < maxStep when a range is given (the client's
    full scan pages), else at most `samples` (default 500) rows spread over the run."""
    ctx = ctx_of(info)
    data = await load_run(info, run)
    start = _start(data)
    plain, _ = await _numeric_keys(info, run)
    if not plain:
        return []
    limit = samples if samples is not None else 500
    lo = max(0, minStep or 0)
    out: list[dict[str, Any]] = []
    scanned = 0
    async for rows in _pages(ctx, run, ["_timestamp", *plain], lo, maxStep):
        out.extend(_wandb_row(s, v, start) for s, v in rows)
        scanned += len(rows)
        if minStep is None and maxStep is None and len(out) > 4 * max(limit, 1):
            out = _subsample(out, 2 * max(limit, 1))  # keep memory bounded on long runs
        if scanned >= MAX_SCAN_ROWS:
            break
    if minStep is None and maxStep is None:
        out = _subsample(out, limit)
    elif samples is not None and len(out) > samples:
        out = out[:samples]
    return [json.dumps(r) for r in out]


@run_type.field("sampledHistory")
async def resolve_sampled_history(run: RunObj, info: GraphQLResolveInfo, specs: list[str]) -> list[list[Any]]:
    """One list of rows per spec `{"keys": [...], "samples": N, "minStep"?, "maxStep"? (inclusive)}`: the
    rows holding every requested key, with those keys and `_step`."""
    ctx = ctx_of(info)
    data = await load_run(info, run)
    start = _start(data)
    out: list[list[Any]] = []
    for raw in specs:
        try:
            spec = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise InvalidArgument("sampledHistory: a spec is not valid JSON") from None
        keys = [str(k) for k in spec.get("keys") or []]
        samples = int(spec.get("samples") or 500)
        lo = int(spec.get("minStep") or 0)
        hi = spec.get("maxStep")
        stop = int(hi) + 1 if hi is not None else None
        stored = [k for k in keys if k not in ("_step", "_runtime")]
        wanted_ts = "_timestamp" in keys or "_runtime" in keys
        fetch = sorted(set(stored) | {"_timestamp"}) if (stored or wanted_ts) else ["_timestamp"]
        rows: list[dict[str, Any]] = []
        async for chunk in _pages(ctx, run, fetch, lo, stop):
            for s, values in chunk:
                full = _wandb_row(s, values, start)
                if all(k in full for k in keys):
                    # `_step` comes with every row, asked for or not (older clients rely on it)
                    rows.append({"_step": s, **{k: full[k] for k in keys}})
            if len(rows) > 4 * samples and hi is None:
                rows = _subsample(rows, 2 * samples)
        out.append(_subsample(rows, samples) if hi is None else rows[:samples])
    return out


@run_type.field("events")
async def resolve_events(run: RunObj, info: GraphQLResolveInfo, samples: int | None = None) -> list[str]:
    """System-metrics rows (`system.cpu`, ..., `_timestamp`, `_runtime`) as JSON lines."""
    ctx = ctx_of(info)
    data = await load_run(info, run)
    start = _start(data)
    _, system = await _numeric_keys(info, run)
    if not system:
        return []
    rows: list[dict[str, Any]] = []
    async for chunk in _pages(ctx, run, system, 0, None):
        rows.extend(_wandb_row(s, v, start, system=True) for s, v in chunk)
    return [json.dumps(r) for r in _subsample(rows, samples or 500)]


@run_type.field("historyKeys")
async def resolve_history_keys(run: RunObj, info: GraphQLResolveInfo, format: str | None = None) -> Any:
    """`{"lastStep": N, "keys": {key: {"typeCounts": [{"type", "count"}]}}}` (counts are not kept: 1)."""
    ctx = ctx_of(info)
    data = await load_run(info, run)
    numeric = [k for k in data.get("history_keys") or [] if not k.startswith(SYSTEM)]
    media = list(data.get("media_keys") or [])
    last = -1
    if "_timestamp" in numeric:
        # one bucket over the whole run: its step is the last step logged
        res = await ctx.up.get(ctx.key, "/api/v1/runs/" + q(run.entity, run.project, run.run_id) + "/history",
                               params={"keys": "_timestamp", "samples": 1})
        steps = res["series"].get("_timestamp", {}).get("step") or []
        last = int(steps[-1]) if steps else -1
    keys: dict[str, Any] = {k: {"typeCounts": [{"type": "number", "count": 1}]} for k in numeric if k != "_timestamp"}
    keys.update({k: {"typeCounts": [{"type": "object", "count": 1}]} for k in media})
    if format == "PLAINTEXT":
        return json.dumps({"lastStep": last, "keys": keys})
    return {"lastStep": last, "keys": keys}


@run_type.field("parquetHistory")
def resolve_parquet_history(*_: Any, **__: Any) -> dict[str, Any]:
    # No parquet exports: every row is "live", and the client reads it page by page through `history`.
    return {"parquetUrls": [], "liveData": []}


@run_type.field("logLines")
async def resolve_log_lines(run: RunObj, info: GraphQLResolveInfo, first: int | None = None, after: str | None = None,
                            last: int | None = None, **_: Any) -> dict[str, Any]:
    ctx = ctx_of(info)
    path = "/api/v1/runs/" + q(run.entity, run.project, run.run_id) + "/output"
    if last is not None:
        res = await ctx.up.get(ctx.key, path, params={"limit": max(1, min(last, 10_000)), "tail": "true"})
    else:
        res = await ctx.up.get(ctx.key, path, params={"limit": max(1, min(first or 1000, 10_000)),
                                                       "after": offset_of(after) - 1})
    lines = [{
        "id": str(ln["line_no"]), "number": ln["line_no"],
        "timestamp": iso(dt.datetime.fromtimestamp(ln["ts"], dt.timezone.utc)),
        "level": "error" if ln["stream"] == "stderr" else "info", "label": None, "line": ln["line"],
    } for ln in res["lines"]]
    total = int(res["total"])
    conn = page(lines, total, lines[0]["number"] if lines else 0, len(lines) or 1)
    for edge, ln in zip(conn["edges"], lines):
        edge["cursor"] = str(ln["number"] + 1)
    if lines:
        conn["pageInfo"]["endCursor"] = str(lines[-1]["number"] + 1)
        conn["pageInfo"]["hasNextPage"] = lines[-1]["number"] + 1 < total
    return conn


@run_type.field("systemMetrics")
async def resolve_system_metrics(run: RunObj, info: GraphQLResolveInfo) -> str:
    """The latest value of each system metric."""
    ctx = ctx_of(info)
    _, system = await _numeric_keys(info, run)
    if not system:
        return "{}"
    res = await ctx.up.get(ctx.key, "/api/v1/runs/" + q(run.entity, run.project, run.run_id) + "/history",
                           params={"keys": ",".join(system), "samples": 1})
    out: dict[str, Any] = {}
    for key, series in res["series"].items():
        values = series.get("value") or []
        if values:
            out[translate.system_key_to_wandb(key)] = translate.restore_nonfinite(values[-1])
    return json.dumps(out)


bindables = [run_type]
