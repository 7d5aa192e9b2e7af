"""History shaping for charts and exports: pure numpy, no I/O (tests call it directly).

`bucket` keeps the shape of a long series in at most `samples` buckets over its step range: for each
bucket the last step and value plus the min and max (NaN ignored), so a single spike is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Series:
    step: np.ndarray   # int64
    value: np.ndarray  # float64
    min: np.ndarray
    max: np.ndarray
    sampled: bool


def window(steps: np.ndarray, vals: np.ndarray, lo: int | None, hi: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The points with lo <= step <= hi (either bound optional); `steps` sorted ascending."""
    start = 0 if lo is None else int(np.searchsorted(steps, lo, side="left"))
    end = steps.size if hi is None else int(np.searchsorted(steps, hi, side="right"))
    return steps[start:end], vals[start:end]


def bucket(steps: np.ndarray, vals: np.ndarray, samples: int) -> Series:
    """At most `samples` buckets of equal step width over [first step, last step].

    With `samples` points or fewer, the points themselves come back (min = max = value).
    """
    if steps.size <= samples:
        return Series(steps, vals, vals, vals, sampled=False)
    lo, hi = int(steps[0]), int(steps[-1])
    span = float(hi - lo + 1)
    idx = np.floor((steps - lo).astype(np.float64) * (samples / span)).astype(np.int64)
    np.clip(idx, 0, samples - 1, out=idx)
    starts = np.flatnonzero(np.concatenate(([True], idx[1:] != idx[:-1])))
    ends = np.concatenate((starts[1:], [steps.size])) - 1
    with np.errstate(invalid="ignore"):
        mins = np.fmin.reduceat(vals, starts)
        maxs = np.fmax.reduceat(vals, starts)
    return Series(steps[ends], vals[ends], mins, maxs, sampled=True)


def rows_union(step_arrays: list[np.ndarray], start: int, limit: int) -> tuple[np.ndarray, int | None]:
    """The first `limit` distinct steps >= start over all arrays, and the step after them (or None)."""
    parts = [a[np.searchsorted(a, start, side="left"):] for a in step_arrays if a.size]
    if not parts:
        return np.empty(0, np.int64), None
    union = np.unique(np.concatenate(parts))
    if union.size > limit:
        return union[:limit], int(union[limit])
    return union, None


def align(rows: np.ndarray, steps: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row step: (has a value, the value) from a sorted (steps, vals) series."""
    if steps.size == 0 or rows.size == 0:
        return np.zeros(rows.size, dtype=bool), np.zeros(rows.size, dtype=np.float64)
    pos = np.searchsorted(steps, rows, side="left")
    pos_c = np.minimum(pos, steps.size - 1)
    present = (pos < steps.size) & (steps[pos_c] == rows)
    return present, vals[pos_c]
