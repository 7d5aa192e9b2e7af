"""What travels on a run's queue: one named, typed item per kind, all built here by the `Outbox`.

Producers never build items themselves: each gets the run's `Outbox` through its constructor and
calls one method per kind. The streamer thread takes items off `Outbox.queue` and turns them into
records (`RecordBuilder.build`, which dispatches on the item's class).

    producer                               method                       item
    Run.log()                              history(step, time, row)     HistoryItem   (row already flattened)
    run.summary[...] = / del               summary(values, remove)      SummaryItem
    run.config / init(config=)             config(values, remove)       ConfigItem
    run.update(), run.name = ...           run_fields(fields)           RunFieldsItem
    Streamer.finish()                      finish(code, error, time)    FinishItem
    capture.SystemMonitor (via Capture)    system(time, sample)         SystemItem
    ConsoleCapture                         output(stream, time, lines)  OutputItem
    RunFiles (after an upload)             file_saved(path, size, sha)  FileSavedItem
    Streamer.flush()                       barrier()                    Barrier       (no record: its event is
                                                                                       set once all before it is built)

Items are `__slots__` objects: making one costs about as much as the tuple it replaced, which matters
for `HistoryItem` (built inside `log()`, see bench/sdk_overhead.py). The deque is shared by all
producers: `append` and `popleft` are atomic under the GIL, so no lock is needed.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

__all__ = [
    "SKIP",
    "Barrier",
    "ConfigItem",
    "FileSavedItem",
    "FinishItem",
    "HistoryItem",
    "Outbox",
    "OutputItem",
    "QueueItem",
    "RunFieldsItem",
    "SummaryItem",
    "SystemItem",
]

SKIP: Any = object()
"""Returned by a media binder or a metric's summary function: leave this value out."""


class HistoryItem:
    """One logged row at `step`, logged at unix `time`; `row` is flat (`a/b` keys)."""

    __slots__ = ("row", "step", "time")

    def __init__(self, step: int, time: float, row: dict[str, Any]) -> None:
        self.step = step
        self.time = time
        self.row = row


class SummaryItem:
    """An explicit summary change: keys set (they stop following logging) and keys removed."""

    __slots__ = ("remove", "values")

    def __init__(self, values: dict[str, Any], remove: list[str]) -> None:
        self.values = values
        self.remove = remove


class ConfigItem:
    """A config change: top-level keys set and removed."""

    __slots__ = ("remove", "values")

    def __init__(self, values: dict[str, Any], remove: list[str]) -> None:
        self.values = values
        self.remove = remove


class RunFieldsItem:
    """Run fields changed after open: any of name, notes, group, job_type, tags."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields


class FinishItem:
    """The run ended with `exit_code` (and a traceback or reason in `error`)."""

    __slots__ = ("error", "exit_code", "time")

    def __init__(self, exit_code: int, error: str | None, time: float) -> None:
        self.exit_code = exit_code
        self.error = error
        self.time = time


class SystemItem:
    """One system-metrics sample: {key: float}."""

    __slots__ = ("sample", "time")

    def __init__(self, time: float, sample: dict[str, float]) -> None:
        self.time = time
        self.sample = sample


class OutputItem:
    """Complete console lines of one stream ("stdout"/"stderr")."""

    __slots__ = ("lines", "stream", "time")

    def __init__(self, stream: str, time: float, lines: list[str]) -> None:
        self.stream = stream
        self.time = time
        self.lines = lines


class FileSavedItem:
    """A run file the artifact service now holds (a FileSaved notice)."""

    __slots__ = ("path", "sha256", "size")

    def __init__(self, path: str, size: int, sha256: str) -> None:
        self.path = path
        self.size = size
        self.sha256 = sha256


class Barrier:
    """Not a record: `done` is set when everything queued before it is built and written."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


QueueItem = (HistoryItem | SummaryItem | ConfigItem | RunFieldsItem | FinishItem | SystemItem | OutputItem
             | FileSavedItem | Barrier)


class Outbox:
    """The run's queue and the one place its items are made. Shared by every producer thread and
    drained by the streamer thread."""

    __slots__ = ("queue",)

    def __init__(self, *, discard: bool = False) -> None:
        """`discard=True`: an outbox that keeps nothing (a disabled run, a forked child)."""
        self.queue: deque[QueueItem] = deque(maxlen=0) if discard else deque()

    def history(self, step: int, time: float, row: dict[str, Any]) -> None:
        self.queue.append(HistoryItem(step, time, row))

    def summary(self, values: dict[str, Any], remove: list[str]) -> None:
        self.queue.append(SummaryItem(values, remove))

    def config(self, values: dict[str, Any], remove: list[str]) -> None:
        self.queue.append(ConfigItem(values, remove))

    def run_fields(self, fields: dict[str, Any]) -> None:
        self.queue.append(RunFieldsItem(fields))

    def finish(self, exit_code: int, error: str | None, time: float) -> None:
        self.queue.append(FinishItem(exit_code, error, time))

    def system(self, time: float, sample: dict[str, float]) -> None:
        self.queue.append(SystemItem(time, sample))

    def output(self, stream: str, time: float, lines: list[str]) -> None:
        self.queue.append(OutputItem(stream, time, lines))

    def file_saved(self, path: str, size: int, sha256: str) -> None:
        self.queue.append(FileSavedItem(path, size, sha256))

    def barrier(self) -> threading.Event:
        b = Barrier()
        self.queue.append(b)
        return b.done

    def __len__(self) -> int:
        return len(self.queue)
