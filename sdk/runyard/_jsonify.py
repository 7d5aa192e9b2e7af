"""JSON encoding for config, summary and non-numeric history values.

JSON has no NaN or Infinity: non-finite floats travel as the strings "NaN", "Infinity" and "-Infinity"
(the REST API's convention, docs/api.md), and `decode_nonfinite` turns them back. numpy scalars and
arrays become numbers and lists; objects with `to_json()` or `_runyard_json_()` are asked; paths,
dates, enums become their text or value; anything else becomes its `str()` with a one-line warning per
type, so nothing is turned into text silently.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import math
import os
import sys
import uuid
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


_warned_types: set[str] = set()


def _fallback(value: Any, what: str | None) -> str:
    """The text of a value JSON cannot hold, with one warning per type (never silently)."""
    t = type(value)
    name = f"{t.__module__}.{t.__qualname__}"
    text = str(value)
    if name not in _warned_types:
        _warned_types.add(name)
        where = f" in {what}" if what else ""
        shown = text if len(text) <= 60 else text[:57] + "..."
        print(f"runyard: a value of type {name}{where} cannot be stored as data; it is stored as its text "
              f"{shown!r} (convert it to numbers, strings, lists or dicts, or use a runyard media type)",
              file=sys.stderr)
    return text


def jsonable(value: Any, _depth: int = 0, what: str | None = None) -> Any:
    """A structure of plain JSON types equivalent to `value`. Paths, dates and enums become their text,
    NumPy/torch values numbers and lists; anything else is stored as its `str()` with a one-line
    warning per type (`what` says where it was met)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if _depth > 64:
        return _fallback(value, what)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, _depth + 1, what) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, _depth + 1, what) for v in value]
    for hook in ("_runyard_json_", "to_json"):
        fn = getattr(value, hook, None)
        if callable(fn):
            return jsonable(fn(), _depth + 1, what)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, torch tensors
    if callable(tolist) and hasattr(value, "dtype"):
        return jsonable(tolist(), _depth + 1, what)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return jsonable(item(), _depth + 1, what)
        except (TypeError, ValueError):
            pass
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, enum.Enum):
        return jsonable(value.value, _depth + 1, what)
    if isinstance(value, (os.PathLike, dt.date, dt.time, dt.timedelta, uuid.UUID, decimal.Decimal)):
        if isinstance(value, decimal.Decimal):
            return _float(float(value))
        if isinstance(value, dt.timedelta):
            return value.total_seconds()
        return value.isoformat() if isinstance(value, (dt.date, dt.time)) else (
            os.fspath(value) if isinstance(value, os.PathLike) else str(value))
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if type(value).__module__.startswith("torch") and type(value).__name__ in ("device", "dtype"):
        return str(value)
    return _fallback(value, what)


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def decode_nonfinite(value: Any) -> Any:
    """Turn the strings "NaN", "Infinity", "-Infinity" back into floats (top level of a value)."""
    if isinstance(value, str):
        return NONFINITE.get(value, value)
    return value
