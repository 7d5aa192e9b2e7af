"""`runyard sync`: upload run folders written offline, or whose upload did not finish.

For each run folder: open the run on the target server (`resume="allow"`, `sync=true`), read
`RunOpened.last_seq`, replay the WAL records above it with their original sequence numbers, wait for the
acknowledgement, then upload every file under `files/` whose sha256 the server does not already list.
The server ignores sequence numbers it already holds, so a second sync sends nothing, and a sync into
another instance (`--host`) sends everything. What was synced where is noted in `sync.json`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runyard_proto.v1 import ingest_pb2 as pb

from .errors import RunyardError
from .settings import Settings, resolve
from .wal import iter_frames, list_segments

__all__ = ["find_run_dirs", "run_status", "sync_run", "wal_last_seq"]

SYNC_FILE = "sync.json"


def find_run_dirs(path: str | os.PathLike[str]) -> list[Path]:
    """A run folder itself, or every run folder in a `runyard/` folder (or in `<path>/runyard/`)."""
    p = Path(path)
    if (p / "run.json").is_file():
        return [p]
    for root in (p, p / "runyard"):
        found = sorted(d for d in root.glob("run-*") if (d / "run.json").is_file())
        if found:
            return found
    return []


def wal_last_seq(run_dir: Path) -> int:
    segments = list_segments(run_dir / "wal")
    if not segments:
        return 0
    last = 0
    for seq, _ in iter_frames(run_dir / "wal", after_seq=segments[-1][0] - 1):
        last = seq
    return last


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_list(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def live_pid(run_dir: Path) -> int | None:
    """The pid of the process still writing this run folder, if it is alive."""
    try:
        pid = int((run_dir / ".live").read_text().strip())
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def run_status(run_dir: Path, base_url: str) -> tuple[bool, str]:
    """(synced to base_url, description) of one run folder."""
    info = _read_json(run_dir / "run.json")
    last = wal_last_seq(run_dir)
    synced = _read_json(run_dir / SYNC_FILE).get(base_url) or {}
    pid = live_pid(run_dir)
    if pid is not None:
        return False, f"running (pid {pid})"
    pending = run_dir / "files_pending.json"
    if pending.is_file() and float(synced.get("synced_at") or 0) < pending.stat().st_mtime:
        return False, f"{len(_read_list(pending))} files not uploaded to {info.get('base_url')}"
    if last == 0:
        return True, "uploaded" if info.get("mode") == "online" else "empty"
    if int(synced.get("last_seq") or 0) >= last:
        return True, f"synced to {base_url}"
    return False, f"{info.get('mode', '?')}, {last - int(synced.get('last_seq') or 0)} records not synced to {base_url}"


def sync_run(run_dir: Path, *, settings: Settings, entity: str | None = None, project: str | None = None,
             say: Callable[[str], None] = print, attempts: int = 3) -> dict[str, Any]:
    """Sync one run folder; returns what happened. Raises RunyardError when it cannot."""
    from ._session import StreamSession

    info = _read_json(run_dir / "run.json")
    if not info.get("run_id") or not info.get("project"):
        raise RunyardError(f"{run_dir} has no readable run.json; is it a run folder?")
    pid = live_pid(run_dir)
    if pid is not None:
        raise RunyardError(f"{run_dir} is still being written by process {pid}; sync it after that run ends")
    if not settings.api_key:
        from ._http import LOGIN_HINT

        raise RunyardError(f"no API key for {settings.base_url}. " + LOGIN_HINT.format(base=settings.base_url))
    same_server = str(info.get("base_url") or "").rstrip("/") == settings.base_url
    target_entity = entity or (info.get("entity") if same_server else None) or ""
    target_project = project or info["project"]
    open_run = pb.OpenRun(
        entity=target_entity, project=target_project, run_id=info["run_id"], name=info.get("name") or "",
        resume="allow", tags=list(info.get("tags") or []),
        # folders of SDK versions that did not put the initial config into the WAL carry it here
        config_json="" if info.get("config_in_wal") else json.dumps(info.get("config") or {}),
        group=info.get("group") or "", job_type=info.get("job_type") or "", notes=info.get("notes") or "",
        host=info.get("host") or "", start_time=float(info.get("start_time") or 0.0), sync=True,
    )
    wal_dir = run_dir / "wal"
    sent = 0
    acked = 0
    opened: pb.RunOpened | None = None
    for attempt in range(1, attempts + 1):
        try:
            with StreamSession(settings.base_url, settings.api_key, open_run,
                               http_timeout=settings.http_timeout) as session:
                opened = session.opened(max(settings.init_timeout, 30.0))
                todo = sum(1 for _ in iter_frames(wal_dir, after_seq=opened.last_seq))
                if todo:
                    say(f"  {run_dir.name}: sending {todo} records (the server has up to #{opened.last_seq})")
                progress = _progress(run_dir.name, todo, say)

                acked = session.send(iter_frames(wal_dir, after_seq=opened.last_seq),
                                     max_records=settings.batch_max_records, max_bytes=settings.batch_max_bytes,
                                     progress=progress)
                sent += todo
            break
        except RunyardError as exc:
            from .errors import ServerError

            if isinstance(exc, ServerError) or attempt == attempts:
                raise
            say(f"  {run_dir.name}: {exc.message}; retrying ({attempt}/{attempts})")
            time.sleep(min(5.0, attempt * 1.5))
    assert opened is not None
    files = _sync_files(run_dir, settings, opened, say)
    state = _read_json(run_dir / SYNC_FILE)
    done = list((state.get(settings.base_url) or {}).get("artifacts") or [])
    if (run_dir / "artifacts").is_dir():
        from ._artifact_stage import log_staged

        new = log_staged(run_dir, settings.base_url, settings.api_key, opened.entity, opened.project,
                         opened.run_id, done)
        if new:
            say(f"  {run_dir.name}: logged {len(new)} artifacts")
        done += new
    record = {"entity": opened.entity, "project": opened.project, "run_id": opened.run_id,
              "last_seq": max(acked, opened.last_seq),
              "records_sent": sent, "files_uploaded": files, "artifacts": done, "synced_at": time.time()}
    state[settings.base_url] = record
    tmp = run_dir / (SYNC_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, run_dir / SYNC_FILE)
    record["url"] = f"{settings.base_url}/{opened.entity}/{opened.project}/runs/{opened.run_id}"
    record["name"] = opened.name
    return record


def _progress(name: str, todo: int, say: Callable[[str], None]) -> Callable[[int], None]:
    """A progress callback that prints at most every 2 s."""
    last = [time.monotonic()]

    def progress(n: int) -> None:
        if time.monotonic() - last[0] >= 2.0:
            last[0] = time.monotonic()
            say(f"  {name}: {n}/{todo} records sent ({100 * n // max(todo, 1)}%)")

    return progress


def _sync_files(run_dir: Path, settings: Settings, opened: pb.RunOpened, say: Callable[[str], None]) -> int:
    from . import _transfer as t
    from ._files import scan_files
    from .artifacts import list_run_files, upload_run_files

    local = scan_files(run_dir / "files")
    if not local:
        return 0
    listing = list_run_files(settings.base_url, settings.api_key, opened.entity, opened.project, opened.run_id,
                             recursive=True)
    remote = {f["path"]: f.get("sha256") for f in listing.get("files", [])}
    todo = {name: path for name, path in local.items() if remote.get(name) != t.hash_file(path).sha256}
    if not todo:
        return 0
    say(f"  {run_dir.name}: uploading {len(todo)} files")
    upload_run_files(settings.base_url, settings.api_key, opened.entity, opened.project, opened.run_id, todo)
    return len(todo)


def sync_settings(host: str | None, api_key: str | None) -> Settings:
    return resolve({"base_url": host, "api_key": api_key, "mode": "online"})
