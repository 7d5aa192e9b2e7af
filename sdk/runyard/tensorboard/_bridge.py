"""The few places where `runyard.tensorboard` reaches into a run (kept here, in one file, so a change of the
run's internals is one change here).

- `log_at(run, row, step)`: a history row stored at `step` without moving the run's own step counter
  (what `run.log(row, step=s)` does for a step below the current one; W&B would drop such rows);
- `output(run, lines)`: console-like lines (TensorBoard text summaries);
- `run_files(run)`: the run's files/ folder and upload list.
"""

from __future__ import annotations

import time
from typing import Any

from .._flatten import flatten

__all__ = ["config_item", "finish_item", "history_item", "log_at", "output", "output_item", "run_files",
           "scratch_run_files"]


def log_at(run: Any, row: dict[str, Any], step: int) -> bool:
    """Queue `row` at `step`; False when the run cannot take rows any more (a forked child)."""
    if getattr(run, "_child", False) or run.disabled:
        return False
    flat = flatten(row)
    with run._lock:
        run._log_past(flat, int(step))
    return True


def output(run: Any, lines: list[str], stream: str = "stdout") -> None:
    if getattr(run, "_child", False) or run.disabled:
        return
    outbox = getattr(run, "_outbox", None)
    if outbox is not None:  # the run's typed outbox (SDK core after the queue-items change)
        outbox.output(stream, time.time(), list(lines))
    else:
        run._queue.append(("o", stream, time.time(), list(lines)))


def run_files(run: Any) -> Any:
    """The run's `RunFiles` (files_dir, add(name)), or None (disabled run, forked child)."""
    return getattr(run, "_files", None)


# ---- queue items for `runyard import tensorboard` (it builds records itself, deterministically) -----------
def _typed() -> Any:
    try:
        from .. import _items  # type: ignore[attr-defined]

        return _items
    except ImportError:
        return None


def history_item(step: int, ts: float, row: dict[str, Any]) -> Any:
    items = _typed()
    return items.HistoryItem(step, ts, row) if items is not None else ("h", step, ts, row)


def config_item(values: dict[str, Any]) -> Any:
    items = _typed()
    return items.ConfigItem(values, []) if items is not None else ("c", values, [])


def output_item(ts: float, lines: list[str], stream: str = "stdout") -> Any:
    items = _typed()
    return items.OutputItem(stream, ts, lines) if items is not None else ("o", stream, ts, lines)


def finish_item(ts: float) -> Any:
    items = _typed()
    return items.FinishItem(0, None, ts) if items is not None else ("f", 0, None, ts)


def scratch_run_files(run_dir: Any) -> Any:
    """A `RunFiles` for a folder no run streams from (the importer's): only its media binder is used."""
    import inspect
    from collections import deque

    from .._files import RunFiles

    kwargs: dict[str, Any] = {"interval": 3600.0, "uploader": None, "ready": lambda: False}
    if "outbox" in inspect.signature(RunFiles.__init__).parameters:  # SDK core with typed queue items
        kwargs["outbox"] = _typed().Outbox(discard=True)
    else:
        kwargs["queue"] = deque()
    return RunFiles(run_dir, **kwargs)
