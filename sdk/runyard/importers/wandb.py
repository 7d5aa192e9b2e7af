"""Import W&B runs: local run folders (`wandb/run-*`, `wandb/offline-run-*`) from their `.wandb`
transaction log, or a whole project (or one run) of a W&B server or W&B cloud through `wandb.Api`
(`pip install "runyard[wandb]"`).

    runyard import wandb ./wandb --project from-wandb            # every run folder under ./wandb
    runyard import wandb ./wandb/offline-run-20260101_120000-abc123 --project from-wandb
    runyard import wandb ENTITY/PROJECT [--run ID] [--wandb-host URL] --host RUNYARD_URL

A W&B project (ENTITY/PROJECT: an argument that is not an existing folder) is read with the wandb
package's public API: the W&B key comes from WANDB_API_KEY or from what `wandb login --host URL` saved;
the Runyard project defaults to the W&B project's name. Each run
keeps its id, name, config, summary, tags, notes, group, job type, state, times, its full history
(`scan_history`, NaN/±Inf kept), system metrics, console output, files, and the artifacts of the project
with their versions, aliases, producing and using runs (docs/importers.md). Runs still running on W&B are
skipped; a second import sends and downloads nothing.

Run folders: the records are decoded with the wandb package's own protobuf classes (`wandb.proto.wandb_internal_pb2`).
The log container is read with the package's own reader where it has one (`wandb.sdk.internal.datastore`,
wandb < 0.19); newer wandb versions keep their reader in the Go `wandb-core` binary, so Runyard reads the
container itself there (W&B's LevelDB-style log: 32 KiB blocks of CRC32-checked chunks; a chunk whose
checksum does not match is reported and left out).

Each W&B run becomes a Runyard run with the same run id: display name, config (without `_wandb`), tags,
notes, group, job type and host from the run record; every history row at its `_step` with its
`_timestamp` (nested keys joined with `/`, NaN and ±Inf kept, media and other values as JSON); system
metrics (`system/<key>`); console output; the final summary (without `_wandb`); the exit code (no exit
record: the run crashed); and every file of the folder's `files/` as run files. The copy goes through
`runyard transfer`'s machinery: a second import sends nothing, an interrupted one goes on, and a run id the
project holds with other data is reported as a conflict.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from runyard_proto.v1 import ingest_pb2 as pb

from .. import _transfer as t
from .._runcopy import (
    RunStream,
    add_output,
    add_record,
    canon,
    finish_stream,
    history_row,
    json_safe,
    new_stream,
)
from .._sources import Cache, Source, TransferError
from ._common import add_target_arguments, import_runs, iso, run_dict

NAME = "wandb"
HELP = "local W&B run folders, or a W&B server/cloud project (ENTITY/PROJECT; needs the wandb package)"

_BLOCK = 32768
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH_OR_PROJECT",
                        help="a W&B run folder, or a folder holding them (such as ./wandb); or ENTITY/PROJECT of "
                             "a W&B server or W&B cloud")
    parser.add_argument("--wandb-host", dest="wandb_host", metavar="URL",
                        help="the W&B server to read ENTITY/PROJECT from (default: WANDB_BASE_URL, else the "
                             "wandb package's own default, W&B cloud)")
    parser.add_argument("--run", dest="run_id", metavar="ID", help="with ENTITY/PROJECT: import only this run "
                        "(and the artifact versions it logged or used)")
    add_target_arguments(parser, project_help="the Runyard project to import into (required for run folders; "
                                              "for ENTITY/PROJECT the default is the W&B project's name)")


def run(args: argparse.Namespace) -> int:
    from ._common import need
    from .wandb_server import looks_like_project

    try:
        need("wandb", "wandb")
    except TransferError as exc:
        print(f"runyard: {exc.message}", file=sys.stderr)
        return 2

    server = len(args.paths) == 1 and (bool(args.wandb_host) or looks_like_project(args.paths[0]))
    if not server:
        if args.wandb_host or args.run_id:
            print("runyard: --wandb-host and --run go with ENTITY/PROJECT, not with run folders", file=sys.stderr)
            return 2
        if not args.project:
            print("runyard: --project is required when importing run folders", file=sys.stderr)
            return 2
    try:
        if server:
            from .wandb_server import WandbApiSource

            path = args.paths[0].strip("/")
            if not looks_like_project(path) and "/" not in path:
                raise TransferError(f"{path!r} is neither a W&B run folder nor ENTITY/PROJECT")
            entity, project = path.split("/", 1)
            api_source = WandbApiSource(path, args.wandb_host, args.run_id)
            return import_runs(api_source, args, f"W&B {api_source.host or 'default host'}", src_entity=entity,
                               src_project=project, one=args.run_id)
        source = WandbSource([Path(p) for p in args.paths])
    except TransferError as exc:
        print(f"runyard: {exc.message}", file=sys.stderr)
        return 2
    return import_runs(source, args, "W&B run folders")


def find_run_folders(path: Path) -> list[Path]:
    if list(path.glob("run-*.wandb")):
        return [path]
    found = {p.parent.resolve() for p in path.glob("*/run-*.wandb") if not p.parent.is_symlink()}
    found |= {p.parent.resolve() for p in path.glob("wandb/*/run-*.wandb") if not p.parent.is_symlink()}
    return sorted(found, key=lambda d: d.name)


def _chunks(path: Path, warn: Callable[[str], None]) -> Iterator[bytes]:
    """The records of a `.wandb` log (W&B's LevelDB-style container), checksums checked."""
    data = path.read_bytes()
    if len(data) < _HEADER:
        return
    ident, magic, _version = struct.unpack("<4sHB", data[:_HEADER])
    if ident != b":W&B" or magic != 0xBEE1:
        raise TransferError(f"{path} is not a W&B transaction log (it starts with {data[:7]!r})")
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:
            pos += left
            continue
        crc, n, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        chunk = data[pos + _HEADER:pos + _HEADER + n]
        pos += _HEADER + n
        if crc == 0 and n == 0 and kind == 0:
            continue  # block padding
        if len(chunk) < n:
            warn(f"{path} ends in the middle of a record (the run was still writing, or the file was cut)")
            return
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            warn(f"{path}: a record at byte {pos - n - _HEADER} fails its checksum; it is left out")
            pending = b""
            continue
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""


def _records(path: Path, warn: Callable[[str], None]) -> Iterator[Any]:
    try:
        from wandb.proto import wandb_internal_pb2

        wpb: Any = wandb_internal_pb2
    except ImportError:
        raise TransferError('the wandb importer needs the wandb package: pip install "runyard[wandb]"') from None
    try:  # the package's own reader, where it still ships one (wandb < 0.19)
        from wandb.sdk.internal import datastore  # type: ignore[attr-defined]

        ds = datastore.DataStore()
        ds.open_for_scan(str(path))
        raw: Iterator[bytes] = iter(ds.scan_data, None)
    except ImportError:
        raw = _chunks(path, warn)
    for data in raw:
        rec = wpb.Record()
        rec.ParseFromString(data)
        yield rec


def _value(text: str) -> Any:
    if text in _NONFINITE:
        return _NONFINITE[text]
    return json.loads(text)


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else str(item.key)


def _set_nested(target: dict[str, Any], item: Any, value: Any) -> None:
    path = list(item.nested_key) or [item.key]
    for part in path[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[path[-1]] = value


def _ts(stamp: Any) -> float:
    """A protobuf Timestamp as unix seconds, to the microsecond (what the services store)."""
    return int(stamp.seconds) + (int(stamp.nanos) // 1000) / 1e6


class _Parsed:
    def __init__(self, folder: Path, warn: Callable[[str], None]) -> None:
        logs = sorted(folder.glob("run-*.wandb"))
        self.folder = folder
        self.log = logs[0]
        self.run: Any = None
        self.config: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.rows: list[tuple[int, float, dict[str, Any]]] = []
        self.system: list[tuple[int, dict[str, float]]] = []
        self.output: list[tuple[float, str, str]] = []
        self.exit_code: int | None = None
        self.started = 0.0
        self.last_time = 0.0
        partial: dict[str, tuple[float, str]] = {}
        for rec in _records(self.log, warn):
            kind = rec.WhichOneof("record_type")
            if kind == "run":
                self.run = rec.run
                for item in rec.run.config.update:
                    _set_nested(self.config, item, _value(item.value_json))
                if rec.run.HasField("start_time") and not self.started:
                    self.started = _ts(rec.run.start_time)
            elif kind == "environment" and rec.environment.HasField("started_at") and not self.started:
                self.started = _ts(rec.environment.started_at)
            elif kind == "config":
                for item in rec.config.update:
                    _set_nested(self.config, item, _value(item.value_json))
                for item in rec.config.remove:
                    self.config.pop(_key(item), None)
            elif kind == "summary":
                for item in rec.summary.update:
                    _set_nested(self.summary, item, _value(item.value_json))
                for item in rec.summary.remove:
                    self.summary.pop(_key(item), None)
            elif kind == "history":
                self._history(rec.history)
            elif kind == "stats":
                ts = _ts(rec.stats.timestamp)
                values: dict[str, float] = {}
                for item in rec.stats.item:
                    v = _value(item.value_json)
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        values["system/" + item.key] = float(v)
                if values:
                    self.system.append((int(ts * 1000), values))
                    self.last_time = max(self.last_time, ts)
            elif kind == "output_raw":
                ts = _ts(rec.output_raw.timestamp)
                kind_name = type(rec.output_raw).OutputType.Name(rec.output_raw.output_type)
                stream = "stderr" if kind_name == "STDERR" else "stdout"
                start, text = partial.get(stream, (ts, ""))
                if not text:
                    start = ts  # a line's time is when its first characters were written
                *done, rest = (text + rec.output_raw.line).split("\n")
                for line in done:
                    self.output.append((start, stream, line.rstrip("\r")))
                    start = ts
                partial[stream] = (start, rest)
                self.last_time = max(self.last_time, ts)
            elif kind == "exit":
                self.exit_code = int(rec.exit.exit_code)
        for stream, (ts, rest) in partial.items():
            if rest:
                self.output.append((ts, stream, rest))
        self.output.sort(key=lambda x: x[0])
        for key in ("_wandb",):
            self.config.pop(key, None)
            self.summary.pop(key, None)

    def _history(self, h: Any) -> None:
        step = int(h.step.num) if h.HasField("step") else -1
        ts = 0.0
        values: dict[str, Any] = {}
        for item in h.item:
            key = _key(item)
            value = _value(item.value_json) if item.value_json else None
            if key == "_step" and isinstance(value, int):
                step = value
            elif key == "_timestamp" and isinstance(value, (int, float)):
                ts = float(value)
            elif key != "_runtime" and value is not None:
                values[key] = value
        if step < 0:
            step = self.rows[-1][0] + 1 if self.rows else 0
        self.rows.append((step, ts, values))
        self.last_time = max(self.last_time, ts)


class WandbSource(Source):
    def __init__(self, paths: list[Path]) -> None:
        folders: list[Path] = []
        for p in paths:
            found = find_run_folders(p)
            if not found:
                raise TransferError(f"no W&B run folder at {p} (one holds run-<id>.wandb; they live in ./wandb)")
            folders.extend(found)
        self.folders: dict[str, Path] = {}
        for f in folders:
            run_id = sorted(f.glob("run-*.wandb"))[0].stem[4:]
            self.folders.setdefault(run_id, f)
        self.label = "wandb:" + ",".join(str(p) for p in paths)
        self._parsed: dict[str, _Parsed] = {}

    def _warn(self, message: str) -> None:
        print(f"runyard: WARNING {message}", file=sys.stderr)

    def _get(self, run_id: str) -> _Parsed:
        if run_id not in self._parsed:
            self._parsed[run_id] = _Parsed(self.folders[run_id], self._warn)
        return self._parsed[run_id]

    def project(self, entity: str, project: str) -> None:
        pass

    def runs(self, entity: str, project: str) -> list[dict[str, Any]]:
        return [{"id": r} for r in self.folders]

    def run(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        p = self._get(run_id)
        r = p.run
        if r is None:
            raise TransferError(f"{p.log} holds no run record: it is not a W&B run log, or it is damaged")
        code = p.exit_code
        state = "crashed" if code is None else ("finished" if code == 0 else "failed")
        st = p.log.stat()
        history_keys = sorted({k for _, _, row in p.rows for k, v in row.items() if _number(v) is not None}
                              | {k for _, vals in p.system for k in vals})
        return run_dict(
            id=run_id, name=r.display_name, config=json_safe(p.config), summary=json_safe(p.summary),
            tags=list(r.tags), group=r.run_group, job_type=r.job_type, notes=r.notes, host=r.host,
            state=state, exit_code=code, error="" if not code else f"exit code {code}",
            created_at=iso(p.started or None), finished_at=iso(p.last_time or p.started) if code is not None else None,
            updated_at=f"wandb:{st.st_size}:{st.st_mtime_ns}", history_keys=history_keys,
        )

    def stream(self, run: dict[str, Any], spool: IO[bytes], progress: Callable[[str], None]) -> RunStream:
        from .._runcopy import iso_seconds

        p = self._get(run["id"])
        stream = new_stream(run)
        merged: dict[int, tuple[float, dict[str, Any]]] = {}
        for step, ts, values in p.rows:  # a step logged twice: later values win, as on a Runyard server
            old = merged.get(step)
            merged[step] = (ts, {**old[1], **values} if old else dict(values))
        for step in sorted(merged):
            ts, values = merged[step]
            add_record(spool, stream, pb.Record(history=history_row(step, ts, values, stream, _number)))
            stream.history_rows += 1
        samples: dict[int, dict[str, float]] = {}
        for ms, vals in p.system:
            samples.setdefault(ms, {}).update(vals)
        for ms in sorted(samples):
            sm = pb.SystemMetrics(timestamp=(ms + 0.5) / 1000.0)
            for key in sorted(samples[ms]):
                sm.keys.append(key)
                sm.values.append(samples[ms][key])
            add_record(spool, stream, pb.Record(system=sm))
            stream.points += len(sm.keys)
        add_output(spool, stream, p.output)
        if run["summary"]:
            add_record(spool, stream, pb.Record(summary=pb.SummaryUpdate(set_json=canon(run["summary"]))))
        if run["state"] in ("finished", "failed"):
            add_record(spool, stream, pb.Record(finish=pb.Finish(
                exit_code=int(run["exit_code"]), error=run["error"], time=iso_seconds(run["finished_at"]))))
            stream.finished = True
        return finish_stream(stream, spool)

    def files(self, entity: str, project: str, run_id: str) -> dict[str, dict[str, Any]]:
        root = self.folders[run_id] / "files"
        out: dict[str, dict[str, Any]] = {}
        for f in sorted(root.rglob("*")) if root.is_dir() else []:
            if f.is_file() and not f.is_symlink():
                rel = f.relative_to(root).as_posix()
                h = t.hash_file(f)
                out[rel] = {"path": rel, "sha256": h.sha256, "size": h.size, "local": str(f)}
        return out

    def file(self, entity: str, project: str, run_id: str, rec: dict[str, Any], cache: Cache) -> Path:
        return Path(rec["local"])

    def run_artifacts(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        return {"logged": [], "used": []}

    def artifacts(self, entity: str, project: str) -> list[dict[str, Any]]:
        return []


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None
