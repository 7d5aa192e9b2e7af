"""What a run captures about its surroundings, wired to the leaf modules in `runyard.capture`.

At start (on the files thread, so `init()` does not wait for git or the package scan):
  metadata.json     capture.environment.metadata() + {"git": commit/remote/branch/dirty, "runyard": ...}
  diff.patch        `git diff HEAD` when the work tree is dirty          (capture_git)
  requirements.txt  every installed distribution                         (capture_requirements)
  code/<path>       the main script, relative to the git root            (save_code, scripts)
  code/<name>.ipynb the notebook file, at start and at finish             (save_code, Jupyter)
  code/_session_history.ipynb  the cells actually executed, after each cell (debounced) and at finish
System metrics (capture.SystemMonitor) go to the run's outbox as SystemItems.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._items import Outbox
from .settings import Settings

if TYPE_CHECKING:
    from ._files import RunFiles

__all__ = ["Capture"]

log = logging.getLogger("runyard")

HISTORY_NAME = "code/_session_history.ipynb"
NOTEBOOK_DEBOUNCE_S = 2.0


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Capture:
    """What the run captures; `files` runs the work and uploads, `outbox` takes the system metrics."""

    def __init__(self, settings: Settings, files: RunFiles, run_info: dict[str, Any], outbox: Outbox) -> None:
        self.settings = settings
        self.files = files
        self.files_dir: Path = files.files_dir
        self.run_info = run_info
        self.outbox = outbox
        self.monitor: Any = None
        self.history: Any = None
        self._dirty_at: float | None = None
        self._notebook: Path | None = None
        # read now: CPython removes __main__.__file__ once the script's code has run (atexit finishes)
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        self.main_file = os.path.abspath(main_file) if isinstance(main_file, str) else None
        self.argv = list(sys.argv[1:])

    # ---- start ---------------------------------------------------------------------------------
    def start(self) -> None:
        s = self.settings
        if s.system_metrics:
            from .capture.system import SystemMonitor

            self.monitor = SystemMonitor(self.outbox.system, interval=s.system_interval, path=self.files_dir).start()
        if s.save_code:
            from .capture.notebook import SessionHistory

            self.history = SessionHistory._installed  # installed at `import runyard` inside IPython
            if self.history is not None:
                self.history.listeners.append(self._cell_done)
                self._dirty_at = 0.0
                self.files.every_round(self._maybe_write_history)
        self.files.run_once(self._capture_once)

    def _capture_once(self) -> None:
        s = self.settings
        git = None
        if s.capture_git:
            from .capture.git import git_info

            git = git_info()
            if git is not None and git.diff.strip():
                _write_text(self.files_dir / "diff.patch", git.diff)
                self.files.add("diff.patch")
        if s.capture_requirements:
            from .capture.environment import requirements_txt

            _write_text(self.files_dir / "requirements.txt", requirements_txt())
            self.files.add("requirements.txt")
        code_path = None
        if s.save_code:
            code_path = self._save_code(git.root if git is not None else None)
        self._write_metadata(git, code_path)

    def _write_metadata(self, git: Any, code_path: str | None) -> None:
        from . import __version__
        from .capture.environment import metadata

        gpus: list[dict[str, Any]] = []
        if self.monitor is not None or self.settings.system_metrics:
            try:
                from .capture.system import _Nvml

                nv = _Nvml()
                gpus = nv.describe()
                nv.close()
            except Exception:
                gpus = []
        extra: dict[str, Any] = {"runyard": __version__, "git": git.as_metadata() if git is not None else None,
                                 "code_path": code_path, "program": self.main_file, "args": self.argv,
                                 **self.run_info}
        if self.history is not None:
            extra["notebook"] = True
        meta = metadata(self.run_info.get("start_time") or time.time(), gpus=gpus, extra=extra)
        _write_text(self.files_dir / "metadata.json", json.dumps(meta, indent=2, default=str) + "\n")
        self.files.add("metadata.json")

    def _save_code(self, git_root: str | None) -> str | None:
        if self.history is not None:
            self._save_notebook()
            return self._notebook.name if self._notebook is not None else None
        path = self.main_file
        if not path or not os.path.isfile(path) or not path.endswith(".py"):
            return None
        full = Path(path).resolve()
        rel = full.name
        if git_root:
            try:
                rel = full.relative_to(Path(git_root).resolve()).as_posix()
            except ValueError:
                rel = full.name
        name = "code/" + rel
        dest = self.files_dir / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(full.read_bytes())
        self.files.add(name)
        return rel

    def _save_notebook(self) -> None:
        from .capture.notebook import find_notebook_path

        if self._notebook is None:
            self._notebook = find_notebook_path()
        nb = self._notebook
        if nb is not None and nb.is_file():
            name = "code/" + nb.name
            (self.files_dir / "code").mkdir(parents=True, exist_ok=True)
            (self.files_dir / name).write_bytes(nb.read_bytes())
            self.files.add(name)

    # ---- notebook history ----------------------------------------------------------------------
    def _cell_done(self) -> None:
        self._dirty_at = time.monotonic()
        # written by the files thread after NOTEBOOK_DEBOUNCE_S without another cell

    def _maybe_write_history(self) -> None:
        at = self._dirty_at
        if at is None or self.history is None:
            return
        if at and time.monotonic() - at < NOTEBOOK_DEBOUNCE_S:
            self.files.wake()
            return
        self._dirty_at = None
        self.history.write(self.files_dir / HISTORY_NAME)
        self.files.add(HISTORY_NAME)

    # ---- the end -------------------------------------------------------------------------------
    def stop(self) -> None:
        if self.monitor is not None:
            self.monitor.stop(2.0)
            self.monitor = None

    def final_tasks(self) -> list[Any]:
        tasks = []
        if self.history is not None:
            history = self.history

            def final_history() -> None:
                try:
                    history.listeners.remove(self._cell_done)
                except ValueError:
                    pass
                history.write(self.files_dir / HISTORY_NAME)
                self._save_notebook()

            tasks.append(final_history)
        return tasks
