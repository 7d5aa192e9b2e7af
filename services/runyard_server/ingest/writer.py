"""Domain logic of ingest: open or resume a run, write a batch of records in one transaction.

The servicer translates protobuf to calls here; everything that touches PostgreSQL for ingest lives in
this module and in `queries.py`. A batch is committed whole or not at all, and `last_seq` moves in the
same transaction as the data, so a replayed record (seq <= last_seq) is skipped: nothing is lost or
doubled across reconnects.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import asyncpg
import numpy as np

from runyard_proto.v1 import ingest_pb2 as pb

from ..common import history_codec
from ..common.errors import AlreadyExists, InvalidArgument, NotFound, ResourceExhausted
from ..common.verifier import Principal, entity_id_for_write
from . import queries
from .names import generate_name

RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})
# Sequence 0: a record applied every time it arrives without moving last_seq (pb.Record.seq). Only kinds
# whose repetition changes nothing may use it; a second writer of the same run (the W&B protocol's edits
# beside its file stream) then never races the first for sequence numbers.
UNSEQUENCED = 0
MAX_CHANNEL_LENGTH = 64
_UNSEQUENCED_KINDS = frozenset({"summary", "config", "update", "finish", "output"})
TIMESTAMP_KEY = "_timestamp"
SYSTEM_PREFIX = "system/"


@dataclass(frozen=True)
class Limits:
    max_batch_records: int = 20_000
    max_key_length: int = 256
    max_json_value_bytes: int = 1_000_000


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
    channel_seqs: dict[str, int] = field(default_factory=dict)
    loose_chunks: int = 0

    def needs_compaction(self) -> bool:
        """Many small batches of a live run leave many small chunks: merge them now and then."""
        return self.loose_chunks >= 32 * max(1, len(self.key_ids))


async def open_run(
    conn: asyncpg.Connection, who: Principal, req: pb.OpenRun, limits: Limits
) -> OpenedRun:
    """Create or resume the run that `req` names, as `who`. Raises domain errors."""
    if not req.project:
        raise InvalidArgument("OpenRun.project is required")
    if not req.run_id:
        raise InvalidArgument("OpenRun.run_id is required")
    _check_name("run id", req.run_id, 64, extra="_-")
    _check_name("project", req.project, 128, extra="_.-")
    resume = req.resume or "allow"
    if resume not in ("allow", "must", "never"):
        raise InvalidArgument(f"OpenRun.resume must be allow, must or never, got {req.resume!r}")
    config = _json_object(req.config_json, "config") if req.config_json else {}

    async with conn.transaction():
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
        channel_seqs={str(k): int(v) for k, v in (row["channel_seqs"] or {}).items()},
    )


@dataclass
class _Batch:
    """A batch sorted by kind, ready to write."""

    # history rows grouped by key set: (arrival indexes, steps, value lists)
    groups: dict[tuple[str, ...], tuple[list[int], list[int], list[Any]]] = field(default_factory=dict)
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
    # lines written at a given line number (OutputLines.first_line): line_no -> (ts, stream, text)
    output_at: dict[int, tuple[float, str, str]] = field(default_factory=dict)
    update: dict[str, Any] = field(default_factory=dict)
    finish: pb.Finish | None = None
    max_step: int = -1
    max_seq: int = 0
    unsequenced: bool = False  # holds records with sequence 0 (applied whatever last_seq is)
    channels: dict[str, int] = field(default_factory=dict)  # new highest sequence per named channel

    def columns(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every key's (steps, values) in arrival order, as numpy arrays."""
        pieces: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        for keys, (idx, steps, values) in self.groups.items():
            i = np.asarray(idx, dtype=np.int64)
            s = np.asarray(steps, dtype=np.int64)
            n = len(steps) * len(keys)
            v = np.fromiter(chain.from_iterable(values), dtype=np.float64, count=n).reshape(len(steps), len(keys))
            for j, key in enumerate(keys):
                pieces[key].append((i, s, v[:, j]))
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, parts in pieces.items():
            if len(parts) == 1:
                out[key] = (parts[0][1], np.ascontiguousarray(parts[0][2]))
            else:  # the key appears in rows of several key sets: restore arrival order
                i = np.concatenate([p[0] for p in parts])
                order = np.argsort(i, kind="stable")
                out[key] = (np.concatenate([p[1] for p in parts])[order],
                            np.concatenate([p[2] for p in parts])[order])
        if self.ts_steps:
            out[TIMESTAMP_KEY] = (np.asarray(self.ts_steps, dtype=np.int64),
                                  np.asarray(self.ts_values, dtype=np.float64))
        for key, (steps, vals) in self.points.items():
            out[key] = (np.asarray(steps, dtype=np.int64), np.asarray(vals, dtype=np.float64))
        return out


