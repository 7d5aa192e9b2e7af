"""Domain logic of ingest: open or resume a run, write a batch of records in one transaction.

The servicer translates protobuf to calls here; everything that touches PostgreSQL for ingest lives in
this module and in `queries.py`. `last_seq` moves in the same transaction as the data, so a replayed
record (seq <= last_seq) is skipped: nothing is lost or doubled across reconnects.

Every record stands alone. A record that breaks a rule (validate.py) or holds a value PostgreSQL refuses
(SQLSTATE class 22: a NUL character, bad Unicode, a number out of range) is rejected with a reason that
names it, and the rest of its batch is committed; the Ack lists the rejected ones (`BatchResult.rejected`).
The fast path is one transaction per batch; only when PostgreSQL refuses a value that validation let
through does the batch go again, in halves under savepoints, until the offending records are found.
Sequencing is strict, per sequence (pb.Record, docs/decisions.md "One rule set for ingest sequencing"):
each record belongs to the run's main sequence (`last_seq`, channel "") or to a named channel
(`runs.channel_seqs`); in each, records at or below the stored highest are replays and are skipped, and
the first new one is highest + 1 and each next one + 1. A gap, a seq 0 of a kind that is not an
idempotent edit, or a seq 0 on a channel is a FailedPrecondition that ends the stream, and nothing of
that batch is stored. Idempotent edits (summary, config, run update, finish, console lines written at a
line number) may be unsequenced (seq 0): applied every time they arrive, no guard moved.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np

from runyard_proto.v1 import ingest_pb2 as pb

from ..common import history_codec, history_lod
from ..common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    data_error_text,
)
from ..common.limits import INT64_MAX
from ..common.logs import logger
from ..common.verifier import Principal, entity_id_for_write
from . import metrics, queries, validate
from .names import generate_name
from .validate import Limits

__all__ = ["BatchResult", "Limits", "OpenedRun", "compact", "heartbeat", "open_run", "write_batch"]

log = logger("ingest.writer")

RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})
# Sequence 0: an idempotent edit, applied every time it arrives without moving any replay guard
# (pb.Record.seq). Only kinds whose repetition changes nothing may use it; a second writer of the same
# run (the W&B protocol's edits beside its file stream) then never races the first for numbers.
UNSEQUENCED = 0
MAX_CHANNEL_LENGTH = 64
_IDEMPOTENT_KINDS = frozenset({"summary", "config", "update", "finish"})
TIMESTAMP_KEY = "_timestamp"
# what this server takes beyond the records every version knows (RunOpened.features)
FEATURES = ("history_block",)
SYSTEM_PREFIX = "system/"
# errors that mean "this value cannot be stored", as opposed to "the database is away"
_DATA_ERRORS = (asyncpg.DataError, UnicodeEncodeError)


@dataclass
class OpenedRun:
    pk: int
    project_pk: int
    run_id: str
    entity: str
    project: str
    name: str
    state: str
    resumed: bool
    last_seq: int
    next_step: int
    key_ids: dict[str, int] = field(default_factory=dict)
    channel_seqs: dict[str, int] = field(default_factory=dict)  # highest sequence per named channel
    loose_chunks: int = 0
    sync: bool = False  # opened by `runyard sync`: its records never make the run "running"

    def needs_compaction(self) -> bool:
        """Many small batches of a live run leave many small chunks: merge them now and then."""
        return self.loose_chunks >= 32 * max(1, len(self.key_ids))

    def opened(self) -> pb.RunOpened:
        """The run as the client learns it (Ingest.Stream's and Ingest.Bulk's first answer)."""
        return pb.RunOpened(run_id=self.run_id, entity=self.entity, project=self.project, name=self.name,
                            resumed=self.resumed, last_seq=self.last_seq, next_step=self.next_step,
                            state=self.state, channel_seqs=self.channel_seqs, features=FEATURES)


@dataclass
class BatchResult:
    seq: int                     # every record of the main sequence up to here is committed or rejected
    finished: bool               # a Finish record was committed
    # (seq, reason, channel), refused alone; seq 0 for an unsequenced record
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    stored: int = 0              # records committed by this call
    channels: dict[str, int] = field(default_factory=dict)  # new highest sequence of each channel written


def check_open(req: pb.OpenRun, limits: Limits) -> dict[str, Any]:
    """Validate an OpenRun; returns its config. Raises InvalidArgument naming the field."""
    if not req.project:
        raise InvalidArgument("OpenRun.project is required")
    if not req.run_id:
        raise InvalidArgument("OpenRun.run_id is required")
    _check_name("run id", req.run_id, 64, extra="_-")
    _check_name("project", req.project, 128, extra="_.-")
    if req.entity:
        validate.text("OpenRun.entity", req.entity, validate.MAX_ENTITY)
    resume = req.resume or "allow"
    if resume not in ("allow", "must", "never"):
        raise InvalidArgument(f"OpenRun.resume must be allow, must or never, got {req.resume[:40]!r}")
    validate.text("OpenRun.name", req.name, validate.MAX_RUN_NAME)
    validate.text("OpenRun.notes", req.notes, validate.MAX_NOTES, single_line=False)
    validate.text("OpenRun.group", req.group, validate.MAX_GROUP)
    validate.text("OpenRun.job_type", req.job_type, validate.MAX_JOB_TYPE)
    validate.text("OpenRun.host", req.host, validate.MAX_HOST)
    validate.tags("OpenRun.tags", list(req.tags))
    if req.start_time:
        validate.timestamp("OpenRun.start_time", req.start_time)
    if not req.config_json:
        return {}
    config: dict[str, Any] = validate.json_document(req.config_json, "OpenRun.config_json", limits)
    validate.top_level_keys(config, "OpenRun.config_json", limits)
    return config


async def open_run(
    conn: asyncpg.Connection, who: Principal, req: pb.OpenRun, limits: Limits, *, own_transaction: bool = True
) -> OpenedRun:
    """Create or resume the run that `req` names, as `who`. Raises domain errors.

    A run that a sync stream creates starts `crashed` (no process reports for it; the folder's Finish
    record, when it has one, finishes it); a sync stream never changes an existing run's state.
    `own_transaction=False`: inside the caller's transaction (Ingest.Bulk's group commit, bulk.py), which
    it must roll back as a whole when this raises.
    """
    config = check_open(req, limits)
    resume = req.resume or "allow"
    async with conn.transaction() if own_transaction else contextlib.nullcontext():
        entity_pk = await entity_id_for_write(conn, who, req.entity)
        entity_name = await conn.fetchval("SELECT name FROM entities WHERE id = $1", entity_pk)
        project_pk = await queries.upsert_project(conn, entity_pk, req.project)
        row = await queries.lock_run(conn, project_pk, req.run_id)
        if row is not None:
            if resume == "never":
                raise AlreadyExists(
                    f"run {entity_name}/{req.project}/{req.run_id} already exists (resume='never')"
                )
            row = await queries.resume_run(conn, row["id"])
            resumed = True
        else:
            if resume == "must":
                raise NotFound(
                    f"run {entity_name}/{req.project}/{req.run_id} does not exist (resume='must')"
                )
            number = await queries.next_run_number(conn, project_pk)
            name = req.name or generate_name(number)
            row = await queries.insert_run(
                conn,
                project_pk=project_pk,
                run_id=req.run_id,
                name=name,
                number=number,
                config=config,
                tags=list(req.tags),
                group=req.group,
                job_type=req.job_type,
                notes=req.notes,
                host=req.host,
                created_by=who.user_id,
                start_time=req.start_time or time.time(),
                state="crashed" if req.sync else "running",
            )
            resumed = False
        key_ids = await queries.key_ids(conn, row["id"])
    return OpenedRun(
        pk=row["id"],
        project_pk=project_pk,
        run_id=req.run_id,
        entity=entity_name,
        project=req.project,
        name=row["name"],
        state=row["state"],
        resumed=resumed,
        last_seq=row["last_seq"],
        next_step=row["next_step"],
        key_ids=key_ids,
        channel_seqs=_channel_seqs(row["channel_seqs"]),
        sync=req.sync,
    )


def _channel_seqs(stored: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (stored or {}).items()}


@dataclass
class _Batch:
    """A batch sorted by kind, ready to write."""

    # history rows grouped by key set: (arrival indexes, steps, each row's values as packed little-endian
    # float64 bytes)
    groups: dict[tuple[str, ...], tuple[list[int], list[int], list[bytes]]] = field(default_factory=dict)
    # the fast path (_collect_history): the last key set's serialized keys + values header, the values'
    # size in bytes, and its group
    fast: tuple[bytes, int, tuple[list[int], list[int], list[bytes]]] | None = None
    bad_groups: dict[tuple[str, ...], str] = field(default_factory=dict)  # key sets refused, and why
    # HistoryBlocks: (key set, arrival indexes, steps, timestamps, values as rows x keys)
    blocks: list[tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list)
    rows: int = 0
    ts_steps: list[int] = field(default_factory=list)
    ts_values: list[float] = field(default_factory=list)
    # points added one by one (system metrics)
    points: dict[str, tuple[list[int], list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: ([], []))
    )
    json_points: list[tuple[str, int, Any]] = field(default_factory=list)
    summary_set: dict[str, Any] = field(default_factory=dict)
    summary_remove: set[str] = field(default_factory=set)
    config_set: dict[str, Any] = field(default_factory=dict)
    config_remove: set[str] = field(default_factory=set)
    output: list[tuple[float, str, str]] = field(default_factory=list)
    # console lines written at a line number (OutputLines.first_line): line_no -> (ts, stream, text)
    output_at: dict[int, tuple[float, str, str]] = field(default_factory=dict)
    update: dict[str, Any] = field(default_factory=dict)
    finish: pb.Finish | None = None
    max_step: int = -1
    accepted: list[pb.Record] = field(default_factory=list)  # the records that passed validation
    rejected: list[tuple[int, str, str]] = field(default_factory=list)

    def has_data(self) -> bool:
        return bool(self.rows or self.points or self.json_points or self.output or self.output_at)

    def columns(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every key's (steps, values) in arrival order, as numpy arrays."""
        pieces: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        for keys, (idx, steps, values) in self.groups.items():
            if not steps:
                continue
            i = np.asarray(idx, dtype=np.int64)
            s = np.asarray(steps, dtype=np.int64)
            v = np.frombuffer(b"".join(values), dtype=_F8).reshape(len(steps), len(keys))
            for j, key in enumerate(keys):
                pieces[key].append((i, s, v[:, j]))
        for keys, i, s, _, v in self.blocks:
            for j, key in enumerate(keys):
                pieces[key].append((i, s, v[:, j]))
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, parts in pieces.items():
            if len(parts) == 1:
                out[key] = (parts[0][1], np.ascontiguousarray(parts[0][2]))
            elif all(parts[n][0][-1] < parts[n + 1][0][0] for n in range(len(parts) - 1)):
                # pieces one after another (a run's blocks): arrival order already
                out[key] = (np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]))
            else:  # the key appears in rows of several key sets: restore arrival order
                i = np.concatenate([p[0] for p in parts])
                order = np.argsort(i, kind="stable")
                out[key] = (np.concatenate([p[1] for p in parts])[order],
                            np.concatenate([p[2] for p in parts])[order])
        if self.blocks:
            parts = [(i, s, t) for _, i, s, t, _ in self.blocks]
            if self.ts_steps:  # the rows' timestamps: every arrival index no block holds, in order
                free = np.ones(self.rows, dtype=bool)
                for i, _, _ in parts:
                    free[i] = False
                parts.append((np.flatnonzero(free), np.asarray(self.ts_steps, dtype=np.int64),
                              np.asarray(self.ts_values, dtype=np.float64)))
            i = np.concatenate([p[0] for p in parts])
            order = np.argsort(i, kind="stable")
            out[TIMESTAMP_KEY] = (np.concatenate([p[1] for p in parts])[order],
                                  np.concatenate([p[2] for p in parts])[order])
        elif self.ts_steps:
            out[TIMESTAMP_KEY] = (np.asarray(self.ts_steps, dtype=np.int64),
                                  np.asarray(self.ts_values, dtype=np.float64))
        for key, (steps, vals) in self.points.items():
            out[key] = (np.asarray(steps, dtype=np.int64), np.asarray(vals, dtype=np.float64))
        return out


