"""`x=` of the downsampled history: the value of another key (`_timestamp`, or any metric) at each point's step.

Points are joined by step at full resolution: for every (downsampled) point of a series, the x key's
value logged at exactly that step, or null where the x key has no value at that step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .jsonresp import float_list


def x_at_steps(x_steps: np.ndarray, x_vals: np.ndarray, steps: np.ndarray) -> list[Any]:
    if steps.size == 0:
        return []
    if x_steps.size == 0:
        return [None] * int(steps.size)
    idx = np.searchsorted(x_steps, steps)
    idx_c = np.minimum(idx, x_steps.size - 1)
    hit = x_steps[idx_c] == steps
    out = float_list(np.where(hit, x_vals[idx_c], 0.0))
    if not hit.all():
        for i in np.flatnonzero(~hit).tolist():
            out[i] = None
    return out
