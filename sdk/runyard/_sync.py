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

from ._folder import host_state, update_host
from ._refusals import Isolation, describe, stand_in
from ._wire import batch_message, is_history_block, renumber
from .errors import RunyardError, ServerError
from .settings import LEGACY_RUN_ROOTS, RUN_ROOT, Settings, resolve
from .streamer import Refused
from .wal import Damage, LogReader, iter_frames, list_segments

__all__ = ["find_run_dirs", "run_status", "sync_run", "wal_last_seq"]

SYNC_FILE = "sync.json"


def find_run_dirs(path: str | os.PathLike[str]) -> list[Path]:
    """A run folder itself, or every run folder in a folder of run folders, or in `<path>/runyard-runs/`
    (and the `<path>/runyard/` of older SDK versions), oldest first."""
    p = Path(path)
    if (p / "run.json").is_file():
        return [p]
    found: dict[Path, None] = {}
    for root in (p, p / RUN_ROOT, *(p / name for name in LEGACY_RUN_ROOTS)):
        for d in root.glob("run-*"):
            if (d / "run.json").is_file() and not d.is_symlink():
                found[d.resolve()] = None
    return sorted(found, key=lambda d: (d.name, str(d)))


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
    """(synced to base_url, description) of one run folder, from what that server acknowledged only
    (sync.json, written by the run and by `runyard sync`)."""
    info = _read_json(run_dir / "run.json")
    last = wal_last_seq(run_dir)
    pid = live_pid(run_dir)
    if pid is not None:
        return False, f"running (pid {pid})"
    host = host_state(run_dir, base_url)
    pending = list(host.get("files_pending") or [])
    old_pending = run_dir / "files_pending.json"  # written by SDKs before sync.json held it
    if not pending and old_pending.is_file() and float(host.get("synced_at") or 0) < old_pending.stat().st_mtime:
        pending = _read_list(old_pending)
    if pending:
        return False, f"{len(pending)} files not uploaded to {base_url}"
    acked = int(host.get("acked_seq") or 0)
    if last == 0:
        return True, "uploaded" if info.get("mode") == "online" else "empty"
    if acked >= last:
        return True, f"synced to {base_url}"
    return False, f"{info.get('mode', '?')}, {last - acked} records not synced to {base_url}"


class SyncIncomplete(RunyardError):
    """The folder cannot recreate the run on the target (records missing from it): nothing was created."""


class FolderLog:
    """What a run folder's record log holds, read once: the records it should hold (from run.json) and
    what is missing or unreadable, each named."""

    def __init__(self, run_dir: Path, info: dict[str, Any]) -> None:
        reader = LogReader(run_dir / "wal")
        self.count = sum(1 for _ in reader.frames())
        self.damage: list[Damage] = reader.damage
        self.torn = reader.torn
        self.first = reader.first_seq
        self.last = reader.last_seq
        first_expected = info.get("first_seq")
        if not isinstance(first_expected, int):
            first_expected = 1 if (info.get("seq_numbering") or "server") == "folder" or not info.get("run_id") else None
        self.first_expected: int | None = first_expected
        last_expected = info.get("last_seq") if info.get("finished") else None
        self.last_expected: int | None = last_expected if isinstance(last_expected, int) else None
        self.keep_log = info.get("keep_log", True) is not False
        self.wal_complete = info.get("wal_complete", True) is not False
        self.base_url = str(info.get("base_url") or "")

    def missing_prefix(self) -> tuple[int, int] | None:
        """Records before this folder's first one that the target must already hold: deleted ones, or
        (a resumed run) an earlier process's. Unknown first record (older folders): from record 1."""
        start = self.first_expected or 1
        have = self.first if self.first is not None else (self.last_expected or 0) + 1
        return (start, have - 1) if have > start else None

    def missing_tail(self, target_has: int = 0) -> tuple[int, int] | None:
        """Records after the folder's last one that it should hold and the target does not have."""
        have = max(self.last, target_has)
        if self.last_expected is not None and self.last_expected > have:
            return (have + 1, self.last_expected)
        return None

    def why_prefix(self) -> str:
        if not self.keep_log:
            return (f"RUNYARD_KEEP_LOG=false deleted them after {self.base_url or 'the server'} acknowledged them")
        if self.first_expected is None:
            return ("they were logged by an earlier process of this run (sync its folder first) or deleted after "
                    "the server acknowledged them (older SDK versions did)")
        return "their log segments are gone from the folder"

    def why_tail(self) -> str:
        if not self.wal_complete:
            return "the disk failed while the run was logging: they were kept in memory only"
        return "the log ends before them (the folder was cut short)"