_LABELS = {"history": "history row", "history_block": "history block", "summary": "summary update", "config": "config update",
           "system": "system metrics", "output": "console output", "file": "file notice",
           "finish": "finish", "update": "run update", None: "empty record"}


def _label(rec: pb.Record, kind: str | None) -> str:
    if kind == "history":
        what = f"history row at step {rec.history.step}"
    elif kind == "history_block":
        block = rec.history_block
        width = 8 * (2 + len(block.keys))
        what = "history block" if len(block.rows) < width else (
            f"history block of {len(block.rows) // width} rows from step "
            f"{int.from_bytes(block.rows[:8], 'little', signed=True)}")
    else:
        what = _LABELS.get(kind, kind or "record")
    if rec.seq == UNSEQUENCED:
        return f"unsequenced {what}"
    if rec.channel:
        return f"record {rec.seq} of channel {rec.channel!r} ({what})"
    return f"record {rec.seq} ({what})"


@dataclass
class Fresh:
    """The new records of a batch (replays dropped) and where each sequence stands after them."""

    records: list[pb.Record]
    last_seq: int                                            # the main sequence's new highest
    channels: dict[str, int] = field(default_factory=dict)   # each channel written: its new highest


def new_records(records: Sequence[pb.Record], last_seq: int, channel_seqs: dict[str, int] | None = None) -> Fresh:
    """The records not stored yet, checked against the sequencing rule (module docstring): per sequence,
    replays (at or below the stored highest) dropped and the rest continuing highest + 1 without gaps;
    seq 0 only for idempotent edits on the main sequence. Raises FailedPrecondition naming the numbers."""
    prev = last_seq
    out: list[pb.Record] = []
    channels: dict[str, int] = {}
    for rec in records:
        seq = rec.seq
        channel = rec.channel
        if channel:
            if seq == UNSEQUENCED:
                raise FailedPrecondition(
                    f"a record on channel {channel[:MAX_CHANNEL_LENGTH]!r} needs a sequence number: channel "
                    "sequences start at 1 (only idempotent edits of the main sequence may have seq 0)"
                )
            if len(channel) > MAX_CHANNEL_LENGTH:
                raise FailedPrecondition(f"channel names have at most {MAX_CHANNEL_LENGTH} characters")
            stored = (channel_seqs or {}).get(channel, 0)
            if seq <= stored:
                continue  # already stored on this channel: a replay
            high = channels.get(channel, stored)
            if seq != high + 1:
                raise FailedPrecondition(
                    f"record sequence gap on channel {channel!r}: got {seq} after {high}; "
                    f"the next record must be {high + 1}"
                )
            channels[channel] = seq
            out.append(rec)
            continue
        if seq == UNSEQUENCED:
            kind = rec.WhichOneof("payload")
            if kind not in _IDEMPOTENT_KINDS and not (kind == "output" and rec.output.HasField("first_line")):
                raise FailedPrecondition(
                    f"record sequence numbers start at 1; a {_LABELS.get(kind, kind or 'record')} with seq 0 "
                    f"came after {prev} (seq 0 is only for idempotent edits: summary, config, run updates, "
                    "finish and console lines written at a line number)"
                )
            out.append(rec)
            continue
        if seq <= last_seq:
            continue  # already stored: a replay after reconnect
        if seq != prev + 1:
            raise FailedPrecondition(
                f"record sequence gap: got {seq} after {prev}; the next record must be {prev + 1}"
            )
        prev = seq
        out.append(rec)
    return Fresh(out, prev, channels)


