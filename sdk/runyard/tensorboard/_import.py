"""`runyard import tensorboard LOGDIR --project P`: existing event-file trees become runs.

Which folders are runs: when LOGDIR itself holds event files, LOGDIR is one run; otherwise every
immediate subfolder with event files somewhere below it is one run (TensorBoard's `runs/<name>/` layout),
named after the folder. Inside a run, keys and file names follow `sync_tensorboard`: `<subfolder>/<tag>`
for writers in subfolders (`train/epoch_loss`), plain tags at the run's top.

Idempotent: a run's id comes from its folder name and its first event file's name (which holds the
writer's start time, host and pid), and its records are built the same way every time, numbered from 1,
into a run folder that `runyard sync` then replays: the server ignores sequence numbers it already holds,
so importing the same tree again sends nothing and uploads nothing, and an import that was interrupted is
completed by the next one. Each run is finished with the time of its last event.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _bridge
from ._convert import Converter, Point
from ._reader import iter_records
from ._watcher import namespace_for

__all__ = ["ImportedRun", "add_arguments", "find_runs", "import_logdir", "run"]

NAME = "tensorboard"
HELP = "turn TensorBoard event-file folders into runs (one run per subfolder)"
ITEMS_PER_BUILD = 2000  # records are built in fixed-size groups, so the same tree gives the same records


@dataclass
class TreeRun:
    """One run to import: its folder and event files (sorted by the time they start, then path)."""

    name: str
    folder: Path
    files: list[Path] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """What the run was imported from: every event file's path and size (stored in the run's config)."""
        parts = sorted(f"{p.relative_to(self.folder).as_posix()}:{p.stat().st_size}" for p in self.files)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

    @property
    def run_id(self) -> str:
        first = min(p.name for p in self.files)
        digest = hashlib.sha256(f"{self.name}\0{first}".encode()).hexdigest()[:16]
        return f"tb-{digest}"


@dataclass
class ImportedRun:
    name: str
    run_id: str
    outcome: str  # new | completed | unchanged | failed
    records: int = 0
    files: int = 0
    url: str = ""
    error: str = ""
    points: int = 0  # scalar points in the run (sent now or before)


def _event_files(folder: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        out += [Path(dirpath) / n for n in sorted(filenames) if "tfevents" in n and not n.endswith((".tmp", ".part"))]
    return out


def find_runs(logdir: Path) -> list[TreeRun]:
    """The runs in a log folder (see the module docstring)."""
    if not logdir.is_dir():
        return []
    if any("tfevents" in p.name for p in logdir.iterdir() if p.is_file()):
        return [TreeRun(logdir.resolve().name, logdir, _event_files(logdir))]
    runs = []
    for sub in sorted(p for p in logdir.iterdir() if p.is_dir()):
        files = _event_files(sub)
        if files:
            runs.append(TreeRun(sub.name, sub, files))
    return runs


def _first_wall_time(path: Path) -> float:
    from ._convert import event_class

    event = event_class()
    for payload in iter_records(path):
        try:
            return float(event.FromString(payload).wall_time)
        except Exception:
            return 0.0
    return 0.0


def stage(tree: TreeRun, project: str, entity: str | None, base_url: str, into: Path) -> tuple[Path, int, int, int]:
    """Write the run folder `runyard sync` uploads: run.json, the records (WAL) and files/ (media and the
    event files under tensorboard/). Returns (folder, records, events, scalar points)."""
    from .._records import RecordBuilder
    from ..wal import WalWriter

    run_dir = into / f"run-import-{tree.run_id}"
    shutil.rmtree(run_dir, ignore_errors=True)
    files = _bridge.scratch_run_files(run_dir)
    builder = RecordBuilder(1)
    builder.media_binder = files.bind_media
    wal = WalWriter(run_dir / "wal")
    ordered = sorted(tree.files, key=lambda p: (_first_wall_time(p), p.relative_to(tree.folder).as_posix()))
    start = min((t for t in (_first_wall_time(p) for p in ordered) if t), default=0.0)
    last_time = start
    events = 0
    points_n = 0
    items: list[Any] = [_bridge.config_item({"tensorboard": {"logdir": tree.name, "files": tree.fingerprint}})]

    def flush(final: bool = False) -> None:
        while len(items) >= ITEMS_PER_BUILD or (final and items):
            batch, items[:] = items[:ITEMS_PER_BUILD], items[ITEMS_PER_BUILD:]
            wal.append(builder.build(batch))

    for path in ordered:
        namespace = namespace_for(str(path.parent), str(tree.folder))
        converter = Converter()
        for payload in iter_records(path):
            try:
                points = converter.points(payload)
            except Exception:
                continue
            if not points:
                continue
            events += 1
            points_n += sum(1 for p in points if p.kind == "scalar")
            last_time = max(last_time, points[0].wall_time)
            items.extend(_items_of(points, namespace))
            flush()
        dest = files.files_dir / "/".join(p for p in ("tensorboard", namespace, path.name) if p)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    items.append(_bridge.finish_item(last_time))
    flush(final=True)
    records = wal.last_seq
    wal.close()
    info = {"format": 1, "run_id": tree.run_id, "entity": entity, "project": project, "name": tree.name,
            "config": {}, "config_in_wal": True, "tags": ["tensorboard-import"], "group": None, "job_type": None,
            "notes": None, "host": "", "start_time": start, "base_url": base_url, "mode": "offline", "wal": "wal"}
    (run_dir / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    return run_dir, records, events, points_n


def _items_of(points: list[Point], namespace: str) -> list[Any]:
    from .._console import warn
    from ._watcher import _image

    row: dict[str, Any] = {}
    lines: list[str] = []
    p0 = points[0]
    for p in points:
        key = f"{namespace}/{p.tag}" if namespace else p.tag
        if p.kind == "scalar":
            row[key] = p.value
        elif p.kind == "image":
            try:
                images = [_image(b) for b in p.value]
                row[key] = images[0] if len(images) == 1 else images
            except Exception as exc:
                warn(f"tensorboard import: the image {key!r} at step {p.step} cannot be read ({exc}); left out")
        elif p.kind == "histogram":
            from ..media import Histogram

            row[key] = Histogram(np_histogram=p.value)
        elif p.kind == "text":
            lines += [f"[tensorboard] {key} @ step {p.step}: {line}" for line in p.value.splitlines() or [""]]
    out: list[Any] = []
    if row:
        out.append(_bridge.history_item(p0.step, p0.wall_time, row))
    if lines:
        out.append(_bridge.output_item(p0.wall_time, lines))
    return out


def import_logdir(logdir: str | os.PathLike[str], *, project: str, entity: str | None = None,
                  base_url: str | None = None, api_key: str | None = None,
                  say: Callable[[str], None] = print) -> list[ImportedRun]:
    """Import every run of `logdir` (see the module docstring); returns what happened to each."""
    from .._ids import check_project
    from .._sync import sync_run, sync_settings
    from ..errors import RunyardError, UsageError
    from ._convert import event_class

    root = Path(logdir)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    event_class()  # names the extra to install (runyard[tensorboard]) before anything is read
    project = check_project(project)
    trees = find_runs(root)
    if not trees:
        raise UsageError(f"no TensorBoard event files (events.out.tfevents.*) under {root}")
    settings = sync_settings(base_url, api_key)
    target_entity = entity or _own_entity(settings)
    say(f"importing {len(trees)} run{'s' if len(trees) != 1 else ''} from {root} into "
        f"{(entity + '/') if entity else ''}{project} on {settings.base_url}")
    results: list[ImportedRun] = []
    with tempfile.TemporaryDirectory(prefix="runyard-tb-import-") as tmp:
        for i, tree in enumerate(trees, 1):
            t0 = time.monotonic()
            try:
                earlier = _imported_from(settings, target_entity, project, tree.run_id)
                if earlier is not None and earlier != tree.fingerprint:
                    raise RunyardError(
                        f"run {tree.run_id} in {target_entity}/{project} was imported from other event files "
                        f"(they changed since, or another folder of that name was imported); import into another "
                        f"project, or delete that run first")
                run_dir, records, events, points = stage(tree, project, entity, settings.base_url, Path(tmp))
                say(f"[{i}/{len(trees)}] {tree.name}: {events} events in {len(tree.files)} event files "
                    f"-> {records} records")
                rec = sync_run(run_dir, settings=settings, entity=entity, project=project,
                               say=lambda m: say("  " + m.strip()))
            except RunyardError as exc:
                say(f"  {tree.name}: FAILED: {exc.message}")
                results.append(ImportedRun(tree.name, tree.run_id, "failed", error=exc.message))
                continue
            finally:
                shutil.rmtree(Path(tmp) / f"run-import-{tree.run_id}", ignore_errors=True)
            sent = int(rec["records_sent"])
            outcome = "unchanged" if not sent and not rec["files_uploaded"] else ("new" if sent >= records else "completed")
            results.append(ImportedRun(tree.name, tree.run_id, outcome, sent, int(rec["files_uploaded"]), rec["url"],
                                       points=points))
            say(f"  {tree.name}: {_OUTCOME[outcome]} ({time.monotonic() - t0:.1f} s) {rec['url']}")
    return results


def _own_entity(settings: Any) -> str:
    from .._http import viewer

    who = viewer(settings.base_url, settings.api_key or "", settings.http_timeout)
    return str(who.get("entity") or who.get("username") or "")


def _imported_from(settings: Any, entity: str, project: str, run_id: str) -> str | None:
    """The event-file fingerprint an earlier import stored in the run's config; None when the run does not
    exist yet (or was not imported)."""
    from urllib.parse import quote

    from .._http import client, raise_for

    path = f"/api/v1/runs/{quote(entity, safe='')}/{quote(project, safe='')}/{run_id}"
    with client(settings.http_timeout, settings.api_key) as c:
        resp = c.get(settings.base_url + path)
    if resp.status_code == 404:
        return None
    raise_for(resp, settings.base_url, "looking for an earlier import")
    tb = (resp.json().get("config") or {}).get("tensorboard")
    return str(tb.get("files")) if isinstance(tb, dict) and tb.get("files") else None


_OUTCOME = {"new": "imported", "completed": "completed (an earlier import had stopped half way)",
            "unchanged": "already imported, nothing to add", "failed": "failed"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logdir", metavar="LOGDIR", help="a TensorBoard log folder: one run per subfolder "
                        "(or LOGDIR itself when it holds event files directly)")
    parser.add_argument("--project", required=True, help="the project the runs go to")
    parser.add_argument("--entity", help="the entity (default: the API key's user)")
    parser.add_argument("--host", help="server base URL (default: RUNYARD_BASE_URL or the saved host)")
    parser.add_argument("--api-key", dest="api_key", help="API key (default: RUNYARD_API_KEY or the saved one)")


def run(args: argparse.Namespace) -> int:
    """The `runyard import tensorboard` command; exit 0 when every run is there, 1 otherwise."""
    from ..errors import RunyardError

    try:
        results = import_logdir(args.logdir, project=args.project, entity=args.entity, base_url=args.host,
                                api_key=args.api_key)
    except RunyardError as exc:
        print(f"runyard: {exc.message}", file=sys.stderr)
        return 2
    counts = {k: sum(1 for r in results if r.outcome == k) for k in ("new", "completed", "unchanged", "failed")}
    print(f"done: {len(results)} runs: {counts['new']} imported, {counts['completed']} completed, "
          f"{counts['unchanged']} already imported, {counts['failed']} failed")
    points = sum(r.points for r in results if r.outcome in ("new", "completed"))
    print(f"imported: {len(results)} runs ({counts['new']} new, {counts['completed']} completed, "
          f"{counts['unchanged']} already there); sent {points} points, {sum(r.files for r in results)} files")
    return 1 if counts["failed"] else 0
