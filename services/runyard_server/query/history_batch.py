"""Batched chart history: one or more keys of up to 1,000 runs in one request, streamed as it is read.

`POST /api/v1/projects/{entity}/{project}/history` (routes/history_batch.py, docs/api.md) answers
newline-delimited JSON: one line per run, in the order the runs were asked for, as soon as its group of
runs is read and shaped, then a last line saying which runs were not found:

    {"run_id": "a1", "series": {"loss": {"step": [...], "value": [...], "min": [...], "max": [...]}}, "sampled": true}
    {"run_id": "b2", "series": {"loss": {...}}, "sampled": false}
    {"done": true, "runs": 2, "missing": []}

Runs are read in groups (a small first group, so the first lines leave at once); while one group is shaped
and rendered in a worker thread the next group's chunks are already being read. Each series is bucketed
exactly like the one-run history (`downsample.bucket`: last step and value per bucket plus its min/max,
exact points when the window holds `samples` or fewer), every series of a group in one vectorised pass
(batch_shape.py). With `pack` each series travels as base64 little-endian arrays (steps int32 or float64,
values float32, NaN and infinities as they are) instead of JSON lists: a fraction of the CPU on both ends. A failure after the first byte cannot change the
status any more: the stream then ends with `{"error": "...", "code": "unavailable"}` and no `done` line,
so a reader never mistakes a cut answer for a whole one.

This module holds no SQL (queries/history_batch.py) and no HTTP (routes/history_batch.py). Precomputed
levels of detail answer the long series when the window is wide (query/lod.py: the same fields, min/max
exact per bucket); only the other series' chunks are read.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np

from . import lod
from .batch_shape import bucket_all, decode
from .jsonresp import finite_json, float_list
from .queries.history_batch import chunks_of_runs
from .xaxis import x_at_steps

log = logging.getLogger(__name__)

FIRST_GROUP = 16   # runs in the first query: the first lines go out quickly
GROUP = 96         # runs per query after that
_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))


@dataclass(frozen=True)
class BatchQuery:
    keys: list[str]
    samples: int
    min_step: int | None
    max_step: int | None
    x: str | None
    bands: bool
    digits: int | None = None
    pack: bool = False

    @property
    def read_keys(self) -> list[str]:
        """The keys to read: the requested ones and the x key."""
        return self.keys + ([self.x] if self.x and self.x not in self.keys else [])


def groups(items: list[Any]) -> list[list[Any]]:
    """`items` cut into a small first group and then groups of GROUP."""
    out = [items[:FIRST_GROUP]] if items else []
    for i in range(FIRST_GROUP, len(items), GROUP):
        out.append(items[i:i + GROUP])
    return out


def round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    """Each value rounded to `digits` significant digits (non-finite values and zeros kept): an overview chart
    cannot show more, and the shortest repr of a rounded value is a third of an exact one's."""
    out = values.copy()
    ok = np.isfinite(values) & (values != 0)
    if ok.any():
        v = values[ok]
        exp = digits - 1 - np.floor(np.log10(np.abs(v)))
        exact = np.abs(exp) <= 22  # 10**exp is an exact double: the result is the nearest double to the decimal
        up = exact & (exp >= 0)
        down = exact & (exp < 0)
        r = v.copy()
        s_up = np.power(10.0, exp[up])
        r[up] = np.round(v[up] * s_up) / s_up
        s_down = np.power(10.0, -exp[down])
        r[down] = np.round(v[down] / s_down) * s_down
        out[ok] = r
    return out


