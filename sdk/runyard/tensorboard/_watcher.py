"""The live side of `sync_tensorboard`: one thread per run tails the event files its writers produce.

Each poll (every second) reads the records completed since the last one and logs them into the run:
- scalars -> history rows at the event's own global step (`run._log_past`: the row is stored at that
  step and the run's own step counter does not move, so several writers with different steps, and the
  script's own `run.log()` calls, never push each other around);
- images -> `runyard.Image`, histograms -> `runyard.Histogram` in the same rows;
- text -> console lines (`[tensorboard] tag @ step N: ...`), streamed like printed output.
Keys are `<namespace>/<tag>`, the namespace being the writer's folder relative to the root log folder
(empty for the root itself): `train/epoch_loss`, `validation/epoch_loss`, or plain `loss`.

The event files themselves are copied (whole records only) to `<run dir>/files/tensorboard/<namespace>/`
at most every `upload_interval` seconds while they grow and once more at the end; the run's files thread
uploads them (offline: `runyard sync` does). `finish()` flushes the writers, reads what is left and makes
the last copies, before the run's files are uploaded.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import _console
from . import _bridge
from ._convert import Converter, Point
from ._reader import EventFileTail

__all__ = ["Watcher", "namespace_for", "writer_file"]

log = logging.getLogger("runyard")

POLL_S = 1.0
UPLOAD_INTERVAL_S = 15.0
SCAN_S = 5.0
_ROOT_LIKE = ("train", "validation", "val", "eval", "test")


def writer_file(writer: Any) -> str | None:
    """The event file a writer object writes now (tensorboard's or tensorboardX's EventFileWriter)."""
    name = getattr(writer, "_file_name", None)
    if name is None:
        name = getattr(getattr(writer, "_ev_writer", None), "_file_name", None)
    return os.fspath(name) if isinstance(name, (str, os.PathLike)) else None


def namespace_for(logdir: str, root: str) -> str:
    """The key prefix of a writer folder: its path relative to `root` ('' for root itself); a folder
    outside `root` is named relative to the folder both share."""
    logdir, root = os.path.abspath(logdir), os.path.abspath(root)
    if logdir == root:
        return ""
    try:
        common = os.path.commonpath([logdir, root])
    except ValueError:  # different drives
        return Path(logdir).name
    base = root if common == root else common
    return Path(os.path.relpath(logdir, base)).as_posix().strip("/.")


class _File:
    __slots__ = ("converter", "copied", "copied_at", "name", "namespace", "tail", "warned")

    def __init__(self, path: str, namespace: str) -> None:
        self.tail = EventFileTail(path)
        self.converter: Converter | None = None
        self.namespace = namespace
        self.name = "/".join(p for p in ("tensorboard", namespace, Path(path).name) if p)
        self.copied = 0
        self.copied_at = 0.0
        self.warned = False


class Watcher:
    """Tails the event files of one run. Thread-safe `add_*`; `finish()` once, from the finishing thread."""

    def __init__(self, run: Any, root_logdir: str | None = None, save: bool = True,
                 upload_interval: float = UPLOAD_INTERVAL_S) -> None:
        self.run = run
        self.root = os.path.abspath(root_logdir) if root_logdir else None
        self.save = save
        self.upload_interval = upload_interval
        self.started_at = time.time()
        self._lock = threading.Lock()
        self._files: dict[str, _File] = {}
        self._writers: list[weakref.ref[Any]] = []
        self._scan_dirs: set[str] = {self.root} if self.root else set()
        self._scanned_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self.finished = False

    # ---- registration (any thread) ---------------------------------------------------------------
    def add_writer(self, writer: Any) -> None:
        with self._lock:
            self._writers.append(weakref.ref(writer))
        path = writer_file(writer)
        if path:
            self.add_file(path)

    def add_logdir(self, logdir: str) -> None:
        """Watch a folder for event files written from now on (writers that cannot be hooked: TensorFlow)."""
        with self._lock:
            self._scan_dirs.add(os.path.abspath(logdir))
        self._scanned_at = 0.0

    def add_file(self, path: str) -> None:
        path = os.path.abspath(path)
        with self._lock:
            if path in self._files:
                return
            if self.root is None:
                logdir = os.path.dirname(path)
                self.root = os.path.dirname(logdir) if Path(logdir).name in _ROOT_LIKE else logdir
            self._files[path] = _File(path, namespace_for(os.path.dirname(path), self.root))

    # ---- the thread --------------------------------------------------------------------------------
    def start(self) -> Watcher:
        self._thread = threading.Thread(target=self._main, name="runyard-tensorboard", daemon=True)
        self._thread.start()
        return self

    def _main(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.poll()
            except Exception:
                log.exception("tensorboard: reading event files failed")

    def poll(self, final: bool = False) -> None:
        self._discover(final)
        with self._lock:
            files = list(self._files.values())
        for f in files:
            self._read(f)
            if self.save:
                self._copy(f, final)

    def _discover(self, final: bool) -> None:
        with self._lock:
            writers = [w() for w in self._writers]
            self._writers = [w for w in self._writers if w() is not None]
            dirs = list(self._scan_dirs)
        for writer in writers:
            path = writer_file(writer) if writer is not None else None
            if path and os.path.abspath(path) not in self._files:
                self.add_file(path)
        if dirs and (final or time.monotonic() - self._scanned_at >= SCAN_S):
            self._scanned_at = time.monotonic()
            for path in _event_files(dirs, since=self.started_at - 1.0):
                if path not in self._files:
                    self.add_file(path)

    def _read(self, f: _File) -> None:
        payloads = f.tail.read()
        if not payloads:
            return
        if f.converter is None:
            try:
                f.converter = Converter()
            except Exception as exc:
                self._warn_once("proto", f"TensorBoard event files cannot be read: {exc}")
                return
        points: list[Point] = []
        for payload in payloads:
            try:
                points.extend(f.converter.points(payload))
            except Exception as exc:  # one bad record never stops the others
                if not f.warned:
                    f.warned = True
                    _console.warn(f"tensorboard: a record of {f.tail.path} cannot be read ({exc!r}); it is skipped")
        if points:
            self._log(points, f.namespace)

    def _log(self, points: Iterable[Point], namespace: str) -> None:
        rows: dict[int, dict[str, Any]] = {}
        lines: list[str] = []
        for p in points:
            key = f"{namespace}/{p.tag}" if namespace else p.tag
            if p.kind == "text":
                lines.extend(f"[tensorboard] {key} @ step {p.step}: {line}" for line in p.value.splitlines() or [""])
                continue
            value = self._value(p, key)
            if value is not None:
                rows.setdefault(p.step, {})[key] = value
        for step, row in rows.items():
            if not _bridge.log_at(self.run, row, step):
                return
        if lines:
            _bridge.output(self.run, lines)

    def _value(self, p: Point, key: str) -> Any:
        if p.kind == "scalar":
            return p.value
        try:
            if p.kind == "image":
                images = [_image(b) for b in p.value]
                return images[0] if len(images) == 1 else images
            if p.kind == "histogram":
                from ..media import Histogram

                return Histogram(np_histogram=p.value)
        except Exception as exc:
            self._warn_once(f"{p.kind}:{key}", f"tensorboard: the {p.kind} {key!r} cannot be stored ({exc}); "
                            f"it stays in the event file")
        return None

    def _copy(self, f: _File, final: bool) -> None:
        """Copy the whole records of the file into files/ (atomically), throttled while it grows."""
        end = f.tail.offset
        if end <= f.copied or (not final and time.monotonic() - f.copied_at < self.upload_interval):
            return
        files = _bridge.run_files(self.run)
        if files is None:
            return
        dest = Path(files.files_dir) / f.name
        tmp = dest.with_name(dest.name + ".tmp")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(f.tail.path, "rb") as src, open(tmp, "wb") as out:
                _copy_prefix(src, out, end)
            os.replace(tmp, dest)
        except OSError as exc:
            self._warn_once(f"copy:{f.name}", f"tensorboard: cannot copy {f.tail.path} into the run's files: {exc}")
            return
        f.copied, f.copied_at = end, time.monotonic()
        files.add(f.name)

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            _console.warn(message)

    # ---- the end ------------------------------------------------------------------------------------
    def finish(self, timeout: float = 10.0) -> None:
        """Flush the writers, read what they wrote and make the final copies (before the run's files are
        uploaded). Idempotent."""
        if self.finished:
            return
        self.finished = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with self._lock:
            writers = [w() for w in self._writers]
        for writer in writers:
            if writer is not None:
                _flush_writer(writer, deadline=time.monotonic() + min(2.0, timeout))
        deadline = time.monotonic() + timeout
        while True:  # read until the files stop growing (large files take several reads)
            before = [f.tail.offset for f in self._files.values()]
            self.poll(final=True)
            after = [f.tail.offset for f in self._files.values()]
            if before == after or time.monotonic() > deadline:
                break

    def summary(self) -> dict[str, int]:
        with self._lock:
            return {f.name: f.tail.offset for f in self._files.values()}


def _flush_writer(writer: Any, deadline: float) -> None:
    """Get what a writer still holds into its file. tensorboard's writer (torch) drains its queue in
    flush(); tensorboardX's flush() only flushes the file, so its queue is waited for (until `deadline`)."""
    queue = getattr(writer, "_event_queue", None)
    if queue is not None and callable(getattr(queue, "empty", None)):
        try:
            while not queue.empty() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.05)  # the writer thread may still be writing the last event it took
        except Exception:  # closed meanwhile
            pass
    flush = getattr(writer, "flush", None)
    if callable(flush):
        try:
            flush()
        except Exception as exc:  # a writer closed meanwhile
            log.info("tensorboard: flushing a writer failed: %r", exc)


def _copy_prefix(src: io.BufferedReader, out: Any, length: int) -> None:
    left = length
    while left > 0:
        chunk = src.read(min(left, 1 << 20))
        if not chunk:
            break
        out.write(chunk)
        left -= len(chunk)


def _image(data: bytes) -> Any:
    from PIL import Image as PILImage

    from ..media import Image

    pil = PILImage.open(io.BytesIO(data))
    pil.load()
    return Image(pil)


def _event_files(dirs: list[str], since: float) -> list[str]:
    """Event files below `dirs` changed since `since` (unix time), sorted."""
    out = []
    for top in dirs:
        for dirpath, _dirnames, filenames in os.walk(top):
            for name in filenames:
                if "tfevents" not in name or name.endswith(".tmp"):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    if os.stat(path).st_mtime >= since:
                        out.append(os.path.abspath(path))
                except OSError:
                    continue
    return sorted(out)

