"""What travels on a run's queue: one named, typed item per kind, all built here by the `Outbox`.

Producers never build items themselves: each gets the run's `Outbox` through its constructor and
calls one method per kind. The streamer thread takes items off `Outbox.queue` and turns them into
records (`RecordBuilder.build`, which dispatches on the item's class).

    producer                               method                       item
    Run.log()                              history(step, time, row)     RowBlock      (rows of one key set, no
                                                                                       media), else HistoryItem
    run.summary[...] = / del               summary(values, remove)      SummaryItem
    run.config / init(config=)             config(values, remove)       ConfigItem
    run.update(), run.name = ...           run_fields(fields)           RunFieldsItem
    Streamer.finish()                      finish(code, error, time)    FinishItem
    capture.SystemMonitor (via Capture)    system(time, sample)         SystemItem
    ConsoleCapture                         output(stream, time, lines)  OutputItem
    RunFiles (after an upload)             file_saved(path, size, sha)  FileSavedItem
    Streamer.flush()                       barrier()                    Barrier       (no record: its event is
                                                                                       set once all before it is built)

Items are `__slots__` objects: making one costs about as much as the tuple it replaced. The deque is
shared by all producers: `append` and `popleft` are atomic under the GIL.

The hot path, a training loop logging the same numbers every step, makes no item per row: `log()` packs
the row into the outbox's open `RowBlock` (step, time and values, as the HistoryBlock record will hold
them), under `Outbox.lock`, with one call of `PACK_ROW`: runyard._speedups.pack_row (C, where it was built
at install) or `pack_row` here (the same rows, in Python). Queuing a summary, config, run-fields, finish
or barrier item closes the block, so those keep their order with the rows (system samples, console lines
and file notices have none to keep). The streamer seals the open block under the lock (`Outbox.seal`) and
then takes only the items queued before that, so it never reads a block that is still being filled
(bench/sdk_overhead.py).
"""

from __future__ import annotations

import struct
import threading
import warnings
from collections import deque
from collections.abc import Callable
from operator import itemgetter
from time import time as _now
from typing import Any

