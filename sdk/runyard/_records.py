"""Turns the run's queue items (`runyard._items`) into serialized `Record`s with sequence numbers
(streamer thread).

A `RowBlock` (numbers logged one after another under one key set: a training loop's rows, packed by
log()) becomes one `HistoryBlock` record as it is, so a row costs the streamer thread next to nothing
(bench/sdk_overhead.py). Other rows (media, text, tensors, refused keys) go one record each, as
`HistoryRow`s; so do a block's rows when the server does not take blocks (`RecordBuilder.blocks`).

The summary follows the last logged value of each key unless the key was set explicitly: after each
group of history rows one SummaryUpdate carries the latest logged values of the keys never set by hand.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from runyard_proto.v1 import ingest_pb2 as pb

from . import _console
from ._encode import (
    block_record,
    encode_keys,
    history_body,
    history_record,
    numeric_history_record,
    values_prefix,
    varint,
)
from ._flatten import split_values
from ._items import (
    BLOCK_BYTES,
    SKIP,
    Barrier,
    ConfigItem,
    FileSavedItem,
    FinishItem,
    HistoryItem,
    OutputItem,
    QueueItem,
    RowBlock,
    RunFieldsItem,
    SummaryItem,
    SystemItem,
)
from ._jsonify import clean_json, clean_text, json_needs_cleaning, jsonable, text_problem
from .wal import Frame

if TYPE_CHECKING:
    from ._metrics import Metrics

__all__ = ["MAX_RECORD_BYTES", "RecordBuilder"]

MAX_RECORD_BYTES = 3 << 20  # the ingest gRPC server takes messages up to 4 MiB
MAX_KEY_LENGTH = 256  # the ingest server's limits (a record breaking them would stop the whole stream)
MAX_JSON_VALUE_BYTES = 1_000_000
RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})
# a block of fewer rows goes as HistoryRows: ingest reads a row in about 2 µs, a block in about 30 µs plus
# 0.1 µs a row (rows that change keys, or a loop with define_metric, make blocks of one row)
MIN_BLOCK_ROWS = 16
_FAST_MAX = MAX_RECORD_BYTES - 64  # a numeric row whose keys and values stay below this fits the limit


def key_problem(key: str) -> str | None:
    """Why the server would refuse this history key, or None."""
    if not key:
        return "an empty key"
    if len(key) > MAX_KEY_LENGTH:
        return f"longer than {MAX_KEY_LENGTH} characters"
    if key in RESERVED_KEYS:
        return "a reserved name"
    if key.startswith("system/"):
        return "in the 'system/' namespace, which is kept for system metrics"
    problem = text_problem(key)
    if problem is not None:
        return f"not storable: it holds {problem}"
    return None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


MediaBinder = Callable[[str, Any, int], Any]


def _show(key: str) -> str:
    """A key as a warning names it: quoted, cut at 80 characters."""
    return repr(key[:80])


class RecordBuilder:
    """`media_binder` turns media values into JSON descriptors (and run files); `metrics` (the run's
    `define_metric` definitions) decides what the automatic summary holds for a key."""

    def __init__(self, next_seq: int = 1, *, media_binder: MediaBinder | None = None,
                 metrics: Metrics | None = None) -> None:
        self.next_seq = next_seq
        self.media_binder = media_binder
        self.metrics = metrics
        self.explicit_summary: set[str] = set()
        self.dropped = 0
        self._barriers: list[threading.Event] = []
        self._cleaned: set[str] = set()  # what was reported as cleaned (once each)
        self._good_keys: set[str] = set()
        self._bad_keys: set[str] = set()
        # encoded key sets by the tuple of a row's keys; None: some key is refused (slow path)
        self._keysets: dict[tuple[str, ...], tuple[bytes, struct.Struct, struct.Struct, int] | None] = {}
        self._last_sig: tuple[str, ...] | None = None
        # the latest row of each key set since the last summary update, oldest first
        self._last_rows: dict[tuple[str, ...], dict[str, Any]] = {}
        # rows of numbers become HistoryBlocks (the server names "history_block" in RunOpened.features)
        self.blocks = True
        # key set -> its encoded keys in a HistoryBlock, or None (a key is refused: rows go one by one)
        self._blockset: dict[tuple[str, ...], bytes | None] = {}

    def _clean(self, row: dict[str, Any]) -> dict[str, Any]:
        """Drop (and report once) keys the server would refuse; rows are rarely touched."""
        good = self._good_keys
        bad = None
        for key in row:
            if key not in good:
                problem = key_problem(key)
                if problem is None:
                    good.add(key)
                else:
                    bad = bad or []
                    bad.append((key, problem))
        if not bad:
            return row
        row = dict(row)
        for key, problem in bad:
            del row[key]
            if key not in self._bad_keys:
                self._bad_keys.add(key)
                _console.warn(f"the key {_show(key)} is {problem}; its values are not saved")
        return row

    def _clean_json(self, jkeys: list[str], jvalues: list[str], step: int) -> None:
        for i in range(len(jvalues) - 1, -1, -1):
            if len(jvalues[i]) > MAX_JSON_VALUE_BYTES:
                _console.warn(
                    f"the value of {_show(jkeys[i])} at step {step} is {len(jvalues[i])} bytes of JSON; "
                    f"the limit is {MAX_JSON_VALUE_BYTES}; it is not saved"
                )
                del jkeys[i], jvalues[i]
            elif json_needs_cleaning(jvalues[i]):
                cleaned, changed = clean_json(json.loads(jvalues[i]))
                if changed:
                    self._warn_cleaned(f"the value of {_show(jkeys[i])}", f"history:{jkeys[i]}")
                    jvalues[i] = _dumps(cleaned)

    def _warn_cleaned(self, what: str, once_key: str) -> None:
        if once_key not in self._cleaned:
            self._cleaned.add(once_key)
            _console.warn(f"{what} holds text the server cannot store (a NUL character or a lone surrogate); "
                          "it is saved with U+FFFD in its place")

    def _json_object(self, values: dict[str, Any], what: str) -> str:
        """A config or summary change as JSON, each top-level key with unstorable text cleaned (and named)."""
        plain = jsonable(values)
        dumped = _dumps(plain)
        if not json_needs_cleaning(dumped):
            return dumped
        out: dict[str, Any] = {}
        for key, value in plain.items():
            cleaned, changed = clean_json({key: value})
            if changed:
                self._warn_cleaned(f"the {what} key {_show(key)}", f"{what}:{key}")
            out.update(cleaned)
        return _dumps(out)

    def _add(self, data: bytes, kind: str, out: list[Frame]) -> None:
        if len(data) > MAX_RECORD_BYTES:
            self.dropped += 1
            _console.warn(
                f"a {kind} record of {len(data)} bytes is larger than the limit of "
                f"{MAX_RECORD_BYTES} bytes and was not saved; log smaller values"
            )
            return
        out.append((self.next_seq, data))
        self.next_seq += 1

    def _frame(self, rec: pb.Record, out: list[Frame]) -> None:
        rec.seq = self.next_seq
        self._add(rec.SerializeToString(), str(rec.WhichOneof("payload")), out)

    def _keyset(self, sig: tuple[str, ...]) -> tuple[bytes, struct.Struct, struct.Struct, int] | None:
        """(keys and values header, values struct, the struct of everything after the step: timestamp tag,
        timestamp, keys, values; its size), or None."""
        if len(self._keysets) > 10_000:
            self._keysets.clear()
        ok = all(k in self._good_keys or key_problem(k) is None for k in sig)
        prefix = values_prefix(sig) if ok else b""
        # None (slow path, checked there) when a key is refused or the row could break the size limit
        entry = None
        if ok and len(prefix) + 8 * len(sig) < _FAST_MAX:
            tail = struct.Struct(f"<Bd{len(prefix)}s{len(sig)}d")
            entry = (prefix, struct.Struct(f"<{len(sig)}d"), tail, tail.size)
        self._keysets[sig] = entry
        return entry

    def _rows(self, block: RowBlock, out: list[Frame]) -> None:
        """A RowBlock as one HistoryBlock record: its rows are packed as the record holds them. With a refused
        key, or a server that takes no blocks, its rows go one record each (the per-row path decides)."""
        sig = block.keys
        n = len(block.rows) // block.width
        if not n:
            return
        try:
            head = self._blockset[sig] if self.blocks else None
        except KeyError:
            head = self._head(sig)
        rows = block.rows
        if head is None or n < MIN_BLOCK_ROWS:
            for step, ts, *values in struct.iter_unpack(f"<qd{len(sig)}d", rows):
                self._history(step, ts, dict(zip(sig, values)), out)
            if head is not None:  # the summary gets the values as logged (an int stays an int)
                self._last_rows[sig] = dict(zip(sig, block.last))
            return
        seq = self.next_seq
        out.append((seq, block_record(seq, head, rows)))
        self.next_seq = seq + 1
        last = self._last_rows
        if sig is not self._last_sig and sig != self._last_sig:
            last.pop(sig, None)
            self._last_sig = sig
        last[sig] = dict(zip(sig, block.last))

    def _head(self, sig: tuple[str, ...]) -> bytes | None:
        """The encoded keys of a HistoryBlock with this key set, or None when a key is refused."""
        if len(self._blockset) > 10_000:
            self._blockset.clear()
        good = self._good_keys
        head = None
        if all(k in good or key_problem(k) is None for k in sig):
            good.update(sig)
            head = encode_keys(sig, b"\x0a")
            if len(head) + BLOCK_BYTES + 64 > MAX_RECORD_BYTES:  # thousands of long keys: rows one by one
                head = None
        self._blockset[sig] = head
        return head

    def _history(self, step: int, ts: float, row: dict[str, Any], out: list[Frame]) -> None:
        sig = tuple(row)
        try:
            entry = self._keysets[sig]
        except KeyError:
            entry = self._keyset(sig)
        data = None
        if entry is not None:
            # fast path: every value converts to float64 (numbers, numpy scalars, 0-d tensors). With a step
            # and a timestamp (protobuf leaves zeros out), one pack writes all after the step, one join the
            # record: Record{1: seq, 2: HistoryRow{1: step, 2: timestamp, 3: keys, 4: values}}
            try:
                if step and ts:
                    stepv = varint(step)
                    seq = self.next_seq
                    data = b"".join((b"\x08", varint(seq), b"\x12", varint(1 + len(stepv) + entry[3]), b"\x08", stepv,
                                     entry[2].pack(0x11, ts, entry[0], *row.values())))
                    out.append((seq, data))  # under the size limit by construction (_keyset)
                    self.next_seq = seq + 1
                    if sig is not self._last_sig and sig != self._last_sig:
                        self._last_rows.pop(sig, None)
                        self._last_sig = sig
                    self._last_rows[sig] = row
                    return
                data = numeric_history_record(self.next_seq, step, ts, entry[0], entry[1].pack(*row.values()))
            except (struct.error, TypeError, ValueError, OverflowError):
                data = None
        if data is None:
            if self.media_binder is not None:
                row = self._bind_media(step, row)
            keys, values, jkeys, jvalues = split_values(self._clean(row))
            if jkeys:
                self._clean_json(jkeys, jvalues, step)
            packed = struct.pack(f"<{len(values)}d", *values) if values else b""
            body = history_body(step, ts, encode_keys(keys), packed, jkeys, jvalues)
            data = history_record(self.next_seq, body)
        self._add(data, "history", out)
        last = self._last_rows
        last.pop(sig, None)
        last[sig] = row
        self._last_sig = sig

    def _bind_media(self, step: int, row: dict[str, Any]) -> dict[str, Any]:
        binder = self.media_binder
        assert binder is not None
        changed: dict[str, Any] | None = None
        for key, value in row.items():
            t = type(value)
            if t is float or t is int or t is str or t is bool or value is None:
                continue
            bound = binder(key, value, step)
            if bound is not None:
                changed = changed if changed is not None else {}
                changed[key] = bound
        if not changed:
            return row
        row = dict(row)
        for key, bound in changed.items():
            if bound is SKIP:
                del row[key]
            else:
                row[key] = bound
        return row

    def _flush_auto(self, out: list[Frame]) -> None:
        """One SummaryUpdate with the latest logged value of every key not set explicitly."""
        if not self._last_rows:
            return
        explicit, bad = self.explicit_summary, self._bad_keys
        auto: dict[str, Any] = {}
        for row in self._last_rows.values():
            for key, value in row.items():
                if key not in explicit and key not in bad:
                    auto[key] = value
        metrics = self.metrics
        if metrics is not None and metrics.defs:
            summary_value = metrics.summary_value
            for key in list(auto):
                value = summary_value(key, auto[key])
                if value is SKIP:
                    del auto[key]
                else:
                    auto[key] = value
        self._last_rows.clear()
        if auto:
            self._frame(pb.Record(summary=pb.SummaryUpdate(set_json=self._json_object(auto, "summary"))), out)

    def build(self, items: Iterable[QueueItem]) -> list[Frame]:
        out: list[Frame] = []
        explicit = self.explicit_summary
        pending_out: OutputItem | None = None  # consecutive output of one stream becomes one record
        for item in items:
            if pending_out is not None and not isinstance(item, OutputItem):
                self._output(pending_out, out)
                pending_out = None
            if type(item) is RowBlock:
                self._rows(item, out)
            elif isinstance(item, HistoryItem):
                self._history(item.step, item.time, item.row, out)
            elif isinstance(item, SummaryItem):
                self._flush_auto(out)
                explicit.update(item.values)
                explicit.difference_update(item.remove)  # a removed key follows logging again
                rec = pb.SummaryUpdate(set_json=self._json_object(item.values, "summary"),
                                       remove=[clean_text(k) for k in item.remove])
                self._frame(pb.Record(summary=rec), out)
            elif isinstance(item, ConfigItem):
                rec_c = pb.ConfigUpdate(set_json=self._json_object(item.values, "config"),
                                        remove=[clean_text(k) for k in item.remove])
                self._frame(pb.Record(config=rec_c), out)
            elif isinstance(item, RunFieldsItem):
                fields = item.fields
                upd = pb.RunUpdate()
                for name in ("name", "notes", "group", "job_type"):  # cleaned by Run.update() already
                    if fields.get(name) is not None:
                        setattr(upd, name, clean_text(str(fields[name])))
                if fields.get("tags") is not None:
                    upd.set_tags = True
                    upd.tags.extend(clean_text(str(t)) for t in fields["tags"])
                self._frame(pb.Record(update=upd), out)
            elif isinstance(item, FinishItem):
                self._flush_auto(out)
                fin = pb.Finish(exit_code=item.exit_code, error=clean_text(item.error or ""), time=item.time)
                self._frame(pb.Record(finish=fin), out)
            elif isinstance(item, SystemItem):
                sample = item.sample
                keys = [k for k in sample if k and len(k) <= MAX_KEY_LENGTH - 8 and text_problem(k) is None]
                self._frame(pb.Record(system=pb.SystemMetrics(
                    timestamp=item.time, keys=keys, values=[float(sample[k]) for k in keys])), out)
            elif isinstance(item, OutputItem):
                if pending_out is not None and (pending_out.stream != item.stream or len(pending_out.lines) >= 1000):
                    self._output(pending_out, out)
                    pending_out = None
                if pending_out is None:
                    pending_out = OutputItem(item.stream, item.time, list(item.lines))
                else:
                    pending_out.lines.extend(item.lines)
            elif isinstance(item, FileSavedItem):
                saved = pb.FileSaved(path=clean_text(item.path), size=item.size, sha256=item.sha256)
                self._frame(pb.Record(file=saved), out)
            elif isinstance(item, Barrier):
                self._barriers.append(item.done)
            else:  # pragma: no cover - programming error
                raise TypeError(f"unknown queue item {item!r}")
        if pending_out is not None:
            self._output(pending_out, out)
        self._flush_auto(out)
        return out

    def take_barriers(self) -> list[threading.Event]:
        """The barriers met by `build()` since the last call (set them once the frames are written)."""
        out, self._barriers = self._barriers, []
        return out

    def _output(self, pending: OutputItem, out: list[Frame]) -> None:
        lines = pending.lines  # cleaned by ConsoleCapture
        for start in range(0, len(lines), 1000):
            rec = pb.OutputLines(timestamp=pending.time, stream=pending.stream, lines=lines[start:start + 1000])
            self._frame(pb.Record(output=rec), out)
