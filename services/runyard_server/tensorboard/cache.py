"""A bounded on-disk cache of runs' event files, evicted least recently used first.

Layout: `<root>/runs/<run pk>/<path below tensorboard/>`: one folder per run, the tree the run's writers made
(`train/events.out...`, `validation/events.out...`), so TensorBoard sees the same runs the script had.

- `sync(run_pk, files)` makes a run's folder match the bucket: a file whose new version only grew (event
  files are append-only) gets just the new bytes (a ranged GET), checked against the new sha256; anything
  else is downloaded whole into a temp file and renamed into place. It says whether TensorBoard may just
  read on (`grown`) or must start over for that run (`replaced`: a file changed or went away).
- The total size of all run folders never passes `max_bytes`: before downloading, the least recently used
  runs that no request holds (`pin`) are removed; when that cannot make room, `CacheFull` says so.
- `on_evict(run_pk)` is called for every run removed, so the TensorBoard views built on it are dropped.

The cache is rebuilt from the bucket after a restart (the folder is emptied at start): it only ever holds
copies. Thread-safe: `sync` runs in worker threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from . import metrics

__all__ = ["CacheFull", "EventCache", "RemoteFile", "SyncResult"]

log = logging.getLogger("runyard_server.tensorboard")

Fetch = Callable[[str, BinaryIO, int], None]  # (object key, output, start byte) -> writes bytes start..end


class CacheFull(Exception):
    """The runs asked for do not fit in the cache (RUNYARD_TENSORBOARD_CACHE_BYTES)."""


@dataclass(frozen=True)
class RemoteFile:
    """One event file of a run as the database lists it: `path` is relative to the run's `tensorboard/`."""

    path: str
    size: int
    sha256: str
    key: str


@dataclass
class SyncResult:
    downloaded: int = 0  # bytes fetched
    grown: bool = False  # some file got longer
    replaced: bool = False  # some file changed in place or disappeared: read the run again from scratch


@dataclass
class _Entry:
    dir: Path
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (sha256, size)
    used_at: float = 0.0
    pins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def size(self) -> int:
        return sum(s for _, s in self.files.values())


def safe_relpath(path: str) -> str | None:
    """`path` when it is a plain relative POSIX path inside the run's folder, else None."""
    p = PurePosixPath(path)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts) or "\\" in path:
        return None
    return p.as_posix()


