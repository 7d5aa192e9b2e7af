"""Flattening of logged dicts and the split into numbers and JSON (no server)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from runyard._flatten import as_number, flatten, split_values
from runyard._jsonify import decode_nonfinite, to_json


def test_nested_dicts_become_slash_keys() -> None:
    data = {"a": {"b": 1, "c": {"d": 2}}, "e": 3, 4: "four", "empty": {}}
    assert flatten(data) == {"a/b": 1, "a/c/d": 2, "e": 3, "4": "four"}


def test_flatten_copies() -> None:
    data = {"x": 1.0}
    out = flatten(data)
    data["x"] = 2.0
    assert out == {"x": 1.0}


@pytest.mark.parametrize(
    "value, expected",
    [
        (1, 1.0),
        (2.5, 2.5),
        (True, 1.0),
        (np.float32(0.5), 0.5),
        (np.float64(0.25), 0.25),
        (np.int64(7), 7.0),
        (np.uint8(3), 3.0),
        (np.bool_(True), 1.0),
        (np.array(1.5), 1.5),
    ],
)
def test_numbers(value: object, expected: float) -> None:
    assert as_number(value) == expected


@pytest.mark.parametrize("value", ["x", None, [1, 2], np.array([1.0, 2.0]), {"a": 1}, 1j, 10**400])
def test_not_numbers(value: object) -> None:
    assert as_number(value) is None


def test_nonfinite_numbers_kept() -> None:
    keys, values, jkeys, jvalues = split_values({"n": math.nan, "p": math.inf, "m": -math.inf, "s": "hi"})
    assert keys == ["n", "p", "m"]
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf
    assert jkeys == ["s"] and jvalues == ['"hi"']


def test_json_values() -> None:
    assert json.loads(to_json({"a": [1, np.float32(2.0)], "b": math.nan})) == {"a": [1, 2.0], "b": "NaN"}
    assert json.loads(to_json(np.arange(3))) == [0, 1, 2]
    assert decode_nonfinite("-Infinity") == -math.inf
    assert decode_nonfinite("hello") == "hello"
