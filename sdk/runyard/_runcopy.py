"""A stored run, read through an instance's public API, as the ingest records that recreate it.

`runyard transfer` (and its tests) turn one run into a deterministic record stream: the same run data
gives the same records with the same sequence numbers (1..N) and the same digest, on any instance.
That is what makes a transfer idempotent and resumable: the target's `last_seq` says how many of the
records it already holds, and comparing digests says whether a run with the same id is the same run.

Records, in order:
  - one HistoryRow per step of the run's history (`/history/full`, every key but `system/*`; numbers as
    numbers with NaN/±Inf, everything else as JSON; the step's `_timestamp`);
  - one SystemMetrics per sample time (`system/*` keys are stored on an axis of unix milliseconds);
  - console output (`/output`), consecutive lines of one stream and time as one OutputLines;
  - one SummaryUpdate with the whole summary;
  - a Finish (exit code, error, time) for a finished or failed run. A crashed or still running run gets
    none: a run created by a sync stream starts `crashed` and stays so.
The OpenRun carries name, config, tags, notes, group, job type, host and start time.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from urllib.parse import quote

from runyard_proto.v1 import ingest_pb2 as pb

from . import _transfer as t

__all__ = ["RunStream", "add_record", "build_stream", "canon", "finish_stream", "iso_seconds", "new_stream",
           "open_request", "read_frames", "run_path"]

SYSTEM_PREFIX = "system/"
TIMESTAMP = "_timestamp"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_QUERY_BUDGET = 12_000  # characters of `keys=` per request (the services refuse query strings over 16 KiB)
HISTORY_PAGE = 10_000
OUTPUT_PAGE = 10_000
LINES_PER_RECORD = 1_000


def q(part: str) -> str:
    return quote(part, safe="")


def run_path(entity: str, project: str, run_id: str) -> str:
    return f"/api/v1/runs/{q(entity)}/{q(project)}/{q(run_id)}"


def iso_seconds(value: Any) -> float:
    """Unix seconds of an ISO 8601 time as the services write it (`...Z`); 0.0 for none."""
    if not value:
        return 0.0
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).timestamp()


def canon(value: Any) -> str:
    """JSON as every record of a copied run writes it (sorted keys, no spaces, no NaN)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_safe(value: Any) -> Any:
    """`value` with NaN/±Inf as the strings the wire carries (JSON has no such numbers), keys as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def history_row(step: int, ts: float, values: Mapping[str, Any], stream: RunStream,
                number: Callable[[Any], float | None], numeric: Container[str] | None = None) -> pb.HistoryRow:
    """One step's values as a HistoryRow, counted in `stream.points`: a value `number` turns into a float
    goes as a number (only under the keys in `numeric`, when given), the rest as JSON."""
    h = pb.HistoryRow(step=step, timestamp=ts)
    for key in sorted(values):
        num = number(values[key]) if numeric is None or key in numeric else None
        if num is not None:
            h.keys.append(key)
            h.values.append(num)
            stream.points += 1
        else:
            h.json_keys.append(key)
            h.json_values.append(canon(json_safe(values[key])))
    return h


def open_request(run: dict[str, Any], entity: str, project: str) -> pb.OpenRun:
    """The OpenRun that creates `run` (a run as GET /api/v1/runs/... answers it) under entity/project."""
    return pb.OpenRun(
        entity=entity, project=project, run_id=str(run["id"]), name=str(run.get("name") or ""), resume="allow",
        config_json=canon(run.get("config") or {}), tags=[str(x) for x in run.get("tags") or []],
        group=str(run.get("group") or ""), job_type=str(run.get("job_type") or ""),
        notes=str(run.get("notes") or ""), host=str(run.get("host") or ""),
        start_time=iso_seconds(run.get("created_at")), sync=True,
    )


@dataclass
class RunStream:
    """The records of one run, spooled to a file as (length, serialized Record) frames."""

    count: int = 0
    digest: str = ""
    points: int = 0               # numeric history and system points
    history_rows: int = 0
    output_lines: int = 0
    finished: bool = False
    _hash: Any = field(default_factory=hashlib.sha256, repr=False)


def new_stream(run: dict[str, Any]) -> RunStream:
    """A stream whose digest starts with the run fields the OpenRun carries."""
    stream = RunStream()
    stream._hash.update(open_request(run, "", "").SerializeToString(deterministic=True))
    return stream


def finish_stream(stream: RunStream, spool: IO[bytes]) -> RunStream:
    stream.digest = stream._hash.hexdigest()
    spool.flush()
    return stream


def add_record(out: IO[bytes], stream: RunStream, rec: pb.Record) -> None:
    """Number `rec` (the stream's next sequence number) and write it."""
    _frame(out, stream, rec)


def add_output(out: IO[bytes], stream: RunStream, lines: Iterable[tuple[float, str, str]]) -> None:
    """Console lines `(time, stream, text)` as OutputLines records: consecutive lines of one stream and time
    together, at most LINES_PER_RECORD per record."""
    pending: pb.OutputLines | None = None
    for ts, kind, line in lines:
        if pending is None or pending.timestamp != ts or pending.stream != kind \
                or len(pending.lines) >= LINES_PER_RECORD:
            if pending is not None:
                _frame(out, stream, pb.Record(output=pending))
            pending = pb.OutputLines(timestamp=ts, stream=kind)
        pending.lines.append(line)
        stream.output_lines += 1
    if pending is not None:
        _frame(out, stream, pb.Record(output=pending))


def _frame(out: IO[bytes], stream: RunStream, rec: pb.Record) -> None:
    stream.count += 1
    rec.seq = stream.count
    data = rec.SerializeToString(deterministic=True)
    stream._hash.update(struct.pack(">I", len(data)))
    stream._hash.update(data)
    out.write(struct.pack(">I", len(data)))
    out.write(data)


def read_frames(spool: IO[bytes], after: int = 0) -> Iterator[tuple[int, bytes]]:
    """(seq, serialized Record) of a spool written by `build_stream`, those above `after`."""
    spool.seek(0)
    seq = 0
    while True:
        head = spool.read(4)
        if len(head) < 4:
            return
        (n,) = struct.unpack(">I", head)
        seq += 1
        if seq <= after:
            spool.seek(n, 1)
            continue
        yield seq, spool.read(n)


def _key_groups(keys: list[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for k in keys:
        n = len(q(k)) + 3
        if cur and size + n > _QUERY_BUDGET:
            groups.append(cur)
            cur, size = [], 0
        cur.append(k)
        size += n
    if cur:
        groups.append(cur)
    return groups


def _scan(api: t.Api, base: str, keys: list[str], what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(step, {key: value}) at full resolution for `keys` (each group of keys scanned on its own, then
    merged by step), values as the API gives them (null left out)."""
    rows: dict[int, dict[str, Any]] = {}
    for group in _key_groups(keys):
        start = 0
        while True:
            page = api.call("GET", f"{base}/history/full", what=what,
                            params={"keys": ",".join(group), "start_step": start, "limit": HISTORY_PAGE})
            steps = page.get("steps") or []
            cols: dict[str, list[Any]] = page.get("columns") or {}
            for i, step in enumerate(steps):
                row = rows.setdefault(int(step), {})
                for key, values in cols.items():
                    if key in group and values[i] is not None:
                        row[key] = values[i]
            nxt = page.get("next_step")
            if nxt is None or not steps:
                break
            start = int(nxt)
    for step in sorted(rows):
        yield step, rows[step]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    return None


def build_stream(api: t.Api, run: dict[str, Any], spool: IO[bytes],
                 progress: Callable[[str], None] | None = None) -> RunStream:
    """Read `run` (GET .../runs/{e}/{p}/{r}, with history_keys and media_keys) from `api` and write its
    records into `spool`; returns counts and the digest (of the OpenRun's run fields and every record)."""
    entity, project, run_id = str(run["entity"]), str(run["project"]), str(run["id"])
    base = run_path(entity, project, run_id)
    stream = RunStream()
    head = open_request(run, "", "")
    stream._hash.update(head.SerializeToString(deterministic=True))
    numeric = [k for k in run.get("history_keys") or [] if k != TIMESTAMP]
    media = [k for k in run.get("media_keys") or [] if k != TIMESTAMP]
    numeric_set = set(numeric)
    user_keys = sorted({k for k in numeric + media if not k.startswith(SYSTEM_PREFIX)})
    system_keys = sorted(k for k in numeric if k.startswith(SYSTEM_PREFIX))
    what = f"reading the history of {entity}/{project}/{run_id}"
    for step, row in _scan(api, base, [TIMESTAMP, *user_keys], what):
        ts = _number(row.pop(TIMESTAMP, None))
        ts = ts if ts is not None and math.isfinite(ts) and ts >= 0 else 0.0
        _frame(spool, stream, pb.Record(history=history_row(step, ts, row, stream, _number, numeric_set)))
        stream.history_rows += 1
        if progress and stream.history_rows % 20_000 == 0:
            progress(f"read {stream.history_rows} history rows")
    if system_keys:
        for step, row in _scan(api, base, system_keys, what):
            sm = pb.SystemMetrics(timestamp=(step + 0.5) / 1000.0)  # stored again at exactly this millisecond
            for key in sorted(row):
                num = _number(row[key])
                if num is not None:
                    sm.keys.append(key)
                    sm.values.append(num)
            if sm.keys:
                _frame(spool, stream, pb.Record(system=sm))
                stream.points += len(sm.keys)
    _output(api, base, spool, stream, f"reading the console output of {entity}/{project}/{run_id}")
    summary = run.get("summary") or {}
    if summary:
        _frame(spool, stream, pb.Record(summary=pb.SummaryUpdate(set_json=canon(summary))))
    state = run.get("state")
    if state in ("finished", "failed"):
        code = run.get("exit_code")
        if not isinstance(code, int):
            code = 0 if state == "finished" else 1
        elif state == "failed" and code == 0:
            code = 1
        _frame(spool, stream, pb.Record(finish=pb.Finish(exit_code=code, error=str(run.get("error") or ""),
                                                         time=iso_seconds(run.get("finished_at")))))
        stream.finished = True
    stream.digest = stream._hash.hexdigest()
    spool.flush()
    return stream


def _output(api: t.Api, base: str, spool: IO[bytes], stream: RunStream, what: str) -> None:
    def lines() -> Iterator[tuple[float, str, str]]:
        params: dict[str, Any] = {"limit": OUTPUT_PAGE}
        while True:
            page = api.call("GET", f"{base}/output", what=what, params=params)
            got = page.get("lines") or []
            for line in got:
                yield float(line.get("ts") or 0.0), str(line.get("stream") or "stdout"), str(line.get("line") or "")
            if not got or page.get("next_after") is None or len(got) < OUTPUT_PAGE:
                return
            params = {"limit": OUTPUT_PAGE, "after": page["next_after"]}

    add_output(spool, stream, lines())