def _collect(records: Iterable[pb.Record], limits: Limits) -> _Batch:
    """Sort valid records into a batch; a record that breaks a rule is rejected alone (b.rejected)."""
    b = _Batch()
    for rec in records:
        kind = rec.WhichOneof("payload")
        try:
            if kind == "history_block":
                _collect_block(b, rec.history_block, limits)
            elif kind == "history":
                _collect_history(b, rec.history, limits)
            elif kind == "system":
                _collect_system(b, rec.system, limits)
            elif kind == "summary":
                _merge_update(b.summary_set, b.summary_remove, rec.summary, "summary", limits)
            elif kind == "config":
                _merge_update(b.config_set, b.config_remove, rec.config, "config", limits)
            elif kind == "output":
                _collect_output(b, rec.output)
            elif kind == "update":
                _collect_update(b, rec.update)
            elif kind == "finish":
                validate.text("Finish.error", rec.finish.error, validate.MAX_ERROR, single_line=False)
                if rec.finish.time:
                    validate.timestamp("Finish.time", rec.finish.time)
                b.finish = rec.finish
            elif kind is None:  # a payload this server does not know (a newer client), or none at all
                raise InvalidArgument("a record with no payload this server knows (is the client newer than "
                                      "the server?)")
            # file-saved notices are recorded by the artifact service; heartbeats carry no data
        except (InvalidArgument, ResourceExhausted) as err:
            b.rejected.append((rec.seq, f"{_label(rec, kind)}: {err.message}", rec.channel))
            continue
        b.accepted.append(rec)
    return b


