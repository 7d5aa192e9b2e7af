"""Levels of detail (LOD) of long numeric history series: pure numpy, no I/O.

A level `L` cuts a series' step axis into buckets of `WIDTHS[L]` steps (bucket `b` holds the steps
`b * width <= step < (b + 1) * width`) and keeps, per bucket that holds points: its number, its last step
and that step's value, and the min and max of its values (NaN ignored, as `query/downsample.bucket`; a
bucket of NaN only has NaN min/max; infinities count). Buckets of a level are stored in segments of
`SEGMENT` buckets (table `history_lod`, migration 0061), so refreshing the end of a live run rewrites only
its last segments. Compaction keeps them up to date (ingest/writer.py `_refresh_lod`); the chart reads
(query/lod.py) use them when a window is wide enough, and exact points otherwise.

Only series worth it get levels: at least `MIN_POINTS` points, at least one point per `MIN_DENSITY`
steps on average (a sparse series, like system metrics on a millisecond axis, gains nothing).
"""

from __future__ import annotations

import numpy as np

WIDTHS = (64, 256, 1024, 4096, 16384)   # steps per bucket of each level; each divides the next
SEGMENT = 256                           # buckets per stored row (10 kB)
MIN_POINTS = 20_000                     # series shorter than this are read exactly
MIN_DENSITY = 8                         # at most this many steps per point on average

DTYPE = np.dtype([("b", "<i8"), ("step", "<i8"), ("value", "<f8"), ("min", "<f8"), ("max", "<f8")])


def worth_it(points: int, first_step: int, last_step: int) -> bool:
    """Whether a series of `points` points over [first_step, last_step] gets levels of detail."""
    return points >= MIN_POINTS and (last_step - first_step + 1) <= points * MIN_DENSITY


def buckets(steps: np.ndarray, vals: np.ndarray, width: int) -> np.ndarray:
    """The buckets of `width` steps of a sorted series with distinct steps, as a DTYPE array."""
    out = np.empty(0, DTYPE)
    if steps.size == 0:
        return out
    b = steps // width
    starts = np.flatnonzero(np.concatenate(([True], b[1:] != b[:-1])))
    ends = np.concatenate((starts[1:], [steps.size])) - 1
    out = np.empty(starts.size, DTYPE)
    out["b"] = b[starts]
    out["step"] = steps[ends]
    out["value"] = vals[ends]
    with np.errstate(invalid="ignore"):
        out["min"] = np.fmin.reduceat(vals, starts)
        out["max"] = np.fmax.reduceat(vals, starts)
    return out


def segments(rows: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Buckets (sorted by number) split into (segment number, its buckets)."""
    if rows.size == 0:
        return []
    seg = rows["b"] // SEGMENT
    cuts = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1])))
    ends = np.concatenate((cuts[1:], [rows.size]))
    return [(int(seg[i]), rows[i:j]) for i, j in zip(cuts, ends)]


def encode(rows: np.ndarray) -> bytes:
    return rows.astype(DTYPE, copy=False).tobytes()


def decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=DTYPE)


def regroup(rows: np.ndarray, samples: int, first_b: int, last_b: int) -> tuple[np.ndarray, ...]:
    """At most `samples` output buckets of whole level buckets, of equal width in bucket numbers over
    [first_b, last_b], as (step, value, min, max): the last step and its value, the min and max of the
    level buckets grouped (exact for the points those buckets hold)."""
    if rows.size == 0:
        e = np.empty(0, np.float64)
        return np.empty(0, np.int64), e, e, e
    span = float(last_b - first_b + 1)
    slot = np.floor((rows["b"] - first_b).astype(np.float64) * (samples / span)).astype(np.int64)
    np.clip(slot, 0, samples - 1, out=slot)
    starts = np.flatnonzero(np.concatenate(([True], slot[1:] != slot[:-1])))
    ends = np.concatenate((starts[1:], [rows.size])) - 1
    with np.errstate(invalid="ignore"):
        mins = np.fmin.reduceat(rows["min"], starts)
        maxs = np.fmax.reduceat(rows["max"], starts)
    return rows["step"][ends].copy(), rows["value"][ends].copy(), mins, maxs
