"""The vectorised bucketing of many series (query/batch_shape.py) gives exactly what the one-series
`downsample.window` + `downsample.bucket` give, on awkward inputs: repeated and out-of-order steps,
several chunks, NaN and infinities, windows, tiny and empty series."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from runyard_server.common import history_codec
from runyard_server.query.batch_shape import bucket_all, decode
from runyard_server.query.downsample import bucket, window


def _series(rng: np.random.Generator, kind: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The chunks of one series, in arrival order."""
    n = [0, 1, 3, 50, 700, 2500][kind % 6]
    steps = np.arange(n, dtype=np.int64) * int(rng.integers(1, 5)) + int(rng.integers(-5, 1000))
    if kind % 4 == 1 and n > 3:  # arrival out of order, and repeated steps (a replay with new values)
        steps = rng.permutation(steps)
        steps[: n // 3] = steps[n // 3: 2 * (n // 3)]
    vals = rng.standard_normal(n)
    if n > 10:
        vals[rng.integers(0, n, 5)] = math.nan
        vals[rng.integers(0, n)] = math.inf
    cuts = sorted(set(rng.integers(0, max(n, 1), 3).tolist()) | {0, n})
    return [(steps[a:b], vals[a:b]) for a, b in itertools.pairwise(cuts) if b > a]


@pytest.mark.parametrize("samples", [1, 7, 200])
@pytest.mark.parametrize("window_", [(None, None), (100, 900), (None, 50), (5000, None)])
def test_many_series_at_once_equal_one_at_a_time(samples: int, window_: tuple[int | None, int | None]) -> None:
    rng = np.random.default_rng(samples * 31 + (window_[0] or 0))
    all_series = [_series(rng, k) for k in range(24)]
    chunks = [(s, *history_codec.encode(st, v)) for s, parts in enumerate(all_series) for st, v in parts]
    b = bucket_all(decode(chunks, len(all_series)), samples, *window_)
    for s, parts in enumerate(all_series):
        merged = history_codec.merge([history_codec.encode(st, v) for st, v in parts])
        want = bucket(*window(*merged, *window_), samples)
        lo, hi = b.start[s], b.end[s]
        assert b.step[lo:hi].tolist() == want.step.tolist()
        np.testing.assert_array_equal(b.value[lo:hi], want.value)
        np.testing.assert_array_equal(b.min[lo:hi], want.min)
        np.testing.assert_array_equal(b.max[lo:hi], want.max)
        assert bool(b.sampled[s]) == want.sampled or want.step.size == 0
