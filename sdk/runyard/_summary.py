"""`run.summary`: the last logged value of each key, unless set explicitly (explicit sets win)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from ._items import SKIP

if TYPE_CHECKING:
    from ._metrics import Metrics

__all__ = ["Summary"]

Sink = Callable[[dict[str, Any], list[str]], None]


class Summary(MutableMapping[str, Any]):
    """`sink(changes, removed)` records explicit changes; `metrics` (the run's `define_metric`
    definitions) decides what a logged key's summary holds."""

    def __init__(self, sink: Sink | None = None, metrics: Metrics | None = None, *,
                 refresh: Callable[[], None] | None = None) -> None:
        """`refresh` brings `_logged` up to date before a read (log()'s hot path leaves the newest values
        of its open block to be folded in then: runyard._items.Outbox.fold)."""
        self._logged: dict[str, Any] = {}  # the last logged value of each key (Run.log() and the outbox)
        self._explicit: dict[str, Any] = {}
        self._sink = sink
        self._metrics = metrics
        self._refresh = refresh

    def _fresh(self) -> None:
        if self._refresh is not None:
            self._refresh()

    def __getitem__(self, key: str) -> Any:
        self._fresh()
        if key in self._explicit:
            return self._explicit[key]
        value = self._logged[key]
        metrics = self._metrics
        if metrics is not None and metrics.defs:
            value = metrics.summary_value(key, value)
            if value is SKIP:
                raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def _hidden(self, key: str) -> bool:
        metrics = self._metrics
        return metrics is not None and bool(metrics.defs) and metrics.summary_value(key, None) is SKIP

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        self._fresh()
        if key not in self._explicit and key not in self._logged:
            raise KeyError(key)
        self._explicit.pop(key, None)
        self._logged.pop(key, None)
        if self._sink is not None:
            self._sink({}, [key])

    def __iter__(self) -> Iterator[str]:
        self._fresh()
        yield from list(self._explicit)
        for key in list(self._logged):
            if key not in self._explicit and not self._hidden(key):
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        self._fresh()
        if key in self._explicit:
            return True
        return key in self._logged and not self._hidden(str(key))

    def update(self, other: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:  # type: ignore[override]
        changes = {str(k): v for k, v in dict(other or {}, **kwargs).items()}
        if not changes:
            return
        self._explicit.update(changes)
        if self._sink is not None:
            self._sink(changes, [])

    def as_dict(self) -> dict[str, Any]:
        return {k: self[k] for k in self}

    def __repr__(self) -> str:
        return f"Summary({self.as_dict()!r})"
