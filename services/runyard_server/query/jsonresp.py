"""JSON responses that never contain bare NaN/Infinity.

JSON has no non-finite numbers; they travel as the strings "NaN", "Infinity" and "-Infinity" (see
docs/api.md). Finite floats keep Python's shortest round-trip repr, so they read back bit for bit.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from fastapi.responses import JSONResponse


def nonfinite_name(value: float) -> str:
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def finite_json(value: Any) -> Any:
    """A copy of `value` with every non-finite float replaced by its string name."""
    if isinstance(value, float):
        return value if math.isfinite(value) else nonfinite_name(value)
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def float_list(values: np.ndarray) -> list[Any]:
    """A float64 array as a JSON-ready list (fast path: only non-finite positions are touched)."""
    out: list[Any] = values.tolist()
    bad = ~np.isfinite(values)
    if bad.any():
        for i in np.flatnonzero(bad).tolist():
            out[i] = nonfinite_name(out[i])
    return out


class RunyardJSONResponse(JSONResponse):
    @staticmethod
    def dumps(content: Any) -> str:
        try:
            return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:  # a non-finite float somewhere: the slow, careful path
            return json.dumps(finite_json(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    def render(self, content: Any) -> bytes:
        return self.dumps(content).encode("utf-8")


class RawJSONResponse(RunyardJSONResponse):
    """A JSON answer already rendered to UTF-8 bytes (the caller made sure it is valid JSON)."""

    def render(self, content: Any) -> bytes:
        if not isinstance(content, bytes):
            raise TypeError("RawJSONResponse takes the rendered JSON as bytes")
        return content
