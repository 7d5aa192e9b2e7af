"""`run.config`: a dict with attribute access whose changes are recorded (ConfigUpdate)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from ._jsonify import jsonable
from .errors import ConfigError

__all__ = ["Config", "ConfigError", "config_dict"]


def _differs(old: Any, new: Any) -> bool:
    try:
        return bool(jsonable(old) != jsonable(new))
    except Exception:
        return old is not new

Sink = Callable[[dict[str, Any], list[str]], None]


def config_dict(value: Any) -> dict[str, Any]:
    """A plain dict from what init(config=...) or update() accept: a mapping, an argparse Namespace, None."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if hasattr(value, "__dict__") and not isinstance(value, type):  # argparse.Namespace and similar
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    raise TypeError(f"config must be a dict (or an argparse.Namespace), got {type(value).__name__}")


class Config(MutableMapping[str, Any]):
    """`run.config["lr"]`, `run.config.lr`, `run.config.update({...})` all record the change."""

    def __init__(self, initial: Mapping[str, Any] | Any = None, sink: Sink | None = None) -> None:
        object.__setattr__(self, "_items", config_dict(initial))
        object.__setattr__(self, "_sink", sink)

    # mapping protocol
    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._items[key]
        if self._sink is not None:
            self._sink({}, [key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # attribute access
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self.update({name: value})

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def update(self, other: Any = None, /, allow_val_change: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        """Merge keys (top-level keys replaced) and record the change as one update.

        Changing the value of a key that is already set raises `ConfigError` unless
        `allow_val_change=True` (setting the same value again is fine), as in W&B."""
        changes = config_dict(other)
        changes.update(kwargs)
        if not changes:
            return
        if not allow_val_change:
            for key, value in changes.items():
                if key in self._items and _differs(self._items[key], value):
                    raise ConfigError(
                        f"config key {key!r} is already set to {self._items[key]!r}; refusing to change it to "
                        f"{value!r}. Use run.config.update({{{key!r}: ...}}, allow_val_change=True) to change it"
                    )
        self._items.update(changes)
        if self._sink is not None:
            self._sink(changes, [])

    def setdefaults(self, defaults: Mapping[str, Any]) -> None:
        """Set the keys that are not set yet (W&B's `config.setdefaults`)."""
        self.update({k: v for k, v in defaults.items() if k not in self._items})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._items)

    def __repr__(self) -> str:
        return f"Config({self._items!r})"

    def _attach(self, sink: Sink | None) -> None:
        object.__setattr__(self, "_sink", sink)
