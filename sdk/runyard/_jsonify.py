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

__all__ = ["NONFINITE", "clean_json", "clean_text", "decode_nonfinite", "jsonable", "text_problem", "to_json"]

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


# ---- text PostgreSQL cannot store ------------------------------------------------------------------
# PostgreSQL's text and jsonb refuse the NUL character (and jsonb its `\u0000` escape), and no UTF-8
# encoding exists for a lone surrogate ("\udc80", what `surrogateescape` makes of undecodable bytes).
# Such text is cleaned before it becomes a record: the character is replaced by U+FFFD, so the value is
# kept and the spot stays visible. Keys with it are refused instead (a renamed key would be a new metric).

REPLACEMENT = "\ufffd"


def text_problem(text: str) -> str | None:
    """Why the server cannot store `text`, or None."""
    if "\x00" in text:
        return "a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text that is not valid Unicode (a lone surrogate)"
    return None


def clean_text(text: str) -> str:
    """`text` with NUL characters and lone surrogates replaced by U+FFFD (the same object when clean)."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def clean_json(value: Any) -> tuple[Any, bool]:
    """(a copy of the plain-JSON `value` with every string and key cleaned, whether anything changed)."""
    if isinstance(value, str):
        cleaned = clean_text(value)
        return cleaned, cleaned is not value
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for k, v in value.items():
            ck = clean_text(k)
            cv, c = clean_json(v)
            changed = changed or c or ck is not k
            out[ck] = cv
        return out, changed
    if isinstance(value, list):
        items = [clean_json(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def json_needs_cleaning(dumped: str) -> bool:
    """Cheap test on the output of `json.dumps(..., ensure_ascii=False)`: may it hold unstorable text?
    (A NUL is escaped as \\u0000; lone surrogates come out as they are.) False positives only cost a
    second look."""
    return "\\u0000" in dumped or (not dumped.isascii() and text_problem(dumped) is not None)