def _span(first: int, last: int) -> str:
    return f"record {first}" if first == last else f"records {first}-{last}"


def sync_run(run_dir: Path, *, settings: Settings, entity: str | None = None, project: str | None = None,
             say: Callable[[str], None] = print, attempts: int = 3) -> dict[str, Any]:
    """Sync one run folder; returns what happened (`missing` lists what the folder could not provide).
    Raises RunyardError when it cannot (SyncIncomplete: the run cannot be recreated; nothing created)."""
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
    folder = FolderLog(run_dir, info)
    numbering = info.get("seq_numbering") or "server"
    prefix = folder.missing_prefix()
    if prefix is not None:
        _check_target_has(run_dir, settings, open_run, numbering, folder, prefix)
    replay = _Replay(run_dir, settings, open_run, numbering, say)
    replay.run(attempts)
    opened = replay.opened
    assert opened is not None
    missing = [f"{d.describe()}; left out" for d in folder.damage]
    tail = folder.missing_tail(replay.acked)
    if tail is not None:
        missing.append(f"{_span(*tail)} are not in this folder: {folder.why_tail()}")
    for text in missing:
        say(f"  {run_dir.name}: WARNING {text}")
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
              "seq_offset": replay.offset, "acked_seq": replay.acked, "last_seq": replay.acked + replay.offset,
              "records_sent": replay.sent, "files_uploaded": files, "files_pending": [], "artifacts": done,
              "refused": [r.as_json() for r in replay.refused], "missing": missing}
    update_host(run_dir, settings.base_url, **record)
    record["url"] = f"{settings.base_url}/{opened.entity}/{opened.project}/runs/{opened.run_id}"
    record["name"] = opened.name
    return record


def _check_target_has(run_dir: Path, settings: Settings, open_run: pb.OpenRun, numbering: str, folder: FolderLog,
                      prefix: tuple[int, int]) -> None:
    """The folder lacks its first records: go on only if the target already holds them, and never create
    an empty copy (the run is opened with resume="must" to ask)."""
    from ._session import StreamSession
    from .errors import NotFoundError

    probe = pb.OpenRun()
    probe.CopyFrom(open_run)
    probe.resume = "must"
    what = f"{_span(*prefix)} of run {open_run.run_id} are not in {run_dir}: {folder.why_prefix()}"
    try:
        with StreamSession(settings.base_url, settings.api_key or "", probe,
                           http_timeout=settings.http_timeout) as session:
            opened = session.opened(max(settings.init_timeout, 30.0))
    except NotFoundError:
        raise SyncIncomplete(f"{what}. {settings.base_url} does not have the run, so this folder cannot "
                             "recreate it there; nothing was created. (Runs logged with RUNYARD_KEEP_LOG on, "
                             "the default, can be synced anywhere.)") from None
    offset = 0
    if numbering == "folder":
        known = host_state(run_dir, settings.base_url).get("seq_offset")
        offset = known if isinstance(known, int) else int(opened.last_seq)
    if int(opened.last_seq) - offset < prefix[1]:
        raise SyncIncomplete(f"{what}. {settings.base_url} holds the run only up to record "
                             f"{int(opened.last_seq) - offset}, so the rest cannot follow; nothing was sent.")


