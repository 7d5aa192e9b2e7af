"""JSON encoding for config, summary and non-numeric history values.

JSON has no NaN or Infinity: non-finite floats travel as the strings "NaN", "Infinity" and "-Infinity"
(the REST API's convention, docs/api.md), and `decode_nonfinite` turns them back. numpy scalars and
arrays become numbers and lists; objects with `to_json()` or `_runyard_json_()` (media, later) are asked;
anything else becomes its `str()`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["NONFINITE", "decode_nonfinite", "jsonable", "to_json"]

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A structure of plain JSON types equivalent to `value`."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if _depth > 64:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, _depth + 1) for v in value]
    for hook in ("_runyard_json_", "to_json"):
        fn = getattr(value, hook, None)
        if callable(fn):
            return jsonable(fn(), _depth + 1)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and hasattr(value, "dtype"):
        return jsonable(tolist(), _depth + 1)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return jsonable(item(), _depth + 1)
        except (TypeError, ValueError):
            pass
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def decode_nonfinite(value: Any) -> Any:
    """Turn the strings "NaN", "Infinity", "-Infinity" back into floats (top level of a value)."""
    if isinstance(value, str):
        return NONFINITE.get(value, value)
    return value
