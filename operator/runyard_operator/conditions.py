"""Status conditions (Ready, Progressing, Degraded) in the Kubernetes shape: `lastTransitionTime` moves
only when a condition's status changes; `observedGeneration` says which spec they describe."""

from __future__ import annotations

import datetime
from typing import Any

__all__ = ["TYPES", "now", "set_conditions"]

TYPES = ("Ready", "Progressing", "Degraded")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_conditions(current: list[dict[str, Any]] | None, generation: int | None,
                   **wanted: tuple[bool, str, str]) -> list[dict[str, Any]]:
    """The new condition list: `Ready=(True, "RolloutComplete", "all components ready at 0.2.0")`.
    Conditions not named keep their value; the list is in TYPES order."""
    by_type = {c["type"]: dict(c) for c in current or [] if c.get("type")}
    stamp = now()
    for ctype, (ok, reason, message) in wanted.items():
        status = "True" if ok else "False"
        old = by_type.get(ctype) or {}
        changed = old.get("status") != status
        by_type[ctype] = {
            "type": ctype,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": old.get("lastTransitionTime") if not changed and old.get("lastTransitionTime") else stamp,
        }
        if generation is not None:
            by_type[ctype]["observedGeneration"] = generation
    ordered = [by_type.pop(t) for t in TYPES if t in by_type]
    return ordered + list(by_type.values())
