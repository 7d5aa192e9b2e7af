"""`run.summary`: the last logged value of each key, unless set explicitly (explicit sets win)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

__all__ = ["Summary"]

Sink = Callable[[dict[str, Any], list[str]], None]


class Summary(MutableMapping[str, Any]):
    def __init__(self, sink: Sink | None = None) -> None:
        self._logged: dict[str, Any] = {}  # updated by Run.log() directly (hot path)
        self._explicit: dict[str, Any] = {}
        self._sink = sink

    def __getitem__(self, key: str) -> Any:
        if key in self._explicit:
            return self._explicit[key]
        return self._logged[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        if key not in self._explicit and key not in self._logged:
            raise KeyError(key)
        self._explicit.pop(key, None)
        self._logged.pop(key, None)
        if self._sink is not None:
            self._sink({}, [key])

    def __iter__(self) -> Iterator[str]:
        yield from self._explicit
        for key in self._logged:
            if key not in self._explicit:
                yield key

    def __len__(self) -> int:
        return len(self._explicit) + sum(1 for k in self._logged if k not in self._explicit)

    def __contains__(self, key: object) -> bool:
        return key in self._explicit or key in self._logged

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
