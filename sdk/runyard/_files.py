"""The run's files: `<run folder>/files/` mirrors the run's files on the server (`run.dir`).

Everything a run stores as a file lands there first: media written by `log()` (`media/...`),
`run.save()`d files, `output.log`, `metadata.json`, `requirements.txt`, `diff.patch`, `code/...`. One
daemon thread (`runyard-files`) does the one-time capture at start, copies files saved with
policy="live" again when they change, rewrites the notebook's session history after cells (debounced),
and - online, once the server opened the run - uploads what changed through the artifact service's
presigned URLs (`runyard.artifacts.upload_run_files`). With the server away it keeps the list and retries
with backoff; whatever is not uploaded when the run ends is uploaded by `runyard sync`, which compares
the folder with the server's file list. At finish every file under `files/` is uploaded (W&B's "put it
in run.dir" works).
"""

from __future__ import annotations

import glob as _glob
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _console
from ._items import SKIP, Outbox

__all__ = ["RunFiles", "file_name_for", "scan_files"]

log = logging.getLogger("runyard")

Uploader = Callable[[dict[str, Path]], list[dict[str, Any]]]


def scan_files(files_dir: Path) -> dict[str, Path]:
    """Every regular file below `files_dir` as {posix relative path: path}, temp files left out."""
    out: dict[str, Path] = {}
    if not files_dir.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(files_dir):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith((".tmp", ".part")) or fn.startswith("."):
                continue
            full = Path(dirpath) / fn
            if full.is_file():
                out[full.relative_to(files_dir).as_posix()] = full
    return out


