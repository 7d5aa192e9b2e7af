"""`run.define_metric()`: a metric's x axis (`step_metric`) and what its summary holds.

    run.define_metric("epoch", hidden=True)
    run.define_metric("val/*", step_metric="epoch", summary="max")   # glob names
    run.define_metric("loss", summary="min,last", goal="minimize")

summary: `last` (the default without a definition), `min`, `max`, `mean`, `best` (min or max by `goal`),
`none` (kept out of the summary), or several joined by commas. With only `last` the summary holds the
plain value; otherwise a dict such as `{"min": 0.12, "last": 0.3}`, as W&B stores it.
With `step_metric` a row that logs a matching key without the step metric gets the step metric's last
logged value added (W&B's `step_sync`). Definitions are recorded in the run config under
`_runyard.metrics` so the UI can draw the chosen x axis.

The bookkeeping runs inside `log()` only for keys that match a definition; rows of undefined keys pay one
attribute check.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any

from ._items import SKIP
from .errors import UsageError

__all__ = ["MetricDefinition", "Metrics"]

_SUMMARIES = ("last", "min", "max", "mean", "best", "none", "first", "copy")
_GOALS = ("minimize", "maximize")


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    step_metric: str | None = None
    summary: tuple[str, ...] = ()
    goal: str | None = None
    hidden: bool = False
    step_sync: bool = True

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.step_metric:
            out["step_metric"] = self.step_metric
        if self.summary:
            out["summary"] = list(self.summary)
        if self.goal:
            out["goal"] = self.goal
        if self.hidden:
            out["hidden"] = True
        return out


@dataclass
class _Agg:
    kinds: tuple[str, ...]
    goal: str | None
    min: float = math.inf
    max: float = -math.inf
    total: float = 0.0
    count: int = 0
    last: Any = None
    first: Any = field(default=None)
    seen: bool = False

    def add(self, value: Any) -> None:
        self.last = value
        if not self.seen:
            self.first = value
            self.seen = True
        try:
            x = float(value)
        except (TypeError, ValueError):
            return
        if math.isnan(x):
            return
        self.min = min(self.min, x)
        self.max = max(self.max, x)
        self.total += x
        self.count += 1

    def value(self) -> Any:
        kinds = self.kinds
        if kinds == ("last",) or kinds == ("copy",):
            return self.last
        out: dict[str, Any] = {}
        for kind in kinds:
            if kind in ("last", "copy"):
                out["last"] = self.last
            elif kind == "first":
                out["first"] = self.first
            elif not self.count:
                continue
            elif kind == "min":
                out["min"] = self.min
            elif kind == "max":
                out["max"] = self.max
            elif kind == "mean":
                out["mean"] = self.total / self.count
            elif kind == "best":
                out["best"] = self.max if self.goal == "maximize" else self.min
        return out


def _parse_summary(summary: str | None, goal: str | None) -> tuple[str, ...]:
    if summary is None:
        return ()
    kinds = tuple(dict.fromkeys(p.strip().lower() for p in str(summary).split(",") if p.strip()))
    for kind in kinds:
        if kind not in _SUMMARIES:
            raise UsageError(f"define_metric: summary {kind!r} is not one of {', '.join(_SUMMARIES)}")
    if "none" in kinds and len(kinds) > 1:
        raise UsageError("define_metric: summary 'none' cannot be combined with others")
    if "best" in kinds and goal is None:
        raise UsageError("define_metric: summary 'best' needs goal='minimize' or goal='maximize'")
    return kinds


class Metrics:
    """The run's definitions and the per-key aggregates behind the summary."""

    def __init__(self) -> None:
        self.defs: dict[str, MetricDefinition] = {}
        self._match: dict[str, MetricDefinition | None] = {}  # key -> its definition (None: none)
        self.aggs: dict[str, _Agg] = {}

    def define(self, name: str, step_metric: str | None = None, summary: str | None = None,
               goal: str | None = None, hidden: bool = False, step_sync: bool | None = None) -> MetricDefinition:
        if not isinstance(name, str) or not name:
            raise UsageError("define_metric: name must be a non-empty string (globs like 'val/*' allowed)")
        if goal is not None:
            goal = str(goal).lower()
            goal = {"min": "minimize", "max": "maximize"}.get(goal, goal)
            if goal not in _GOALS:
                raise UsageError(f"define_metric: goal must be 'minimize' or 'maximize', got {goal!r}")
        if step_metric is not None and (not isinstance(step_metric, str) or not step_metric):
            raise UsageError("define_metric: step_metric must be a key name")
        if step_metric is not None and any(c in step_metric for c in "*?["):
            raise UsageError("define_metric: step_metric must be one key, not a glob")
        kinds = _parse_summary(summary, goal)
        d = MetricDefinition(name, step_metric, kinds, goal, bool(hidden),
                             True if step_sync is None else bool(step_sync))
        self.defs[name] = d
        self._match.clear()  # a new glob may change which definition a key follows
        for key, agg in list(self.aggs.items()):
            new = self.lookup(key)
            if new is None or not new.summary:
                del self.aggs[key]
            else:
                agg.kinds, agg.goal = new.summary, new.goal
        return d

    def lookup(self, key: str) -> MetricDefinition | None:
        try:
            return self._match[key]
        except KeyError:
            pass
        found = self.defs.get(key)
        if found is None:
            best_len = -1
            for name, d in tuple(self.defs.items()):
                if ("*" in name or "?" in name or "[" in name) and fnmatch.fnmatchcase(key, name):
                    if len(name) > best_len:  # the most specific glob wins
                        found, best_len = d, len(name)
        if len(self._match) > 100_000:
            self._match.clear()
        self._match[key] = found
        return found

    def observe(self, row: dict[str, Any], last_values: dict[str, Any]) -> None:
        """Called by log() (under the run lock) for each committed row: step sync and aggregates."""
        sync: dict[str, Any] | None = None
        for key, value in row.items():
            d = self.lookup(key)
            if d is None:
                continue
            if d.step_metric and d.step_sync and d.step_metric not in row and d.step_metric in last_values:
                sync = sync or {}
                sync[d.step_metric] = last_values[d.step_metric]
            if d.summary and d.summary != ("none",):
                agg = self.aggs.get(key)
                if agg is None:
                    agg = self.aggs[key] = _Agg(d.summary, d.goal)
                agg.add(value)
        if sync:
            row.update(sync)

    def summary_value(self, key: str, last: Any) -> Any:
        """What the summary holds for `key` whose last logged value is `last` (SKIP: leave it out)."""
        try:
            d = self.lookup(key)
        except RuntimeError:  # a definition added on another thread meanwhile
            return last
        if d is None or not d.summary:
            return last
        if d.summary == ("none",):
            return SKIP
        agg = self.aggs.get(key)
        if agg is None:
            return last
        return agg.value()

    def as_config(self) -> dict[str, Any]:
        return {name: d.as_json() for name, d in self.defs.items()}
