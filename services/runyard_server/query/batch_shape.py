"""Bucketing many series at once (the batched history read, history_batch.py): pure numpy, no I/O.

Every series of a group of runs is decoded into three flat arrays (series number, step, value) and bucketed
in one pass of vectorised operations instead of one small numpy call chain per series: what makes 1,000
runs x several keys cheap. The result is exactly what `downsample.window` + `downsample.bucket` give series
by series (tests/services/test_history_batch.py compares them): per series at most `samples` buckets of
equal step width over its [first, last] step in the window, each with its last step and value and its
min/max ignoring NaN; a series with `samples` points or fewer comes back as it is (min = max = value);
where a step repeats, the point that arrived last wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..common import history_codec


@dataclass(frozen=True)
class Buckets:
    """Bucketed series, flat: series `s` owns `step[start[s]:end[s]]` (and the same slice of the others)."""

    step: np.ndarray   # int64
    value: np.ndarray  # float64, the bucket's last value
    min: np.ndarray
    max: np.ndarray
    start: np.ndarray  # per series
    end: np.ndarray
    sampled: np.ndarray  # per series: more points than buckets


@dataclass(frozen=True)
class Points:
    """Decoded series, flat and sorted by (series, step), one point per step."""

    series: np.ndarray  # int64 series number of each point
    step: np.ndarray
    value: np.ndarray
    count: int  # number of series

    def of(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of series `s`."""
        lo, hi = np.searchsorted(self.series, [s, s + 1])
        return self.step[lo:hi], self.value[lo:hi]


def decode(chunks: Sequence[tuple[int, bytes, bytes]], count: int) -> Points:
    """Chunks `(series number, steps blob, vals blob)`, in arrival order within each series, series numbers
    ascending -> sorted points, repeated steps resolved (the last arrival wins)."""
    if not chunks:
        empty = np.empty(0, np.int64)
        return Points(empty, empty, np.empty(0, np.float64), count)
    parts = [history_codec.decode(s, v) for _, s, v in chunks]
    steps = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts])
    series = np.repeat(np.array([c[0] for c in chunks], np.int64), [p[0].size for p in parts])
    if steps.size > 1:
        d = np.diff(steps)
        same = series[1:] == series[:-1]
        if not np.all((d > 0) | ~same):  # out of order or repeated somewhere: sort, keep the last arrival
            order = np.lexsort((np.arange(steps.size), steps, series))
            series, steps, vals = series[order], steps[order], vals[order]
            keep = np.ones(steps.size, dtype=bool)
            keep[:-1] = (series[1:] != series[:-1]) | (steps[1:] != steps[:-1])
            series, steps, vals = series[keep], steps[keep], vals[keep]
    return Points(series, steps, vals, count)


def bucket_all(p: Points, samples: int, lo: int | None, hi: int | None) -> Buckets:
    """At most `samples` buckets per series over the step window [lo, hi] (either bound optional)."""
    series, steps, vals = p.series, p.step, p.value
    if lo is not None or hi is not None:
        m = np.ones(steps.size, dtype=bool)
        if lo is not None:
            m &= steps >= lo
        if hi is not None:
            m &= steps <= hi
        series, steps, vals = series[m], steps[m], vals[m]
    start = np.zeros(p.count, np.int64)
    end = np.zeros(p.count, np.int64)
    sampled = np.zeros(p.count, dtype=bool)
    n = steps.size
    if n == 0:
        empty = np.empty(0, np.int64)
        return Buckets(empty, np.empty(0), np.empty(0), np.empty(0), start, end, sampled)
    first_of = np.flatnonzero(np.concatenate(([True], series[1:] != series[:-1])))
    last_of = np.concatenate((first_of[1:], [n])) - 1
    sizes = last_of - first_of + 1
    present = series[first_of]
    big = sizes > samples
    sampled[present] = big
    # bucket number of each point: its position in a small series, else its slot of equal step width
    pos = np.arange(n) - np.repeat(first_of, sizes)
    lo_step = np.repeat(steps[first_of], sizes)
    span = np.repeat((steps[last_of] - steps[first_of] + 1).astype(np.float64), sizes)
    slot = np.floor((steps - lo_step).astype(np.float64) * (samples / span)).astype(np.int64)
    np.clip(slot, 0, samples - 1, out=slot)
    idx = np.where(np.repeat(big, sizes), slot, pos)
    starts = np.flatnonzero(np.concatenate(([True], (series[1:] != series[:-1]) | (idx[1:] != idx[:-1]))))
    ends = np.concatenate((starts[1:], [n])) - 1
    with np.errstate(invalid="ignore"):
        mins = np.fmin.reduceat(vals, starts)
        maxs = np.fmax.reduceat(vals, starts)
    bser = series[starts]
    edges = np.flatnonzero(np.concatenate(([True], bser[1:] != bser[:-1])))
    start[bser[edges]] = edges
    end[bser[edges]] = np.concatenate((edges[1:], [bser.size]))
    return Buckets(steps[ends], vals[ends], mins, maxs, start, end, sampled)