class _Replay:
    """Sends a folder's WAL records the server does not have yet, in order, each settled once.

    Numbering: a folder numbered like the server ("server") is sent as it is; one resumed while the server
    was away ("folder") gets an offset per server, fixed (and written to sync.json) before its first record
    is sent there. A refused record is found and left out as the live stream does (`runyard._refusals`);
    a record the folder cannot read (damage) is sent as a stand-in, so the records after it still go."""

    def __init__(self, run_dir: Path, settings: Settings, open_run: pb.OpenRun, numbering: str,
                 say: Callable[[str], None]) -> None:
        self.run_dir = run_dir
        self.wal_dir = run_dir / "wal"
        self.settings = settings
        self.open_run = open_run
        self.numbering = numbering
        self.say = say
        self.opened: pb.RunOpened | None = None
        self.offset = 0
        self.acked = 0  # the folder's numbering
        self.sent = 0
        self.refused: list[Refused] = []
        self.isolation = Isolation()
        self._sent_upto = 0  # the highest record handed to the current stream

    def run(self, attempts: int) -> None:
        from ._session import StreamSession

        failures = 0
        while True:
            session = StreamSession(self.settings.base_url, self.settings.api_key or "", self.open_run,
                                    http_timeout=self.settings.http_timeout)
            try:
                self._once(session)
                return
            except RunyardError as exc:
                conn = session.conn
                self._settle(conn.acked, conn.rejected)
                if conn.opened is not None and self.isolation.failed(
                    self.acked + 1, self._sent_upto, refused=conn.refused, server_failed=conn.server_failed,
                    reason=exc.message,
                ):
                    continue
                failures += 1
                if isinstance(exc, ServerError) or conn.fatal or failures >= attempts:
                    raise
                self.say(f"  {self.run_dir.name}: {exc.message}; retrying ({failures}/{attempts})")
                time.sleep(min(5.0, failures * 1.5))
            finally:
                session.close()

    def _once(self, session: Any) -> None:
        opened = session.opened(max(self.settings.init_timeout, 30.0))
        self.opened = opened
        self.offset = self._offset(opened)
        self._settle(session.conn.acked, session.conn.rejected)
        start = max(self.acked, opened.last_seq - self.offset)
        self.acked = start
        todo = sum(1 for _ in iter_frames(self.wal_dir, after_seq=start))
        if not todo:
            return
        self.say(f"  {self.run_dir.name}: sending {todo} records (the server has up to #{opened.last_seq})")
        progress = _progress(self.run_dir.name, todo, self.say)
        self._sent_upto = start
        iso = self.isolation
        batch: list[bytes] = []
        size = 0
        last = start

        def flush() -> None:
            nonlocal batch, size
            if batch:
                window = 1 if iso.active else 4
                session.send_message(batch_message(batch), window=window)
                self._sent_upto = last
                self.sent += len(batch)
                progress(self.sent)
                batch, size = [], 0
                if iso.active:  # one batch at a time while looking for a refused record
                    session.wait_acked(last + self.offset)
                    self._settle(session.conn.acked, session.conn.rejected)

        def add(seq: int, payload: bytes) -> None:
            nonlocal size, last
            if iso.stand_in == seq:
                flush()
                payload = stand_in(seq + self.offset)
                batch.append(payload)
                last = seq
                flush()
                return
            if batch and (len(batch) >= iso.batch_size(limit) or size + len(payload) > self.settings.batch_max_bytes):
                flush()
            batch.append(payload if not self.offset else renumber(payload, seq + self.offset))
            size += len(payload)
            last = seq

        limit = self.settings.batch_max_records
        blocks_ok = "history_block" in opened.features
        for seq, payload in iter_frames(self.wal_dir, after_seq=start):
            if not blocks_ok and is_history_block(payload):
                flush()
                session.wait_acked(last + self.offset)
                raise ServerError(
                    f"the server at {self.settings.base_url} is older than this SDK and cannot store the history "
                    f"blocks in {self.run_dir.name} (from record {seq} on); the records before it are sent. "
                    "Update the server, then run `runyard sync` again: it goes on from there",
                    code="FAILED_PRECONDITION")
            for lost in range(last + 1, seq):  # unreadable in the folder (reported): a stand-in keeps the order
                add(lost, stand_in(lost))
            add(seq, payload)
        flush()
        session.wait_acked(last + self.offset)
        self._settle(session.conn.acked, session.conn.rejected)

    def _offset(self, opened: pb.RunOpened) -> int:
        if self.numbering != "folder":
            return 0
        known = host_state(self.run_dir, self.settings.base_url).get("seq_offset")
        if isinstance(known, int):
            return known
        # first contact of this folder with this server: its record 1 follows what the server holds;
        # noted before anything is sent, so an interrupted sync resumes with the same numbers
        if not update_host(self.run_dir, self.settings.base_url, seq_offset=opened.last_seq,
                           entity=opened.entity, project=opened.project, run_id=opened.run_id):
            raise RunyardError(f"cannot write {self.run_dir / SYNC_FILE}; sync needs it to number this run's records")
        return int(opened.last_seq)

    def _settle(self, server_acked: int, rejected: Any) -> None:
        while rejected:
            seq, reason = rejected.popleft()
            self._refused(seq - self.offset, reason)
        acked = server_acked - self.offset
        if acked > self.acked and self.opened is not None:
            self.acked = acked
            found = self.isolation.acked(acked)
            if found is not None:
                self._refused(found, self.isolation.reason)

    def _refused(self, seq: int, reason: str) -> None:
        payload = next((p for s, p in iter_frames(self.wal_dir, after_seq=seq - 1) if s == seq), None)
        what = describe(payload) if payload is not None else f"record {seq}"
        self.refused.append(Refused(seq, what, reason))
        self.say(f"  {self.run_dir.name}: WARNING the server refused record {seq} ({what}): {reason}; "
                 "it is left out, the records after it are stored")


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