def _merge_update(
    sets: dict[str, Any], removes: set[str], upd: pb.SummaryUpdate | pb.ConfigUpdate, what: str, limits: Limits
) -> None:
    """Fold one SummaryUpdate/ConfigUpdate into the batch's pending sets and removals (later wins)."""
    for k in upd.remove:
        validate.key(k, limits, what=f"{what} key to remove")
    values: dict[str, Any] = {}
    if upd.set_json:
        values = validate.json_document(upd.set_json, what, limits)
        validate.top_level_keys(values, what, limits)
    for k in upd.remove:
        sets.pop(k, None)
        removes.add(k)
    sets.update(values)
    removes.difference_update(values)


def _collect_output(b: _Batch, out: pb.OutputLines) -> None:
    validate.timestamp("OutputLines.timestamp", out.timestamp)
    stream = out.stream or "stdout"
    validate.text("OutputLines.stream", stream, validate.MAX_STREAM_NAME)
    for n, line in enumerate(out.lines):
        if len(line) > validate.MAX_LINE or "\x00" in line:
            validate.text(f"console line {n + 1}", line, validate.MAX_LINE, single_line=False)
    if out.HasField("first_line"):
        if not (0 <= out.first_line <= INT64_MAX - len(out.lines)):
            raise InvalidArgument(f"OutputLines.first_line must be >= 0, got {out.first_line}")
        for n, line in enumerate(out.lines):
            b.output_at[out.first_line + n] = (out.timestamp, stream, line)
        return
    b.output.extend((out.timestamp, stream, line) for line in out.lines)


def _collect_update(b: _Batch, u: pb.RunUpdate) -> None:
    fields = (("name", validate.MAX_RUN_NAME, True), ("notes", validate.MAX_NOTES, False),
              ("group", validate.MAX_GROUP, True), ("job_type", validate.MAX_JOB_TYPE, True))
    found: dict[str, Any] = {}
    for name, limit, single in fields:
        if u.HasField(name):
            found[name] = validate.text(f"RunUpdate.{name}", getattr(u, name), limit, single_line=single)
    if found.get("name") == "":
        raise InvalidArgument("RunUpdate.name may not be empty")
    if u.set_tags:
        found["tags"] = validate.tags("RunUpdate.tags", list(u.tags))
    b.update.update(found)


_F8 = np.dtype("<f8")
_I8 = np.dtype("<i8")