def _collect(records: Iterable[pb.Record], last_seq: int, limits: Limits,
             channel_seqs: dict[str, int] | None = None) -> _Batch:
    b = _Batch()
    prev = last_seq
    stored_channels = channel_seqs or {}
    for rec in records:
        kind = rec.WhichOneof("payload")
        if rec.channel and rec.seq != UNSEQUENCED:
            if len(rec.channel) > MAX_CHANNEL_LENGTH:
                raise InvalidArgument(f"channel names have at most {MAX_CHANNEL_LENGTH} characters")
            high = b.channels.get(rec.channel, stored_channels.get(rec.channel, 0))
            if rec.seq <= stored_channels.get(rec.channel, 0):
                continue  # already stored on this channel
            if rec.seq <= high:
                raise InvalidArgument(
                    f"record sequence numbers must rise in channel {rec.channel!r}: {rec.seq} after {high}"
                )
            b.channels[rec.channel] = rec.seq
        elif rec.seq == UNSEQUENCED:
            # applied every time it arrives, last_seq unmoved: only records whose repetition changes nothing
            if kind not in _UNSEQUENCED_KINDS or (kind == "output" and not rec.output.HasField("first_line")):
                raise InvalidArgument(
                    f"a {kind or 'empty'} record needs a sequence number > 0 (only summary, config, run "
                    "updates, finish and console lines written at a line number may travel unsequenced)"
                )
            b.unsequenced = True
        elif rec.seq <= last_seq:
            continue  # already stored: a replay after reconnect
        elif rec.seq <= prev:
            raise InvalidArgument(f"record sequence numbers must rise: {rec.seq} after {prev}")
        else:
            prev = rec.seq
        if kind == "history":
            _collect_history(b, rec.history, limits)
        elif kind == "system":
            _collect_system(b, rec.system, limits)
        elif kind == "summary":
            _merge_update(b.summary_set, b.summary_remove, rec.summary, "summary")
        elif kind == "config":
            _merge_update(b.config_set, b.config_remove, rec.config, "config")
        elif kind == "output":
            out = rec.output
            if out.HasField("first_line"):
                if out.first_line < 0:
                    raise InvalidArgument(f"OutputLines.first_line must be >= 0, got {out.first_line}")
                for i, line in enumerate(out.lines):
                    b.output_at[out.first_line + i] = (out.timestamp, out.stream or "stdout", line)
            else:
                for line in out.lines:
                    b.output.append((out.timestamp, out.stream or "stdout", line))
        elif kind == "update":
            u = rec.update
            for name in ("name", "notes", "group", "job_type"):
                if u.HasField(name):
                    b.update[name] = getattr(u, name)
            if u.set_tags:
                b.update["tags"] = list(u.tags)
        elif kind == "finish":
            b.finish = rec.finish
        # file-saved notices are recorded by the artifact service; heartbeats carry no data
    b.max_seq = prev
    return b


def _merge_update(
    sets: dict[str, Any], removes: set[str], upd: pb.SummaryUpdate | pb.ConfigUpdate, what: str
) -> None:
    """Fold one SummaryUpdate/ConfigUpdate into the batch's pending sets and removals (later wins)."""
    for k in upd.remove:
        sets.pop(k, None)
        removes.add(k)
    if upd.set_json:
        values = _json_object(upd.set_json, what)
        sets.update(values)
        removes.difference_update(values)


def _collect_history(b: _Batch, row: pb.HistoryRow, limits: Limits) -> None:
    values = row.values
    keys = tuple(row.keys)
    if len(keys) != len(values):
        raise InvalidArgument("HistoryRow.keys and HistoryRow.values differ in length")
    step = row.step
    if step < 0:
        raise InvalidArgument(f"step must be >= 0, got {step}")
    if step > b.max_step:
        b.max_step = step
    # Rows of a run mostly share one key set: group them, and turn each group into columns with numpy
    # once per batch (see _Batch.columns) instead of appending point by point.
    group = b.groups.get(keys)
    if group is None:
        for key in keys:
            _check_key(key, limits)
        if len(set(keys)) != len(keys):
            raise InvalidArgument(f"a history row at step {step} names a key twice")
        group = b.groups[keys] = ([], [], [])
    index = b.rows
    b.rows += 1
    group[0].append(index)
    group[1].append(step)
    group[2].append(values)
    b.ts_steps.append(step)
    b.ts_values.append(row.timestamp)
    if row.json_keys:
        if len(row.json_keys) != len(row.json_values):
            raise InvalidArgument("HistoryRow.json_keys and json_values differ in length")
        for key, raw in zip(row.json_keys, row.json_values):
            _check_key(key, limits)
            if len(raw) > limits.max_json_value_bytes:
                raise ResourceExhausted(
                    f"value of {key!r} at step {step} is {len(raw)} bytes; the limit is "
                    f"{limits.max_json_value_bytes}"
                )
            try:
                b.json_points.append((key, step, json.loads(raw)))
            except ValueError:
                raise InvalidArgument(f"value of {key!r} at step {step} is not valid JSON") from None