def render_line(obj: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a non-finite float left somewhere (a JSON x value): the careful path
        text = json.dumps(finite_json(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def _floats(a: np.ndarray, q: BatchQuery) -> Any:
    """Values as the wire carries them: base64 float32 (packed), or a JSON list (rounded with `digits`)."""
    if q.pack:
        return base64.b64encode(a.astype("<f4").tobytes()).decode("ascii")
    return float_list(round_significant(a, q.digits) if q.digits else a)


def _x(xs: tuple[np.ndarray, np.ndarray], steps: np.ndarray, q: BatchQuery) -> Any:
    """The x key's value at each step (null, or NaN when packed, where it has none)."""
    if not q.pack:
        return x_at_steps(xs[0], xs[1], steps)
    out = np.full(steps.size, np.nan)
    if xs[0].size and steps.size:
        idx = np.minimum(np.searchsorted(xs[0], steps), xs[0].size - 1)
        hit = xs[0][idx] == steps
        out[hit] = xs[1][idx[hit]]
    return base64.b64encode(out.astype("<f8").tobytes()).decode("ascii")


_I4 = np.iinfo(np.int32)


def _packed_steps(steps: np.ndarray) -> dict[str, Any]:
    """Steps as base64: int32 when they all fit (4 bytes a step), else float64 (system metrics: unix ms)."""
    small = steps.size == 0 or (int(steps.min()) >= _I4.min and int(steps.max()) <= _I4.max)
    raw = steps.astype("<i4" if small else "<f8").tobytes()
    return {"n": int(steps.size), "step": base64.b64encode(raw).decode("ascii"), "step_type": "i4" if small else "f8"}


@dataclass(frozen=True)
class GroupData:
    rows: list[asyncpg.Record]                       # chunks of the series read exactly
    lods: dict[tuple[int, str], lod.LodSeries]       # (run pk, key) -> series through its levels of detail


async def read_group(conn: asyncpg.Connection, pks: list[int], q: BatchQuery) -> GroupData:
    """The series of a group of runs: long ones through their levels when the window allows, the rest
    as chunks. The x key is read exactly for a run where any of its requested keys is."""
    lods = await lod.read(conn, pks, q.read_keys, q.samples, q.min_step, q.max_step)
    if q.x and lods:
        for pk in pks:
            if (pk, q.x) in lods and any((pk, k) not in lods for k in q.keys):
                del lods[(pk, q.x)]
    rows = await chunks_of_runs(conn, pks, q.read_keys, q.min_step, q.max_step, list(lods))
    return GroupData(rows, lods)


def shape_group(runs: list[tuple[str, int]], data: GroupData | list[asyncpg.Record], q: BatchQuery) -> bytes:
    """The NDJSON lines of one group of runs (CPU only: runs in a worker thread). Every series of the group
    is decoded and bucketed in one vectorised pass (batch_shape.py); only the encoding is per series."""
    if not isinstance(data, GroupData):
        data = GroupData(data, {})
    rows, lods = data.rows, data.lods
    number: dict[tuple[int, str], int] = {}
    chunks: list[tuple[int, bytes, bytes]] = []
    for r in rows:  # ordered by run, key, arrival
        chunks.append((number.setdefault((r["run_id"], r["key"]), len(number)), r["steps"], r["vals"]))
    points = decode(chunks, len(number))
    b = bucket_all(points, q.samples, q.min_step, q.max_step)
    out = []
    for run_id, pk in runs:
        xs = points.of(number[(pk, q.x)]) if q.x and (pk, q.x) in number else None
        if q.x and xs is None and (pk, q.x) in lods:
            xs = (lods[(pk, q.x)].step, lods[(pk, q.x)].value)
        series: dict[str, Any] = {}
        sampled = False
        for key in q.keys:
            ls = lods.get((pk, key))
            if ls is not None:
                series[key] = _lod_series(ls, xs, q)
                sampled = True
                continue
            s = number.get((pk, key))
            lo, hi = (int(b.start[s]), int(b.end[s])) if s is not None else (0, 0)
            steps = b.step[lo:hi]
            value = b.value[lo:hi]
            one: dict[str, Any] = _packed_steps(steps) if q.pack else {"step": steps.tolist()}
            one["value"] = _floats(value, q)
            if q.bands:
                big = s is not None and bool(b.sampled[s])
                one["min"] = _floats(b.min[lo:hi], q) if big else one["value"]
                one["max"] = _floats(b.max[lo:hi], q) if big else one["value"]
            if q.x:
                one["x"] = _x(xs if xs is not None else _EMPTY, steps, q)
            series[key] = one
            sampled = sampled or (s is not None and bool(b.sampled[s]))
        out.append(render_line({"run_id": run_id, "series": series, "sampled": sampled}))
    return b"".join(out)


def _lod_series(ls: lod.LodSeries, xs: tuple[np.ndarray, np.ndarray] | None, q: BatchQuery) -> dict[str, Any]:
    one: dict[str, Any] = _packed_steps(ls.step) if q.pack else {"step": ls.step.tolist()}
    one["value"] = _floats(ls.value, q)
    if q.bands:
        one["min"] = _floats(ls.min, q)
        one["max"] = _floats(ls.max, q)
    if q.x:
        one["x"] = _x(xs if xs is not None else _EMPTY, ls.step, q)
    return one


async def stream_history(
    pool: asyncpg.Pool, runs: list[tuple[str, int]], missing: list[str], q: BatchQuery,
) -> AsyncIterator[bytes]:
    """The NDJSON body. The connection is taken when the first byte is wanted (a stream that never starts
    holds none) and given back when the stream ends, is cut, or the client goes away."""
    parts = groups(runs)
    try:
        async with pool.acquire() as conn:
            def read(group: list[tuple[str, int]]) -> asyncio.Task[GroupData]:
                return asyncio.ensure_future(read_group(conn, [pk for _, pk in group], q))

            pending: asyncio.Task[GroupData] | None = read(parts[0]) if parts else None
            try:
                for i, group in enumerate(parts):
                    assert pending is not None
                    rows = await pending
                    pending = read(parts[i + 1]) if i + 1 < len(parts) else None  # the next group meanwhile
                    yield await asyncio.to_thread(shape_group, group, rows, q)
            finally:
                if pending is not None:  # cut short: the query in flight ends before the connection goes back
                    pending.cancel()
                    await asyncio.gather(pending, return_exceptions=True)
        yield render_line({"done": True, "runs": len(runs), "missing": missing})
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        log.warning("batched history cut after a database error: %s", exc)
        yield render_line({"error": f"the history read failed: {exc}", "code": "unavailable"})
