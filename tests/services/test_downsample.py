"""The pure history shaping functions of the query service (no database)."""

from __future__ import annotations

import math

import numpy as np

from runyard_server.query.downsample import align, bucket, rows_union, window
from runyard_server.query.jsonresp import RunyardJSONResponse, float_list


def test_bucket_keeps_extremes_and_last_points() -> None:
    steps = np.arange(1000, dtype=np.int64)
    vals = np.zeros(1000)
    vals[123] = 9.0
    vals[124] = -9.0
    vals[500:510] = math.nan
    s = bucket(steps, vals, 10)
    assert s.sampled and s.step.tolist() == list(range(99, 1000, 100))
    assert s.max.tolist()[1] == 9.0 and s.min.tolist()[1] == -9.0
    assert s.min[5] == 0.0 and s.max[5] == 0.0  # NaN ignored
    one = bucket(steps, vals, 1)
    assert one.step.tolist() == [999] and one.max.tolist() == [9.0] and one.min.tolist() == [-9.0]


def test_bucket_of_only_nan_and_sparse_steps() -> None:
    steps = np.array([0, 1, 2, 1_000_000_000_000], dtype=np.int64)
    vals = np.array([math.nan, math.nan, math.nan, 1.0])
    s = bucket(steps, vals, 2)
    assert s.step.tolist() == [2, 1_000_000_000_000]  # empty buckets are left out
    assert math.isnan(s.min[0]) and math.isnan(s.max[0]) and s.max[1] == 1.0
    few = bucket(steps, vals, 4)
    assert not few.sampled and few.step is steps


def test_window_union_and_align() -> None:
    steps = np.array([1, 3, 5, 7], dtype=np.int64)
    vals = np.array([1.0, 3.0, 5.0, 7.0])
    assert window(steps, vals, 2, 6)[0].tolist() == [3, 5]
    assert window(steps, vals, None, 3)[0].tolist() == [1, 3]
    rows, nxt = rows_union([steps, np.array([2, 3], dtype=np.int64)], 2, 3)
    assert rows.tolist() == [2, 3, 5] and nxt == 7
    present, aligned = align(rows, steps, vals)
    assert present.tolist() == [False, True, True] and aligned[1:].tolist() == [3.0, 5.0]
    assert rows_union([], 0, 5)[1] is None


def test_json_never_holds_bare_non_finite_numbers() -> None:
    assert float_list(np.array([math.nan, math.inf, -math.inf, 0.1])) == ["NaN", "Infinity", "-Infinity", 0.1]
    body = RunyardJSONResponse({"a": [math.nan, {"b": -math.inf}], "c": 0.1 + 0.2}).body
    assert body == b'{"a":["NaN",{"b":"-Infinity"}],"c":0.30000000000000004}'
