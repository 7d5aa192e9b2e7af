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
exact points when the window holds `samples` or fewer). A failure after the first byte cannot change the
status any more: the stream then ends with `{"error": "...", "code": "unavailable"}` and no `done` line,
so a reader never mistakes a cut answer for a whole one.

This module holds no SQL (queries/history_batch.py) and no HTTP (routes/history_batch.py). Precomputed
levels of detail can replace `_series` without changing the wire format.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np

from ..common import history_codec
from .downsample import bucket, window
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


def _series(steps: np.ndarray, vals: np.ndarray, q: BatchQuery,
            xs: tuple[np.ndarray, np.ndarray] | None) -> tuple[dict[str, Any], bool]:
    b = bucket(*window(steps, vals, q.min_step, q.max_step), q.samples)
    r = (lambda a: round_significant(a, q.digits)) if q.digits else (lambda a: a)
    out: dict[str, Any] = {"step": b.step.tolist(), "value": float_list(r(b.value))}
    if q.bands:
        out["min"] = float_list(r(b.min)) if b.sampled else out["value"]
        out["max"] = float_list(r(b.max)) if b.sampled else out["value"]
    if xs is not None:
        out["x"] = x_at_steps(xs[0], xs[1], b.step)
    return out, b.sampled


def render_line(obj: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a non-finite float left somewhere (a JSON x value): the careful path
        text = json.dumps(finite_json(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def shape_group(runs: list[tuple[str, int]], rows: list[asyncpg.Record], q: BatchQuery) -> bytes:
    """The NDJSON lines of one group of runs (CPU only: runs in a worker thread)."""
    chunks: dict[int, dict[str, list[tuple[bytes, bytes]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        chunks[r["run_id"]][r["key"]].append((r["steps"], r["vals"]))
    out = []
    for run_id, pk in runs:
        mine = chunks.get(pk, {})
        decoded = {k: history_codec.merge(c) for k, c in mine.items()}
        xs = decoded.get(q.x, _EMPTY) if q.x else None
        series: dict[str, Any] = {}
        sampled = False
        for key in q.keys:
            steps, vals = decoded.get(key, _EMPTY)
            series[key], s = _series(steps, vals, q, xs)
            sampled = sampled or s
        out.append(render_line({"run_id": run_id, "series": series, "sampled": sampled}))
    return b"".join(out)


async def stream_history(
    pool: asyncpg.Pool, runs: list[tuple[str, int]], missing: list[str], q: BatchQuery,
) -> AsyncIterator[bytes]:
    """The NDJSON body. The connection is taken when the first byte is wanted (a stream that never starts
    holds none) and given back when the stream ends, is cut, or the client goes away."""
    parts = groups(runs)
    keys = q.read_keys
    try:
        async with pool.acquire() as conn:
            def read(group: list[tuple[str, int]]) -> asyncio.Task[list[asyncpg.Record]]:
                return asyncio.ensure_future(
                    chunks_of_runs(conn, [pk for _, pk in group], keys, q.min_step, q.max_step))

            pending: asyncio.Task[list[asyncpg.Record]] | None = read(parts[0]) if parts else None
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