def _keys_blob(keys: tuple[str, ...]) -> bytes:
    """HistoryRow fields 3 (each key) and the header of field 4 (packed doubles), as protobuf writes them."""
    parts = []
    for k in keys:
        data = k.encode("utf-8")
        parts += [b"\x1a", _varint(len(data)), data]
    parts += [b"\x22", _varint(8 * len(keys))]
    return b"".join(parts)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _collect_history(b: _Batch, row: pb.HistoryRow, limits: Limits) -> None:
    # Fast path: a row of numbers with the key set of the row before. Reading `row.keys` makes a Python
    # string of every key of every row (about 3 µs for 10 keys), so the row's serialized form (0.3 µs) is
    # compared with the key set's instead: step and timestamp, then exactly these keys, then the values,
    # nothing else. The values are kept as the packed bytes they arrived in (no float per point).
    fast = b.fast
    if fast is not None:
        data = row.SerializeToString()
        blob, vlen, known = fast
        start = len(data) - vlen - len(blob)
        if start >= 0 and data.startswith(blob, start):
            step = row.step
            ts = row.timestamp
            if (0 <= step <= validate.MAX_STEP and 0.0 <= ts < validate.MAX_TIMESTAMP
                    and start == ((step.bit_length() + 13) // 7 if step else 0) + (9 if ts else 0)):  # tags, step varint
                if step > b.max_step:
                    b.max_step = step
                known[0].append(b.rows)
                b.rows += 1
                known[1].append(step)
                known[2].append(data[-vlen:])
                b.ts_steps.append(step)
                b.ts_values.append(ts)
                return
    values = row.values
    keys = tuple(row.keys)
    if len(keys) != len(values):
        raise InvalidArgument("HistoryRow.keys and HistoryRow.values differ in length")
    step = row.step
    if not (0 <= step <= validate.MAX_STEP):
        validate.step(step)
    ts = row.timestamp
    if not (0.0 <= ts < validate.MAX_TIMESTAMP):
        validate.timestamp("HistoryRow.timestamp", ts)
    # Rows of a run mostly share one key set: group them, and turn each group into columns with numpy
    # once per batch (see _Batch.columns) instead of appending point by point. A key set is checked
    # once per batch; a bad one is remembered.
    group = b.groups.get(keys)
    if group is None:
        _check_keyset(b, keys, limits)
        group = b.groups[keys] = ([], [], [])
    parsed: list[tuple[str, int, Any]] = []
    if row.json_keys:
        if len(row.json_keys) != len(row.json_values):
            raise InvalidArgument("HistoryRow.json_keys and json_values differ in length")
        for key, raw in zip(row.json_keys, row.json_values):
            _check_key(key, limits)
            parsed.append((key, step, validate.json_document(raw, f"value of {key!r}", limits, obj=False)))
    # valid: now (and only now) the row joins the batch
    if step > b.max_step:
        b.max_step = step
    index = b.rows
    b.rows += 1
    group[0].append(index)
    group[1].append(step)
    group[2].append(struct.pack(f"<{len(keys)}d", *values))
    b.ts_steps.append(step)
    b.ts_values.append(ts)
    if parsed:
        b.json_points.extend(parsed)
    elif keys:
        b.fast = (_keys_blob(keys), 8 * len(keys), group)


def _check_keyset(b: _Batch, keys: tuple[str, ...], limits: Limits) -> None:
    """Raise InvalidArgument when a key of this key set is refused (each key set is checked once a batch)."""
    if keys in b.groups:
        return
    problem = b.bad_groups.get(keys)
    if problem is None:
        try:
            for key in keys:
                _check_key(key, limits)
            if len(set(keys)) != len(keys):
                raise InvalidArgument("the row names a key twice")
        except InvalidArgument as err:
            problem = b.bad_groups[keys] = err.message
        else:
            b.bad_groups[keys] = ""
    if problem:
        raise InvalidArgument(problem)


def _collect_block(b: _Batch, block: pb.HistoryBlock, limits: Limits) -> None:
    """Many rows of numbers (pb.HistoryBlock): checked whole with numpy, stored as rows would be."""
    keys = tuple(block.keys)
    if not keys:
        raise InvalidArgument("HistoryBlock.keys is empty")
    raw = block.rows
    width = 8 * (2 + len(keys))
    n = len(raw) // width
    if not n or len(raw) != n * width:
        raise InvalidArgument(f"HistoryBlock.rows holds {len(raw)} bytes; with {len(keys)} keys a row is "
                              f"{width} bytes (int64 step, float64 timestamp, a float64 per key)")
    _check_keyset(b, keys, limits)
    rows = np.frombuffer(raw, dtype=np.dtype([("step", _I8), ("ts", _F8), ("v", _F8, (len(keys),))]))
    steps = np.ascontiguousarray(rows["step"])
    bad = np.flatnonzero((steps < 0) | (steps > validate.MAX_STEP))
    if bad.size:
        validate.step(int(steps[bad[0]]))
    ts = np.ascontiguousarray(rows["ts"])
    bad = np.flatnonzero(~((ts >= 0.0) & (ts < validate.MAX_TIMESTAMP)))  # NaN too
    if bad.size:
        validate.timestamp(f"the timestamp of HistoryBlock row {int(bad[0])}", float(ts[bad[0]]))
    b.blocks.append((keys, np.arange(b.rows, b.rows + n, dtype=np.int64), steps, ts, rows["v"]))
    b.rows += n
    top = int(steps.max())
    if top > b.max_step:
        b.max_step = top


def _collect_system(b: _Batch, sm: pb.SystemMetrics, limits: Limits) -> None:
    if len(sm.keys) != len(sm.values):
        raise InvalidArgument("SystemMetrics.keys and values differ in length")
    validate.timestamp("SystemMetrics.timestamp", sm.timestamp)
    step = int(sm.timestamp * 1000)  # system metrics live on their own axis: unix milliseconds
    full_keys = [key if key.startswith(SYSTEM_PREFIX) else SYSTEM_PREFIX + key for key in sm.keys]
    for full in full_keys:
        _check_key(full, limits, system=True)
    for full, value in zip(full_keys, sm.values):
        p = b.points[full]
        p[0].append(step)
        p[1].append(value)


def _check_key(key: str, limits: Limits, system: bool = False) -> None:
    validate.key(key, limits)
    if key in RESERVED_KEYS:
        raise InvalidArgument(f"key {key!r} is reserved")
    if key.startswith(SYSTEM_PREFIX) and not system:
        raise InvalidArgument(f"key {key!r}: the 'system/' namespace is reserved for system metrics")


async def write_batch(
    conn: asyncpg.Connection, run: OpenedRun, records: list[pb.Record], limits: Limits, *,
    own_transaction: bool = True,
) -> BatchResult:
    """Write `records` durably; every record up to the returned seq is committed or rejected alone.

    `own_transaction=False`: inside the caller's transaction (Ingest.Bulk's group commit), durable only
    once the caller commits; a value PostgreSQL refuses then raises, and the caller, whose transaction is
    spoiled, rolls back and writes the batch again on its own (where the record at fault is isolated)."""
    if len(records) > limits.max_batch_records:
        raise ResourceExhausted(
            f"a batch holds {len(records)} records; the limit is {limits.max_batch_records}"
        )
    keys_before = dict(run.key_ids)
    try:
        return await _write_once(conn, run, records, limits, own_transaction)
    except _DATA_ERRORS as exc:
        run.key_ids = keys_before
        if not own_transaction:
            raise
        # PostgreSQL refused a value validation let through: find the record(s), keep the others
        log.warning("a batch of run %s/%s/%s holds a value the database refused (%s); isolating it",
                    run.entity, run.project, run.run_id, data_error_text(exc))
        try:
            return await _write_isolating(conn, run, records, limits)
        except BaseException:
            run.key_ids = keys_before
            raise
    except BaseException:
        run.key_ids = keys_before  # keys added by a rolled-back transaction do not exist
        raise


async def _write_once(conn: asyncpg.Connection, run: OpenedRun, records: list[pb.Record],
                      limits: Limits, own_transaction: bool = True) -> BatchResult:
    async with conn.transaction() if own_transaction else contextlib.nullcontext():
        state = await queries.lock_run_state(conn, run.pk)
        fresh = new_records(records, state["last_seq"], _channel_seqs(state["channel_seqs"]))
        if not fresh.records:
            return BatchResult(state["last_seq"], False)
        batch = _collect(fresh.records, limits)
        chunks, _, points = await _store(conn, run, batch, state["output_lines"], last_seq=fresh.last_seq,
                                         channels=fresh.channels)
    metrics.POINTS.inc(points)  # committed
    run.last_seq = fresh.last_seq
    run.channel_seqs.update(fresh.channels)
    run.loose_chunks = state["loose_chunks"] + chunks
    if batch.max_step >= 0:
        run.next_step = max(run.next_step, batch.max_step + 1)
    return BatchResult(fresh.last_seq, batch.finish is not None, batch.rejected, len(batch.accepted), fresh.channels)


async def _write_isolating(conn: asyncpg.Connection, run: OpenedRun, records: list[pb.Record],
                           limits: Limits) -> BatchResult:
    """The slow path: each part of the batch under a savepoint, halving the parts PostgreSQL refuses
    until each refused record stands alone; it is rejected with PostgreSQL's reason."""
    rejected: list[tuple[int, str, str]] = []
    stored = 0
    finished = False
    async with conn.transaction():
        state = await queries.lock_run_state(conn, run.pk)
        fresh = new_records(records, state["last_seq"], _channel_seqs(state["channel_seqs"]))
        if not fresh.records:
            return BatchResult(state["last_seq"], False)
        first = _collect(fresh.records, limits)
        rejected.extend(first.rejected)
        last_seq = fresh.last_seq
        lines = int(state["output_lines"])
        chunks = points = 0
        max_step = -1
        pending: list[Sequence[pb.Record]] = [first.accepted]
        while pending:
            part = pending.pop(0)
            if not part:
                continue
            batch = _collect(part, limits)
            keys_before = dict(run.key_ids)
            try:
                async with conn.transaction():
                    n_chunks, n_lines, n_points = await _store(conn, run, batch, lines, last_seq=last_seq,
                                                               channels=fresh.channels)
            except _DATA_ERRORS as exc:
                run.key_ids = keys_before
                if len(part) == 1:
                    rec = part[0]
                    reason = f"{_label(rec, rec.WhichOneof('payload'))}: {data_error_text(exc)}"
                    rejected.append((rec.seq, reason, rec.channel))
                else:
                    mid = len(part) // 2
                    pending[:0] = [part[:mid], part[mid:]]  # keep arrival order
                continue
            lines += n_lines
            chunks += n_chunks
            points += n_points
            stored += len(part)
            max_step = max(max_step, batch.max_step)
            finished = finished or batch.finish is not None
        if not stored:  # everything refused: the sequences still move past it
            await queries.set_sequences(conn, run.pk, last_seq, fresh.channels)
    metrics.POINTS.inc(points)  # committed
    rejected.sort(key=lambda r: (r[2], r[0]))
    run.last_seq = last_seq
    run.channel_seqs.update(fresh.channels)
    run.loose_chunks = int(state["loose_chunks"]) + chunks
    if max_step >= 0:
        run.next_step = max(run.next_step, max_step + 1)
    return BatchResult(last_seq, finished, rejected, stored, fresh.channels)


async def _store(conn: asyncpg.Connection, run: OpenedRun, batch: _Batch, first_line: int,
                 *, last_seq: int, channels: dict[str, int]) -> tuple[int, int, int]:
    """Write a collected batch inside the caller's transaction; returns (chunks, console lines added to
    the run's count, points) written. `first_line` is the run's console line count before it."""
    columns = batch.columns()
    await _ensure_keys(conn, run, [*columns, *(k for k, _, _ in batch.json_points)])
    chunk_rows = []
    for key, (s, v) in columns.items():
        sb, vb = history_codec.encode(s, v)
        chunk_rows.append((run.pk, run.key_ids[key], int(s.min()), int(s.max()), int(s.size), sb, vb))
    if chunk_rows:
        await queries.copy_chunks(conn, chunk_rows)
    if batch.json_points:
        await queries.upsert_json_points(
            conn, [(run.pk, run.key_ids[k], step, val) for k, step, val in batch.json_points]
        )
    lines = first_line
    if batch.output_at:
        # numbered lines first: lines appended by the same batch follow the highest line number
        await queries.put_output(conn, run.pk, batch.output_at)
        lines = max(lines, max(batch.output_at) + 1)
    if batch.output:
        await queries.append_output(conn, run.pk, lines, batch.output)
        lines += len(batch.output)
    finish = batch.finish
    await queries.update_run_after_batch(
        conn,
        run.pk,
        last_seq=last_seq,
        next_step=batch.max_step + 1,
        summary_set=batch.summary_set,
        summary_remove=sorted(batch.summary_remove),
        config_set=batch.config_set,
        config_remove=sorted(batch.config_remove),
        loose_chunks=len(chunk_rows),
        output_lines=lines - first_line,
        update=batch.update,
        finish_state=None if finish is None else ("finished" if finish.exit_code == 0 else "failed"),
        exit_code=None if finish is None else finish.exit_code,
        error="" if finish is None else finish.error,
        # the time the process finished (a sync replays it hours later), not the time it arrived
        finished_at=None if finish is None or finish.time <= 0 else finish.time,
        # Logged data means the run is live again (a resumed run); edits of config, summary or
        # tags alone (the public API editing a finished run) leave its state as it is, and so does
        # everything a sync stream sends (only its Finish changes the state).
        activity=batch.has_data() and not run.sync,
        channel_seqs=channels,
    )
    return len(chunk_rows), lines - first_line, sum(row[4] for row in chunk_rows)


async def _ensure_keys(conn: asyncpg.Connection, run: OpenedRun, keys: Iterable[str]) -> None:
    missing = [k for k in dict.fromkeys(keys) if k not in run.key_ids]
    if not missing:
        return
    # Another stream of this run may have added keys: reload under the run lock, then add the rest.
    run.key_ids = await queries.key_ids(conn, run.pk)
    missing = [k for k in missing if k not in run.key_ids]
    if missing:
        start = max(run.key_ids.values(), default=0) + 1
        new = {k: start + i for i, k in enumerate(missing)}
        await queries.insert_keys(conn, run.pk, new)
        run.key_ids.update(new)


async def heartbeat(conn: asyncpg.Connection, run: OpenedRun) -> None:
    """A heartbeat keeps a live run from being marked crashed (and revives a crashed one); the
    heartbeat of a sync stream changes no state."""
    await queries.touch_run(conn, run.pk, revive=not run.sync)


async def compact(conn: asyncpg.Connection, run_pk: int) -> int:
    """Merge a run's small history chunks into chunks of CHUNK_TARGET points; returns chunks written.

    Points keep their arrival order inside each key, so "the later point of a repeated step wins"
    holds after compaction too.
    """
    written = 0
    async with conn.transaction():
        await queries.lock_run_state(conn, run_pk)
        extents = await queries.lod_extents(conn, run_pk)  # before merging: what the levels lack
        small = await queries.small_chunks(conn, run_pk, history_codec.CHUNK_TARGET)
        by_key: dict[int, list[asyncpg.Record]] = defaultdict(list)
        for r in small:
            by_key[r["key_id"]].append(r)
        rows = []
        doomed: list[int] = []
        for key_id, chunks in by_key.items():
            if len(chunks) < 2:
                continue
            parts = [history_codec.decode(c["steps"], c["vals"]) for c in chunks]
            steps = np.concatenate([p[0] for p in parts])
            vals = np.concatenate([p[1] for p in parts])
            for i in range(0, steps.size, history_codec.CHUNK_TARGET):
                s, v = steps[i : i + history_codec.CHUNK_TARGET], vals[i : i + history_codec.CHUNK_TARGET]
                sb, vb = history_codec.encode(s, v)
                rows.append((run_pk, key_id, int(s.min()), int(s.max()), int(s.size), sb, vb))
            doomed.extend(c["id"] for c in chunks)
        if doomed:
            await queries.delete_chunks(conn, run_pk, doomed)
            await queries.copy_chunks(conn, rows)
            written = len(rows)
        await _refresh_lod(conn, run_pk, extents)
        await queries.reset_loose(conn, run_pk)
    return written


# -- levels of detail (common/history_lod.py): maintained by compaction, inside its transaction --

async def _refresh_lod(conn: asyncpg.Connection, run_pk: int, extents: Sequence[asyncpg.Record]) -> None:
    """Bring the levels of detail of the run's long series up to date. `extents` (queries.lod_extents,
    read before the merge) says, per key, the first step of the points they do not cover yet. Only the
    end of each level from that step on is recomputed: exact points from the level-0 bucket holding it,
    each coarser level from the one below (every width divides the next), whole segments rewritten."""
    for e in extents:
        if e["dirty_from"] is None:
            continue  # covered
        if not e["has_lod"] and not history_lod.worth_it(int(e["points"]), int(e["first"]), int(e["last"])):
            continue
        await _refresh_key_lod(conn, run_pk, int(e["key_id"]), None if not e["has_lod"] else int(e["dirty_from"]))
        await queries.put_lod_state(conn, run_pk, int(e["key_id"]), int(e["first"]), int(e["last"]),
                                    int(e["points"]))


async def _refresh_key_lod(conn: asyncpg.Connection, run_pk: int, key_id: int, dirty_from: int | None) -> None:
    """Recompute one key's levels from step `dirty_from` on (all of them when None)."""
    widths = history_lod.WIDTHS
    start = None if dirty_from is None else (dirty_from // widths[0]) * widths[0]
    chunks = await queries.chunks_from(conn, run_pk, key_id, start)
    steps, vals = history_codec.merge([(c["steps"], c["vals"]) for c in chunks])
    if start is not None:
        keep = steps >= start
        steps, vals = steps[keep], vals[keep]
    rows: list[tuple[int, int, int, int, int, bytes]] = []
    from_segs: list[int | None] = []
    below = history_lod.buckets(steps, vals, widths[0])  # the new end of level 0
    for level, width in enumerate(widths):
        if level > 0:
            first_new = None if dirty_from is None else dirty_from // width
            part = below if first_new is None else below[below["b"] >= first_new * (width // widths[level - 1])]
            below_ratio = width // widths[level - 1]
            new = _coarsen(part, below_ratio)
        else:
            new = below
        if dirty_from is None:
            tail = new
            from_segs.append(None)
        else:
            b0 = dirty_from // width
            seg0 = b0 // history_lod.SEGMENT
            stored = await queries.lod_segment(conn, run_pk, key_id, level, seg0)
            prefix = history_lod.decode(stored) if stored is not None else np.empty(0, history_lod.DTYPE)
            tail = np.concatenate((prefix[prefix["b"] < b0], new[new["b"] >= b0]))
            from_segs.append(seg0)
        for seg, part_rows in history_lod.segments(tail):
            rows.append((run_pk, key_id, level, seg, int(part_rows.size), history_lod.encode(part_rows)))
        below = tail
    await queries.replace_lod(conn, run_pk, key_id, from_segs, rows)


def _coarsen(rows: np.ndarray, ratio: int) -> np.ndarray:
    """Buckets of a level -> the buckets `ratio` times as wide (last step/value, min of mins, max of maxes)."""
    if rows.size == 0:
        return rows.copy()
    nb = rows["b"] // ratio
    starts = np.flatnonzero(np.concatenate(([True], nb[1:] != nb[:-1])))
    ends = np.concatenate((starts[1:], [rows.size])) - 1
    out = np.empty(starts.size, history_lod.DTYPE)
    out["b"] = nb[starts]
    out["step"] = rows["step"][ends]
    out["value"] = rows["value"][ends]
    with np.errstate(invalid="ignore"):
        out["min"] = np.fmin.reduceat(rows["min"], starts)
        out["max"] = np.fmax.reduceat(rows["max"], starts)
    return out


def _check_name(what: str, value: str, limit: int, extra: str) -> None:
    ok = value[0].isalnum() and all(c.isalnum() or c in extra for c in value) and value.isascii()
    if not ok or len(value) > limit:
        raise InvalidArgument(
            f"{what} {value[:80]!r} is not valid: use letters, digits and {' '.join(extra)} "
            f"(at most {limit} characters)"
        )
