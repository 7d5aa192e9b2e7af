"""Flattening of logged dicts and the split of values into numbers and JSON.

`flatten()` runs inside `log()` and must stay cheap: one pass; numbers and strings are passed through at
once, other values cost one dict lookup (matplotlib figures, plotly figures and pandas DataFrames are
converted to media right there, so later changes to them do not leak into what was logged).
`split_values()` runs on the streamer thread (slow path of `RecordBuilder`): numbers (`as_number`)
become float64 (NaN and +/-Inf kept); every other value becomes JSON (`to_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._items import NUMBER_TYPES
from ._jsonify import to_json

__all__ = ["as_number", "flatten", "split_values"]

_SEP = "/"
_UNKNOWN: Any = object()
# type -> media converter (or None): one dict lookup per non-number value; filled on first sight of a type
_CONVERTERS: dict[type, Any] = {}


def _converter_for(t: type) -> Any:
    from .media import converter_for

    return converter_for(t)


def _numpy_number(t: type) -> bool:
    """numpy's scalar numbers and bool (np.float32, np.int64, np.bool_...): float() of one is exact and cheap."""
    return any(c.__module__ == "numpy" and c.__name__ in ("number", "bool_", "bool") for c in t.__mro__)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}, "c": 2}` -> `{"a/b": 1, "c": 2}`; non-string keys are turned into strings.

    Always returns a new dict (the caller may reuse and mutate what it logged)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        t = type(value)
        if t is not float and t is not int and t is not str:
            if t is dict or isinstance(value, Mapping):
                if value:
                    out.update(flatten(value, (prefix + str(key)) + _SEP))
                continue
            conv = _CONVERTERS.get(t, _UNKNOWN)
            if conv is _UNKNOWN:
                conv = _CONVERTERS[t] = _converter_for(t)
                if conv is None and _numpy_number(t):
                    NUMBER_TYPES.add(t)  # log() packs these at once (runyard._items)
            if conv is not None:  # a figure or a DataFrame: taken as it is now (see media.converter_for)
                value = conv(value)
        if prefix or type(key) is not str:
            key = prefix + str(key)
        out[key] = value
    return out


def as_number(value: Any) -> float | None:
    """The value as a float64 when it is a number, else None.

    Numbers are what `float()` takes without parsing text: ints, floats, bools, numpy scalars and 0-d
    arrays, 0-d tensors, Decimal, Fraction (anything with `__float__`). The streamer's fast path packs
    values with `struct.pack("<d")`, which accepts exactly these, so both paths agree."""
    t = type(value)
    if t is float:
        return value  # type: ignore[no-any-return]
    if not hasattr(t, "__float__") and not hasattr(t, "__index__"):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def split_values(row: Mapping[str, Any]) -> tuple[list[str], list[float], list[str], list[str]]:
    """(number keys, number values, json keys, json values) of a flattened row."""
    keys: list[str] = []
    values: list[float] = []
    jkeys: list[str] = []
    jvalues: list[str] = []
    for key, value in row.items():
        if type(value) is float:
            keys.append(key)
            values.append(value)
            continue
        number = as_number(value)
        if number is not None:
            keys.append(key)
            values.append(number)
        else:
            jkeys.append(key)
            jvalues.append(to_json(value))
    return keys, values, jkeys, jvalues