def file_name_for(match: str, glob_str: str, base_path: str | None, files_dir: Path) -> str:
    """The run-file name of a path matched by `run.save(glob_str, base_path)` (W&B's naming)."""
    full = Path(match).resolve()
    try:
        return full.relative_to(files_dir.resolve()).as_posix()
    except ValueError:
        pass
    if base_path is None:
        base_path = os.path.dirname(glob_str.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]) or "."
    rel = os.path.relpath(full, os.path.abspath(base_path))
    if rel.startswith(".."):
        rel = full.name
    return Path(rel).as_posix()


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _place(src: Path, dest: Path) -> None:
    """Copy `src` to `dest` inside files/ (a copy, not a link: the file as it is now is what is uploaded,
    even if the script rewrites it in place later)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if os.path.samefile(src, dest):
            return
    except OSError:
        pass
    tmp = dest.with_name(dest.name + ".tmp")  # replaced atomically: a reader never sees it missing
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)


class RunFiles:
    """`outbox`: the run's queue (FileSaved notices); `uploader`: None offline; `ready()`: whether the
    server opened the run (uploads may start)."""

    def __init__(self, run_dir: Path, *, interval: float, outbox: Outbox,
                 uploader: Uploader | None, ready: Callable[[], bool]) -> None:
        self.files_dir = run_dir / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.interval = interval
        self.outbox = outbox
        self._uploader = uploader  # None: offline
        self._ready = ready  # the server opened the run (uploads may start)
        self._lock = threading.Lock()
        self._pending: dict[str, None] = {}  # ordered set of names to upload
        self._uploaded: dict[str, tuple[int, int]] = {}  # name -> (size, mtime_ns) as uploaded
        self._live: list[tuple[str, str | None]] = []
        self._end: list[tuple[str, str | None]] = []
        self._tasks: list[Callable[[], None]] = []
        self._periodic: list[Callable[[], None]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._backoff = 0.0
        self._next_try = 0.0
        self.last_error: Exception | None = None
        self._bad_media: set[str] = set()
        self._thread: threading.Thread | None = None

    # ---- caller side ---------------------------------------------------------------------------
    def start(self) -> RunFiles:
        self._thread = threading.Thread(target=self._main, name="runyard-files", daemon=True)
        self._thread.start()
        return self

    def run_once(self, task: Callable[[], None]) -> None:
        """Run `task` on the files thread (the one-time capture at start)."""
        self._tasks.append(task)
        self._wake.set()

    def every_round(self, task: Callable[[], None]) -> None:
        self._periodic.append(task)

    def add(self, name: str) -> None:
        with self._lock:
            self._pending[name] = None
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def save(self, glob_str: str, base_path: str | None, policy: str) -> list[str]:
        """`run.save()`: place matching files under files/ now (policy now/live) or at the end."""
        if policy not in ("now", "live", "end"):
            raise ValueError(f"run.save: policy must be 'now', 'live' or 'end', got {policy!r}")
        # absolute now: later checks of live/end files must not depend on the script changing folders
        glob_str = os.path.abspath(os.fspath(glob_str))
        if base_path is None:
            base_path = os.path.dirname(glob_str.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]) or "."
        base_path = os.path.abspath(base_path)
        if policy == "end":
            self._end.append((glob_str, base_path))
            return [file_name_for(m, glob_str, base_path, self.files_dir) for m in self._matches(glob_str)]
        names = self._place_matches(glob_str, base_path)
        if policy == "live":
            self._live.append((glob_str, base_path))
        return names

    @staticmethod
    def _matches(glob_str: str) -> list[str]:
        return sorted(p for p in _glob.glob(glob_str, recursive=True) if os.path.isfile(p))

    def _place_matches(self, glob_str: str, base_path: str | None, only_changed: bool = False) -> list[str]:
        names = []
        for m in self._matches(glob_str):
            name = file_name_for(m, glob_str, base_path, self.files_dir)
            dest = self.files_dir / name
            src = Path(m)
            if only_changed and _signature(dest) == _signature(src):
                continue
            try:
                if src.resolve() != dest.resolve():
                    _place(src, dest)
            except OSError as exc:
                _console.warn(f"cannot save {m}: {exc}")
                continue
            names.append(name)
            self.add(name)
        return names

    def bind_media(self, key: str, value: Any, step: int) -> Any:
        """The streamer's media binder: a Media (or a list of them) -> descriptor(s); files queued."""
        from .media import Media

        try:
            if isinstance(value, Media):
                desc: Any = value.bind(self.files_dir, key, step)
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Media) for v in value):
                desc = [v.bind(self.files_dir, key, step) for v in value]
            else:
                return None
        except Exception as exc:
            if key not in self._bad_media:
                self._bad_media.add(key)
                _console.warn(f"could not store the media logged as {key!r}: {exc!r}; it is left out")
            return SKIP
        for name in _file_paths(desc):
            self.add(name)
        return desc

    # ---- the thread ----------------------------------------------------------------------------
    def _main(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            stopping = self._stop.is_set()
            self._round()
            if stopping:
                return

    def _round(self) -> None:
        self._idle.clear()
        try:
            while self._tasks:
                task = self._tasks.pop(0)
                try:
                    task()
                except Exception:
                    log.exception("capture task failed")
            for glob_str, base_path in list(self._live):
                self._place_matches(glob_str, base_path, only_changed=True)
            for task in list(self._periodic):
                try:
                    task()
                except Exception:
                    log.exception("periodic file task failed")
            self._upload_pending()
        finally:
            self._idle.set()

    def _upload_pending(self) -> None:
        if self._uploader is None or not self._pending or not self._ready():
            return
        if time.monotonic() < self._next_try:
            return
        with self._lock:
            names = list(self._pending)
        batch: dict[str, Path] = {}
        sigs: dict[str, tuple[int, int]] = {}
        for name in names:
            path = self.files_dir / name
            sig = _signature(path)
            if sig is None:
                with self._lock:
                    self._pending.pop(name, None)
                continue
            if self._uploaded.get(name) == sig:
                with self._lock:
                    self._pending.pop(name, None)
                continue
            batch[name] = path
            sigs[name] = sig
        if not batch:
            return
        try:
            records = self._uploader(batch)
        except Exception as exc:
            from .errors import ServerError

            self.last_error = exc
            status = getattr(exc, "status", None)
            if isinstance(exc, ServerError) and status is not None and 400 <= status < 500 and status != 409:
                # refused (no artifact service at this URL, no permission, too large): retrying cannot help
                self._uploader = None
                _console.warn(f"run files cannot be uploaded ({exc}); they stay in {self.files_dir}, "
                              "`runyard sync` uploads them later")
                return
            self._backoff = min(30.0, max(1.0, self._backoff * 2))
            self._next_try = time.monotonic() + self._backoff
            log.info("uploading %d run files failed (%s); retrying in %.0f s", len(batch), exc, self._backoff)
            return
        self._backoff = 0.0
        self.last_error = None
        with self._lock:
            for name, sig in sigs.items():
                self._uploaded[name] = sig
                if _signature(self.files_dir / name) == sig:
                    self._pending.pop(name, None)
        for rec in records or []:
            try:
                self.outbox.file_saved(str(rec["path"]), int(rec["size"]), str(rec["sha256"]))
            except (KeyError, TypeError, ValueError):
                pass

    # ---- the end -------------------------------------------------------------------------------
    def finish(self, timeout: float, final_tasks: list[Callable[[], None]]) -> tuple[list[str], Exception | None]:
        """Place end-policy files, run the final tasks, upload everything under files/ that changed.
        Returns (names of the files not uploaded, last upload error). Waits at most `timeout` seconds."""
        # let the one-time capture (git, requirements, metadata) finish first: a short script may end
        # before it did
        wait_tasks = time.monotonic() + min(timeout, 10.0)
        while (self._tasks or not self._idle.is_set()) and time.monotonic() < wait_tasks:
            self._wake.set()
            time.sleep(0.02)
        for glob_str, base_path in self._end + self._live:
            self._place_matches(glob_str, base_path)
        for task in final_tasks:
            try:
                task()
            except Exception:
                log.exception("final file task failed")
        for name, path in scan_files(self.files_dir).items():
            if self._uploaded.get(name) != _signature(path):
                with self._lock:
                    self._pending[name] = None
        self._live.clear()
        self._periodic.clear()
        if self._uploader is None or not self._ready():
            self._stop_thread(1.0)
            return self.pending(), self.last_error
        self._next_try = 0.0
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline and self._uploader is not None:
            self._wake.set()
            time.sleep(0.05)
            self._idle.wait(max(0.0, deadline - time.monotonic()))
            if self.last_error is not None and self._next_try > deadline:
                break
        self._stop_thread(max(0.5, min(5.0, deadline - time.monotonic())))
        return self.pending(), self.last_error

    def _stop_thread(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def pending(self) -> list[str]:
        with self._lock:
            return list(self._pending)


def _file_paths(desc: Any) -> list[str]:
    """Run-file names inside a media descriptor (any dict with `path` and `sha256`)."""
    out: list[str] = []
    stack = [desc]
    while stack:
        d = stack.pop()
        if isinstance(d, dict):
            if isinstance(d.get("path"), str) and "sha256" in d:
                out.append(d["path"])
            stack.extend(d.values())
        elif isinstance(d, list):
            stack.extend(d)
    return out