__all__ = [
    "BLOCK_BYTES",
    "NUMBER_TYPES",
    "PACK_ROW",
    "ROWS_PER_BLOCK",
    "SKIP",
    "Barrier",
    "ConfigItem",
    "FileSavedItem",
    "FinishItem",
    "HistoryItem",
    "Outbox",
    "OutputItem",
    "QueueItem",
    "RowBlock",
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


class RowBlock:
    """Rows logged one after another with one key set, packed as log() takes them: `rows` holds each row
    as `HistoryBlock.rows` lays it out (int64 step, float64 unix time, then a float64 per key in `keys`
    order; `width` bytes), `limit` bytes at most. `get` takes a row's values out of a logged dict in key
    order (KeyError when a key is missing); `last` is the newest row's values as logged, and `folded` the
    size of `rows` when they last went into the summary's view (`Outbox.fold`)."""

    __slots__ = ("folded", "get", "k", "keys", "last", "limit", "pack", "rows", "width")

    def __init__(self, keys: tuple[str, ...], layout: Layout) -> None:
        self.keys = keys
        self.k = len(keys)
        self.get, self.pack, self.width, rows = layout
        self.limit = rows * self.width
        self.rows = bytearray()
        self.folded = 0
        self.last: tuple[Any, ...] = ()


ROWS_PER_BLOCK = 4096  # at most this many rows ...
BLOCK_BYTES = 256 << 10  # ... and bytes a RowBlock (one record; several fit a batch message)
# the value types log() packs at once: conversion to float64 has no side effects (a tensor's would wait
# for its device, so tensors go to the streamer thread as a HistoryItem); numpy's scalars join on first sight
NUMBER_TYPES: set[type] = {float, int, bool}


# pack_row's type check adds the values up: numpy scalars may overflow there (a float32 next to 1e39) or add
# inf to -inf, which is about the check, not the data (each value is packed on its own), so numpy's warning
# is not shown
warnings.filterwarnings("ignore", message="(overflow|invalid value) encountered", category=RuntimeWarning,
                        module=r"runyard\._items$")


def pack_row(block: RowBlock, data: dict[str, Any], step: int) -> tuple[Any, ...] | None:
    """Append one logged row to `block.rows` as step, time.time() and the values of `block.keys`; returns
    the values as logged, or None (nothing appended) when a key is missing or a value is not a number of
    NUMBER_TYPES. Called with the outbox's lock held.

    Python floats, ints and bools add up to a float inside sum() without a call into any of them; anything
    else (a numpy scalar; a tensor, whose __radd__ queues device work and never waits for it) makes the
    total something else, and then the types are looked at one by one. runyard._speedups.pack_row does the
    same in C by type alone."""
    try:
        values = block.get(data)
        if type(sum(values, 0.0)) is float or NUMBER_TYPES.issuperset(map(type, values)):
            block.rows += block.pack(step, _now(), *values)
            return values
    except Exception:  # a key missing; text (TypeError); an int beyond float64 (OverflowError, struct.error)
        pass
    return None


def _compiled_pack_row() -> Callable[[RowBlock, dict[str, Any], int], tuple[Any, ...] | None] | None:
    try:
        from . import _speedups
    except ImportError:  # not built here (no compiler at install time, or RUNYARD_SDK_PURE=1)
        return None
    _speedups.set_number_types(NUMBER_TYPES)  # the same set: numpy types registered later count too
    return _speedups.pack_row


PACK_ROW = _compiled_pack_row() or pack_row
"""log()'s packer: the compiled one where it was built, else `pack_row`."""


# how rows of a key set are taken and packed: (values getter, packer, row width, rows per block)
Layout = tuple[Callable[[dict[str, Any]], tuple[Any, ...]], Callable[..., bytes], int, int]


def _layout(keys: tuple[str, ...]) -> Layout:
    if len(keys) > 1:
        get: Callable[[dict[str, Any]], tuple[Any, ...]] = itemgetter(*keys)
    else:
        key = keys[0]
        get = lambda row: (row[key],)  # noqa: E731
    packer = struct.Struct(f"<qd{len(keys)}d")
    return get, packer.pack, packer.size, max(1, min(ROWS_PER_BLOCK, BLOCK_BYTES // packer.size))


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


QueueItem = (HistoryItem | RowBlock | SummaryItem | ConfigItem | RunFieldsItem | FinishItem | SystemItem | OutputItem
             | FileSavedItem | Barrier)


class Outbox:
    """The run's queue and the one place its items are made. Shared by every producer thread and
    drained by the streamer thread."""

    __slots__ = ("_layouts", "block", "lock", "logged", "queue")

    def __init__(self, *, discard: bool = False) -> None:
        """`discard=True`: an outbox that keeps nothing (a disabled run, a forked child)."""
        self.queue: deque[QueueItem] = deque(maxlen=0) if discard else deque()
        self.lock = threading.Lock()  # the run's lock: held by log() while it fills `block`
        self.block: RowBlock | None = None  # the open block (log() adds rows of its key set to it)
        self.logged: dict[str, Any] = {}  # the summary's view of the last logged values (Run sets it)
        self._layouts: dict[tuple[str, ...], Layout] = {}

    def close(self) -> None:
        """Close the open block (its newest values go into `logged`). Call with `lock` held."""
        block = self.block
        if block is not None:
            self.block = None
            if block.folded != len(block.rows):
                self.logged.update(zip(block.keys, block.last))
                block.folded = len(block.rows)

    def fold(self) -> None:
        """Bring `logged` up to date with the open block (the summary calls this before it is read)."""
        block = self.block
        if block is not None and block.folded != len(block.rows):
            with self.lock:
                block = self.block
                if block is not None:
                    self.logged.update(zip(block.keys, block.last))
                    block.folded = len(block.rows)

    def seal(self) -> int:
        """Close the open block; returns how many items are queued now. Call with `lock` held: after it, no
        thread adds to a block already queued."""
        self.close()
        return len(self.queue)

    def history(self, step: int, time: float, row: dict[str, Any], keep_open: bool = True) -> None:
        """One flattened row, already in `logged`. Called with `lock` held. A row of numbers opens a block
        that log() fills while the keys stay (unless `keep_open` is false: log() must see the next rows);
        any other row goes as a HistoryItem (values the streamer thread converts: media, text, tensors)."""
        self.close()
        if row and NUMBER_TYPES.issuperset(map(type, row.values())):
            keys = tuple(row)
            layout = self._layouts.get(keys)
            if layout is None:
                if len(self._layouts) > 1000:
                    self._layouts.clear()
                layout = self._layouts[keys] = _layout(keys)
            block = RowBlock(keys, layout)
            values = block.get(row)
            try:
                block.rows += block.pack(step, time, *values)
            except (struct.error, OverflowError):  # an int beyond float64: the streamer makes it JSON
                pass
            else:
                block.folded = len(block.rows)
                block.last = values
                if keep_open and block.folded < block.limit:
                    self.block = block
                self.queue.append(block)
                return
        self.queue.append(HistoryItem(step, time, row))

    def summary(self, values: dict[str, Any], remove: list[str]) -> None:
        with self.lock:
            self.close()
        self.queue.append(SummaryItem(values, remove))

    def config(self, values: dict[str, Any], remove: list[str]) -> None:
        with self.lock:
            self.close()
        self.queue.append(ConfigItem(values, remove))

    def run_fields(self, fields: dict[str, Any]) -> None:
        with self.lock:
            self.close()
        self.queue.append(RunFieldsItem(fields))

    def finish(self, exit_code: int, error: str | None, time: float) -> None:
        with self.lock:
            self.close()
        self.queue.append(FinishItem(exit_code, error, time))

    def system(self, time: float, sample: dict[str, float]) -> None:  # no order with history rows to keep
        self.queue.append(SystemItem(time, sample))

    def output(self, stream: str, time: float, lines: list[str]) -> None:  # no order with history rows to keep
        self.queue.append(OutputItem(stream, time, lines))

    def file_saved(self, path: str, size: int, sha256: str) -> None:  # no order with history rows to keep
        self.queue.append(FileSavedItem(path, size, sha256))

    def barrier(self) -> threading.Event:
        b = Barrier()
        with self.lock:
            self.close()
        self.queue.append(b)
        return b.done

    def __len__(self) -> int:
        return len(self.queue)
