"""Chart reads through the levels of detail of long series (common/history_lod.py): no HTTP.

`read` answers, for the (run, key) series that have levels, a downsampled series of at most `samples`
buckets over the window, when the window spans at least `samples` buckets of the finest level; every other
series is left to the exact path (the caller reads chunks as before). The level used is the coarsest one
that still has `samples` buckets in the window, so an overview of a 1,000,000-step series reads about
4,000 stored buckets instead of 1,000,000 points, and a zoom narrow enough reads exact points.

Each answered bucket is a run of whole level buckets: its min and max are exactly the min and max of the
points inside it (NaN ignored), its step and value are its last point. Where a level bucket is not wholly
inside the window (the window's edges) or holds points written after the last compaction (a live run),
that bucket is computed from exact points instead, so the answer is always current and never shows a
point outside the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import numpy as np

from ..common import history_codec, history_lod
from .queries.lod import chunks_in_ranges, lod_segments, lod_states


@dataclass(frozen=True)
class LodSeries:
    step: np.ndarray   # int64
    value: np.ndarray  # float64
    min: np.ndarray
    max: np.ndarray
    level: int
    width: int


@dataclass
class _Plan:
    run: int
    key: str
    key_id: int
    level: int
    width: int
    lo: int          # the window, clipped to the series
    hi: int
    first: int       # the series' first and last step
    last: int
    dirty_from: int | None  # first bucket holding points the level does not cover


def choose_level(span: int, samples: int) -> int | None:
    """The coarsest level with at least `samples` buckets over `span` steps; None: read exactly."""
    best = None
    for level, width in enumerate(history_lod.WIDTHS):
        if span // width >= samples:
            best = level
    return best


async def read(
    conn: asyncpg.Connection, pks: list[int], keys: list[str], samples: int, lo: int | None, hi: int | None,
) -> dict[tuple[int, str], LodSeries]:
    """(run pk, key) -> its series through the levels, for the series they can answer (see module doc)."""
    if not pks or not keys or samples < 1:
        return {}
    plans: list[_Plan] = []
    for s in await lod_states(conn, pks, keys):
        first, last = int(s["min_step"]), int(s["max_step"])
        if s["new_lo"] is not None:
            first, last = min(first, int(s["new_lo"])), max(last, int(s["new_hi"]))
        wlo = first if lo is None else max(lo, first)
        whi = last if hi is None else min(hi, last)
        if wlo > whi:
            continue
        level = choose_level(whi - wlo + 1, samples)
        if level is None:
            continue
        width = history_lod.WIDTHS[level]
        dirty = None if s["new_lo"] is None else int(s["new_lo"]) // width
        plans.append(_Plan(int(s["run_id"]), str(s["key"]), int(s["key_id"]), level, width, wlo, whi, first, last,
                           dirty))
    if not plans:
        return {}
    seg = history_lod.SEGMENT
    rows = await lod_segments(
        conn, [p.run for p in plans], [p.key_id for p in plans], [p.level for p in plans],
        [p.lo // p.width // seg for p in plans], [p.hi // p.width // seg for p in plans])
    stored: dict[int, list[bytes]] = {}
    for r in rows:
        stored.setdefault(int(r["i"]) - 1, []).append(r["data"])
    out: dict[tuple[int, str], LodSeries] = {}
    for i, p in enumerate(plans):
        parts = [history_lod.decode(b) for b in stored.get(i, [])]
        buckets = np.concatenate(parts) if parts else np.empty(0, history_lod.DTYPE)
        b_first, b_last = p.lo // p.width, p.hi // p.width
        buckets = buckets[(buckets["b"] >= b_first) & (buckets["b"] <= b_last)]
        exact = await _exact_buckets(conn, p, b_first, b_last)
        if exact is not None:
            replaced, fresh = exact
            buckets = np.concatenate((buckets[~np.isin(buckets["b"], replaced)], fresh))
            buckets = buckets[np.argsort(buckets["b"], kind="stable")]
        step, value, mins, maxs = history_lod.regroup(buckets, samples, b_first, b_last)
        out[(p.run, p.key)] = LodSeries(step, value, mins, maxs, p.level, p.width)
    return out


async def _exact_buckets(conn: asyncpg.Connection, p: _Plan, b_first: int, b_last: int
                         ) -> tuple[np.ndarray, np.ndarray] | None:
    """The level buckets to compute from exact points (window edges cutting a bucket, buckets holding
    points written since the last compaction): (their numbers, the recomputed buckets), or None."""
    w = p.width
    ranges: list[tuple[int, int]] = []
    replaced: list[np.ndarray] = []
    if p.lo > p.first and p.lo % w:  # the first bucket reaches before the window
        ranges.append((p.lo, min(p.hi, (b_first + 1) * w - 1)))
        replaced.append(np.array([b_first]))
    if p.hi < p.last and (p.hi + 1) % w:  # the last bucket reaches past it
        ranges.append((max(p.lo, b_last * w), p.hi))
        replaced.append(np.array([b_last]))
    if p.dirty_from is not None and p.dirty_from <= b_last:
        d = max(p.dirty_from, b_first)
        ranges.append((max(p.lo, d * w), p.hi))
        replaced.append(np.arange(d, b_last + 1))
    if not ranges:
        return None
    chunks = await chunks_in_ranges(conn, p.run, p.key_id, [a for a, _ in ranges], [b for _, b in ranges])
    steps, vals = history_codec.merge([(c["steps"], c["vals"]) for c in chunks])
    inside = np.zeros(steps.size, dtype=bool)
    for a, b in ranges:
        inside |= (steps >= a) & (steps <= b)
    return np.unique(np.concatenate(replaced)), history_lod.buckets(steps[inside], vals[inside], w)