class EventCache:
    def __init__(self, root: Path, max_bytes: int, fetch: Fetch,
                 on_evict: Callable[[int], None] | None = None) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.max_bytes = max_bytes
        self._fetch = fetch
        self.on_evict = on_evict
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._reserved = 0  # bytes being downloaded right now (counted before they land)
        shutil.rmtree(self.runs_dir, ignore_errors=True)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        metrics.CACHE_LIMIT.set(max_bytes)
        metrics.CACHE_BYTES.set(0)

    # ---- what is held --------------------------------------------------------------------------
    def total_bytes(self) -> int:
        with self._lock:
            return sum(e.size for e in self._entries.values()) + self._reserved

    def disk_bytes(self) -> int:
        """What the folder really holds on disk (tests compare it with the bound)."""
        total = 0
        for dirpath, _dirs, files in os.walk(self.runs_dir):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(dirpath, name))
                except OSError:
                    pass
        return total

    def run_dir(self, run_pk: int) -> Path:
        return self.runs_dir / str(run_pk)

    def cached_runs(self) -> list[int]:
        with self._lock:
            return sorted(self._entries, key=lambda pk: self._entries[pk].used_at)

    def pin(self, run_pks: list[int]) -> None:
        with self._lock:
            for pk in run_pks:
                e = self._entries.get(pk)
                if e is None:
                    e = self._entries[pk] = _Entry(self.run_dir(pk))
                e.pins += 1
                e.used_at = time.monotonic()

    def unpin(self, run_pks: list[int]) -> None:
        with self._lock:
            for pk in run_pks:
                e = self._entries.get(pk)
                if e is not None and e.pins > 0:
                    e.pins -= 1

    # ---- bringing a run up to date -------------------------------------------------------------
    def sync(self, run_pk: int, remote: list[RemoteFile]) -> SyncResult:
        """Make the run's folder hold exactly `remote` (the caller pinned the run). Blocking."""
        with self._lock:
            entry = self._entries.get(run_pk)
            if entry is None:
                entry = self._entries[run_pk] = _Entry(self.run_dir(run_pk))
        result = SyncResult()
        with entry.lock:
            wanted = {p: f for f in remote if (p := safe_relpath(f.path)) is not None}
            for path in [p for p in entry.files if p not in wanted]:
                self._remove_file(entry, path)
                result.replaced = True
            todo = [(p, f) for p, f in sorted(wanted.items()) if entry.files.get(p, ("", -1))[0] != f.sha256]
            if not todo:
                metrics.CACHE_REQUESTS.labels("hit").inc()
                return result
            metrics.CACHE_REQUESTS.labels("miss").inc()
            need = sum(f.size - entry.files.get(p, ("", 0))[1] for p, f in todo)
            self._make_room(need, run_pk)
            try:
                for path, f in todo:
                    self._fetch_file(entry, path, f, result)
            finally:
                with self._lock:
                    self._reserved -= max(0, need)
                metrics.CACHE_BYTES.set(self.total_bytes())
        return result

    def _make_room(self, need: int, keep: int) -> None:
        evicted: list[int] = []
        with self._lock:
            total = sum(e.size for e in self._entries.values()) + self._reserved
            if total + need > self.max_bytes:
                for pk in sorted(self._entries, key=lambda k: self._entries[k].used_at):
                    e = self._entries[pk]
                    if pk == keep or e.pins > 0:
                        continue
                    total -= e.size
                    del self._entries[pk]
                    evicted.append(pk)
                    shutil.rmtree(e.dir, ignore_errors=True)
                    if total + need <= self.max_bytes:
                        break
            if total + need > self.max_bytes:
                raise CacheFull(
                    f"these event files need {_mb(need)} more, but the TensorBoard cache holds at most "
                    f"{_mb(self.max_bytes)} and {_mb(total)} of it is in use by open views "
                    "(raise RUNYARD_TENSORBOARD_CACHE_BYTES, or open fewer runs at once)")
            self._reserved += max(0, need)
        for pk in evicted:
            metrics.CACHE_EVICTIONS.inc()
            log.info("tensorboard cache: evicted run %s to make room", pk)
            if self.on_evict is not None:
                self.on_evict(pk)

    def _fetch_file(self, entry: _Entry, path: str, f: RemoteFile, result: SyncResult) -> None:
        dest = entry.dir / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        old = entry.files.get(path)
        if old is not None and f.size > old[1] and dest.is_file() and dest.stat().st_size == old[1]:
            with open(dest, "ab") as out:  # an event file only grows: fetch the new bytes
                self._fetch(f.key, out, old[1])
            if _sha256(dest) == f.sha256:
                entry.files[path] = (f.sha256, f.size)
                result.grown = True
                result.downloaded += f.size - old[1]
                metrics.CACHE_DOWNLOADED.inc(f.size - old[1])
                return
            log.info("tensorboard cache: %s of run dir %s changed in place; fetching it whole", path, entry.dir)
        tmp = dest.with_name(dest.name + ".part")
        with open(tmp, "wb") as out:
            self._fetch(f.key, out, 0)
        if _sha256(tmp) != f.sha256:
            tmp.unlink(missing_ok=True)
            raise OSError(f"the bucket object of {path} does not match its sha256 {f.sha256[:12]}")
        os.replace(tmp, dest)
        if old is not None:
            result.replaced = True
        entry.files[path] = (f.sha256, f.size)
        result.downloaded += f.size
        metrics.CACHE_DOWNLOADED.inc(f.size)

    def _remove_file(self, entry: _Entry, path: str) -> None:
        try:
            (entry.dir / path).unlink()
        except OSError:
            pass
        entry.files.pop(path, None)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
