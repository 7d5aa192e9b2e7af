"""W&B run methods beyond logging: `alert`, `restore`, `link_artifact`, `log_model`, `use_model`,
`link_model`, `log_code`, `get_url`. `Run` inherits them (`class Run(RunCompat)`), and the module-level
`runyard.alert(...)`, `runyard.restore(...)`, ... call them on the active run.

Alerts go to the query service (`POST /api/v1/runs/{e}/{p}/{r}/alerts`, docs/api.md) and are shown on the
run's page; a repeat of the same title within `wait_duration` seconds (default 60, as W&B) is not sent
again. Offline, or when the server cannot be reached, the alert is printed and appended to
`<run folder>/alerts.jsonl`, with a warning that it is not on the server.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import _console
from .errors import RunyardError, ServerError, UsageError

if TYPE_CHECKING:
    from .artifacts import Artifact

__all__ = ["AlertLevel", "RunCompat", "restore"]

DEFAULT_ALERT_WAIT_S = 60.0


class AlertLevel(str, enum.Enum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def _level(level: str | AlertLevel | None) -> str:
    value = (level.value if isinstance(level, AlertLevel) else str(level or "INFO")).upper()
    if value == "WARNING":
        value = "WARN"
    if value not in ("INFO", "WARN", "ERROR"):
        raise ValueError(f"alert level must be INFO, WARN or ERROR, got {level!r}")
    return value


def _seconds(wait: float | dt.timedelta | None) -> float:
    if wait is None:
        return DEFAULT_ALERT_WAIT_S
    if isinstance(wait, dt.timedelta):
        return wait.total_seconds()
    if isinstance(wait, (int, float)):
        return float(wait)
    raise TypeError("wait_duration must be a number of seconds or a datetime.timedelta")


class RunCompat:
    """Mixed into `Run`; uses only its public attributes and `_artifact_conn`."""

    id: str
    project: str
    mode: str
    folder: Path | None
    _settings: Any
    _streamer: Any

    # provided by Run
    entity: Any
    step: Any
    dir: Any
    url: Any
    log_artifact: Callable[..., Any]
    use_artifact: Callable[..., Any]
    _artifact_conn: Callable[[str], tuple[str, str | None, str]]

    # ---- alerts ------------------------------------------------------------------------------------
    def alert(self, title: str, text: str, level: str | AlertLevel | None = None,
              wait_duration: float | dt.timedelta | None = None) -> None:
        """Raise an alert on this run (shown on its page). The same `title` is sent at most once per
        `wait_duration` seconds (default 60)."""
        lvl = _level(level)
        wait = _seconds(wait_duration)
        if not title or len(title) > 256:
            raise ValueError("alert title must be 1-256 characters")
        text = str(text)[:10_000]
        sent: dict[str, float] = self.__dict__.setdefault("_alerts_sent", {})
        now = time.monotonic()
        if title in sent and now - sent[title] < wait:
            return
        sent[title] = now
        if self.mode == "disabled":
            return
        _console.say(f"alert {lvl}: {title}: {text}")
        record = {"title": str(title), "text": text, "level": lvl, "step": int(self.step)}
        opened = getattr(self._streamer, "opened", None) if self._streamer is not None else None
        if self.mode == "online" and opened is not None and self._settings is not None:
            from ._http import client
            from .artifacts import _q

            try:
                with client(float(self._settings.http_timeout), self._settings.api_key) as c:
                    resp = c.post(f"{self._settings.base_url}/api/v1/runs/{_q(opened.entity)}/{_q(self.project)}/"
                                  f"{_q(self.id)}/alerts", json=record)
                if resp.status_code == 201:
                    return
                why = f"HTTP {resp.status_code}: {resp.text[:200]}"
            except Exception as exc:  # the network: keep it locally, say so
                why = str(exc) or type(exc).__name__
        else:
            why = "this run is offline" if self.mode == "offline" else "the server has not opened this run"
        if self.folder is not None:
            with open(self.folder / "alerts.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({**record, "time": time.time()}) + "\n")
            _console.warn(f"the alert {title!r} is not on the server ({why}); it is kept in {self.folder / 'alerts.jsonl'}")
        else:
            _console.warn(f"the alert {title!r} is not on the server ({why})")

    # ---- files --------------------------------------------------------------------------------------
    def restore(self, name: str, run_path: str | None = None, replace: bool = False,
                root: str | os.PathLike[str] | None = None) -> IO[str] | None:
        return restore(name, run_path=run_path, replace=replace, root=root, run=self)

    def get_url(self) -> str:
        return str(self.url)

    def get_project_url(self) -> str:
        base = self._settings.base_url if self._settings is not None else ""
        return f"{base}/{self.entity or '-'}/{self.project}"

    def mark_preempting(self) -> None:
        """W&B marks the run as about to be preempted; Runyard's heartbeat already tells a stopped process."""

    def log_code(self, root: str | os.PathLike[str] = ".", name: str | None = None,
                 include_fn: Callable[[str], bool] | None = None,
                 exclude_fn: Callable[[str], bool] | None = None) -> Artifact | None:
        """Save the source files under `root` (`*.py` by default) as the artifact `source-<project>-<run id>`
        (type `code`). Run folders, virtual environments and hidden folders are left out."""
        from .artifacts import Artifact, artifact_name

        base = Path(root).resolve()
        include = include_fn or (lambda p: p.endswith(".py"))
        art = Artifact(artifact_name(name or f"source-{self.project}-{self.id}"), type="code")
        skip = {"runyard", "wandb", "node_modules", "__pycache__", "site-packages"}
        count = 0
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith(".")
                                 and not (Path(dirpath) / d / "pyvenv.cfg").exists())
            for fn in sorted(filenames):
                full = os.path.join(dirpath, fn)
                if include(full) and not (exclude_fn and exclude_fn(full)):
                    art.add_file(full, Path(full).relative_to(base).as_posix())
                    count += 1
        if not count:
            _console.warn(f"log_code: no files matched under {base}")
            return None
        return self.log_artifact(art)  # type: ignore[no-any-return]

    # ---- models and links ---------------------------------------------------------------------------
    def link_artifact(self, artifact: Artifact, target_path: str, aliases: Sequence[str] | None = None) -> Artifact:
        """Make a logged artifact version also a version of `target_path` (`name`, `project/name`,
        `entity/project/name`, or a W&B registry path; spaces become `-`). Logs it first if needed."""
        if artifact.version is None:
            artifact = self.log_artifact(artifact)
        if artifact.version is None:  # staged for `runyard sync` (offline)
            raise UsageError("link_artifact needs the server; the artifact is staged until `runyard sync`")
        return artifact.link(target_path, list(aliases or []))

    def log_model(self, path: str | os.PathLike[str], name: str | None = None,
                  aliases: Sequence[str] | None = None) -> Artifact:
        """Log a model file or folder as an artifact of type `model` (default name `run-<id>-<file name>`)."""
        from .artifacts import artifact_name

        p = Path(path)
        if not p.exists():
            raise UsageError(f"log_model: {p} does not exist")
        return self.log_artifact(p, name=artifact_name(name or f"run-{self.id}-{p.name}"), type="model",  # type: ignore[no-any-return]
                                 aliases=list(aliases or []))

    def use_model(self, name: str) -> str:
        """Download a `model` artifact (`name:alias`) and return its path (the file when it holds one)."""
        art = self.use_artifact(name)
        if "model" not in str(art.type).lower():
            raise UsageError(f"use_model: {name} has type {art.type!r}; use_model takes artifacts of type 'model'")
        path = art.download()
        entries = os.listdir(path)
        return os.path.join(path, entries[0]) if len(entries) == 1 else str(path)

    def link_model(self, path: str | os.PathLike[str], registered_model_name: str, name: str | None = None,
                   aliases: Sequence[str] | None = None) -> Artifact:
        """`log_model` then `link_artifact` to `registered_model_name`."""
        art = self.log_model(path, name=name)
        return self.link_artifact(art, registered_model_name, aliases)


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | os.PathLike[str] | None = None,
            run: Any = None) -> IO[str] | None:
    """Download a run file (default: of the active run, into its `run.dir`) and return it opened for
    reading; a file already there is returned without download unless `replace`. None when the run has
    no such file (as W&B)."""
    from . import _state
    from .api import Api

    run = run if run is not None else _state.active()
    disabled = run is not None and run.mode == "disabled"
    if run_path is None:
        if run is None:
            raise UsageError("runyard.restore: give run_path ('entity/project/run_id') or call runyard.init() first")
        run_path = f"{run.entity}/{run.project}/{run.id}" if run.entity else f"{run.project}/{run.id}"
    if root is None:
        root = run.dir if run is not None else os.getcwd()
    path = Path(root) / name
    if path.exists() and not replace:
        return open(path)
    if disabled:
        return None
    settings = run._settings if run is not None and run._settings is not None else None
    api = Api(settings.base_url, settings.api_key) if settings is not None else Api()
    try:
        f = api.run(run_path).file(name)
        local = f.download(root=root, replace=True)
    except ServerError as exc:
        if exc.status == 404:
            return None
        raise
    except RunyardError:
        raise
    finally:
        api.close()
    return open(local)