def _collect_system(b: _Batch, sm: pb.SystemMetrics, limits: Limits) -> None:
    if len(sm.keys) != len(sm.values):
        raise InvalidArgument("SystemMetrics.keys and values differ in length")
    step = int(sm.timestamp * 1000)  # system metrics live on their own axis: unix milliseconds
    for key, value in zip(sm.keys, sm.values):
        full = key if key.startswith(SYSTEM_PREFIX) else SYSTEM_PREFIX + key
        _check_key(full, limits, system=True)
        p = b.points[full]
        p[0].append(step)
        p[1].append(value)


def _check_key(key: str, limits: Limits, system: bool = False) -> None:
    if not key:
        raise InvalidArgument("a logged key is empty")
    if len(key) > limits.max_key_length:
        raise InvalidArgument(
            f"key {key[:40]!r}... is {len(key)} characters; the limit is {limits.max_key_length}"
        )
    if key in RESERVED_KEYS:
        raise InvalidArgument(f"key {key!r} is reserved")
    if key.startswith(SYSTEM_PREFIX) and not system:
        raise InvalidArgument(f"key {key!r}: the 'system/' namespace is reserved for system metrics")


async def write_batch(
    conn: asyncpg.Connection, run: OpenedRun, records: list[pb.Record], limits: Limits
) -> tuple[int, bool]:
    """Write `records` durably; returns (highest sequence now committed, run finished)."""
    if len(records) > limits.max_batch_records:
        raise ResourceExhausted(
            f"a batch holds {len(records)} records; the limit is {limits.max_batch_records}"
        )
    async with conn.transaction():
        state = await queries.lock_run_state(conn, run.pk)
        stored_channels = {str(k): int(v) for k, v in (state["channel_seqs"] or {}).items()}
        batch = _collect(records, state["last_seq"], limits, stored_channels)
        if batch.max_seq <= state["last_seq"] and not batch.unsequenced and not batch.channels:
            return state["last_seq"], False
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
        output_lines = state["output_lines"]
        if batch.output_at:
            # numbered lines first: appended lines of the same batch follow the highest line number
            await queries.put_output(conn, run.pk, batch.output_at)
            output_lines = max(output_lines, max(batch.output_at) + 1)
        if batch.output:
            await queries.append_output(conn, run.pk, output_lines, batch.output)
            output_lines += len(batch.output)
        finish = batch.finish
        await queries.update_run_after_batch(
            conn,
            run.pk,
            last_seq=batch.max_seq,
            next_step=batch.max_step + 1,
            summary_set=batch.summary_set,
            summary_remove=sorted(batch.summary_remove),
            config_set=batch.config_set,
            config_remove=sorted(batch.config_remove),
            loose_chunks=len(chunk_rows),
            output_lines=output_lines - state["output_lines"],
            update=batch.update,
            finish_state=None if finish is None else ("finished" if finish.exit_code == 0 else "failed"),
            exit_code=None if finish is None else finish.exit_code,
            error="" if finish is None else finish.error,
            # Logged data means the run is live again (a resumed run); edits of config, summary or
            # tags alone (the public API editing a finished run) leave its state as it is.
            activity=bool(columns or batch.json_points or batch.output or batch.output_at),
            channel_seqs=batch.channels,
        )
        run.last_seq = batch.max_seq
        run.channel_seqs.update(batch.channels)
        run.loose_chunks = state["loose_chunks"] + len(chunk_rows)
        run.next_step = max(run.next_step, batch.max_step + 1)
    return batch.max_seq, finish is not None


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
    await queries.touch_run(conn, run.pk)


async def compact(conn: asyncpg.Connection, run_pk: int) -> int:
    """Merge a run's small history chunks into chunks of CHUNK_TARGET points; returns chunks written.

    Points keep their arrival order inside each key, so "the later point of a repeated step wins"
    holds after compaction too.
    """
    written = 0
    async with conn.transaction():
        await queries.lock_run_state(conn, run_pk)
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
            await queries.delete_chunks(conn, doomed)
            await queries.copy_chunks(conn, rows)
            written = len(rows)
        await queries.reset_loose(conn, run_pk)
    return written


def _json_object(raw: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object")
    return value


def _check_name(what: str, value: str, limit: int, extra: str) -> None:
    ok = value[0].isalnum() and all(c.isalnum() or c in extra for c in value) and value.isascii()
    if not ok or len(value) > limit:
        raise InvalidArgument(
            f"{what} {value[:80]!r} is not valid: use letters, digits and {' '.join(extra)} "
            f"(at most {limit} characters)"
        )
