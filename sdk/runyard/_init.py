"""`runyard.init()`: resolve settings, check the server and the key, create the run folder, start the
streamer, and make the new run the active one."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import shutil
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runyard_proto.v1 import ingest_pb2 as pb

from . import _console, _state
from ._capture_run import Capture
from ._config import Config, config_dict
from ._folder import RUN_FILE, update_host, write_json
from ._http import LOGIN_HINT, server_info, viewer
from ._ids import check_project, check_run_id, new_run_id, run_folder_name
from ._items import Outbox
from ._jsonify import jsonable, text_problem
from ._metrics import Metrics
from ._output import ConsoleCapture
from ._records import RecordBuilder
from ._run import Run, clean_field
from .errors import AuthenticationError, CommError, RunyardError, SettingsError
from .settings import Settings, resolve
from .streamer import Streamer

__all__ = ["init"]

log = logging.getLogger("runyard")
log.addHandler(logging.NullHandler())
log.propagate = False


def init(
    project: str | None = None,
    entity: str | None = None,
    config: Mapping[str, Any] | Any | None = None,
    name: str | None = None,
    id: str | None = None,
    tags: Sequence[str] | None = None,
    group: str | None = None,
    job_type: str | None = None,
    notes: str | None = None,
    mode: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    resume: str | bool | None = None,
    reinit: bool | str | None = None,
    *,
    settings: Mapping[str, Any] | Settings | None = None,
    save_code: bool | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    **ignored: Any,
) -> Run:
    """Start a run and return it (also reachable as `runyard.run`).

    Settings: these arguments > `RUNYARD_*` variables > the login file > defaults. `settings` takes
    further fields of `runyard.Settings`, as a dict (`{"system_metrics": False}`) or a `runyard.Settings`.
    `resume`: "allow" (resume the run `id` if it exists, else create it), "must" (it must exist; without
    `id` the latest run in the run root), "never" (default: an existing `id` is an error); a resumed run
    continues its steps. `reinit`: what a second `init()` does while a run is active: finish it first
    (default, True, "finish_previous"), return it (False, "return_previous") or start another run beside
    it ("create_new").
    Raises `AuthenticationError` when the API key is missing or refused. An unreachable server is not an
    error: one warning, the run logs to disk and the upload is retried in the background.
    """
    previous = _state.active()
    if previous is not None and not previous.finished and previous._pid == os.getpid():
        how = _reinit_mode(reinit)
        if how == "return_previous":
            return previous
        if how == "finish_previous":
            previous.finish()
    if ignored:
        _console.warn(f"init() ignores the arguments {', '.join(sorted(ignored))}")
    if isinstance(settings, Settings):  # only what differs from the defaults counts as given
        defaults = Settings()
        settings = {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings)
                    if getattr(settings, f.name) != getattr(defaults, f.name)}
    args: dict[str, Any] = dict(settings or {})
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(k for k in args if k not in known)
    if unknown:  # W&B settings such as start_method or silent: ignored, not an error
        _console.warn(f"init() ignores the settings {', '.join(unknown)} (see runyard.Settings for the known ones)")
        for k in unknown:
            del args[k]
    args.update(project=project, entity=entity, mode=mode, dir=dir, run_id=id, resume=resume, name=name,
                notes=notes, group=group, job_type=job_type, save_code=save_code)
    if isinstance(tags, str):
        raise SettingsError("tags must be a list of strings, not one string")
    s = resolve(args)
    project_name = check_project(s.project or "uncategorized")
    if s.entity is not None and text_problem(s.entity) is not None:
        raise SettingsError(f"entity {s.entity[:40]!r} holds {text_problem(s.entity)}; an entity is a user or "
                            "team name")
    _console.configure(silent=s.silent)
    resume_mode = s.resume
    run_id = s.run_id
    if run_id is None and resume_mode in ("must", "auto"):
        run_id = _latest_run_id(s.root_dirs, project_name)
        if run_id is None and resume_mode == "must":
            raise SettingsError(f"resume='must' without id=: no earlier run of {project_name} in {s.root_dir}")
        if run_id is None:
            resume_mode = None  # resume=True with nothing to resume: a new run
    if resume_mode == "auto":
        resume_mode = "allow"
    run_id = check_run_id(run_id) if run_id is not None else new_run_id()
    cfg_dict = config_dict(config)
    if config_include_keys:
        cfg_dict = {k: v for k, v in cfg_dict.items() if k in set(config_include_keys)}
    if config_exclude_keys:
        cfg_dict = {k: v for k, v in cfg_dict.items() if k not in set(config_exclude_keys)}
    cfg = Config(cfg_dict)
    if tags is None and s.tags:
        tags = [t.strip() for t in s.tags.split(",") if t.strip()]
    tag_list = [clean_field("a tag", t) for t in (tags or [])]
    name, notes, group, job_type = (None if v is None else clean_field(what, v) for what, v in (
        ("name", s.name), ("notes", s.notes), ("group", s.group), ("job_type", s.job_type)))
    start = time.time()
    common: dict[str, Any] = dict(
        run_id=run_id, project=project_name, config=cfg, tags=tag_list, group=group, job_type=job_type,
        notes=notes, mode=s.mode, base_url=s.base_url, finish_timeout=s.finish_timeout, start_time=start,
        settings=s,
    )
    if s.mode == "disabled":
        run = Run(entity=s.entity, name=name, run_dir=None, streamer=None, **common)
        _state.set_active(run)
        return run

    online = s.mode == "online"
    entity_name = s.entity
    address: str | None = None
    tls = False
    reachable = False
    if online:
        address, tls, entity_name, reachable = _check_server(s)

    resuming = resume_mode in ("allow", "must")
    local_step = 0
    if resuming and not (online and reachable):
        # The server cannot say where the run stands. Steps go on from where an earlier process of this run
        # on this machine stopped, if any; records are numbered when the server answers (see Streamer).
        local_step = _local_next_step(s.root_dirs, run_id)
        _console.warn(f"resuming run {run_id} without the server: steps go on from {local_step} (what this "
                      "machine knows); records are numbered after the server's when it answers, so none are lost")

    run_dir = _new_run_dir(s.root_dir, run_folder_name(run_id, start))
    handler = _attach_debug_log(run_dir)
    open_run = pb.OpenRun(
        entity=entity_name or "", project=project_name, run_id=run_id, name=name or "",
        # The initial config travels as the run's first ConfigUpdate record, not in OpenRun: the server
        # merges OpenRun.config into an existing run on every reconnect (and on `runyard sync`), which
        # would undo later config changes whose records it already holds.
        config_json="", tags=tag_list, group=group or "",
        job_type=job_type or "", notes=notes or "", host=socket.gethostname(), start_time=start,
    )
    _write_run_file(run_dir, s, open_run, cfg, numbering="folder" if resuming else "server",
                    first_seq=None if resuming else 1)
    _link_latest(s.root_dir, run_dir)
    initial_config = cfg.as_dict()
    (run_dir / ".live").write_text(str(os.getpid()))
    parts = _RunParts(s, run_dir, project_name, run_id, start, online)
    initial_cfg = Config(cfg.as_dict())  # run.json keeps the config as given to init()
    streamer = Streamer(s, run_dir, open_run, parts.outbox, parts.builder, online=online, ingest_address=address,
                        ingest_tls=tls, first_resume=resume_mode or "never", anchored=not resuming,
                        on_open=lambda opened: parts.opened(opened, open_run, initial_cfg))
    parts.streamer = streamer
    if online and not reachable:
        streamer.outage_reported()
    opened = None
    if online and reachable:
        try:
            opened = streamer.wait_opened(s.init_timeout)
        except RunyardError:
            streamer.stop()
            _detach_debug_log(handler)
            shutil.rmtree(run_dir, ignore_errors=True)  # the run never existed and nothing was logged
            raise
        if opened is None:
            why = streamer.last_error.message if streamer.last_error is not None else (
                f"the server did not open the run within {s.init_timeout:.0f} s")
            _console.warn(f"{why}; logging to {run_dir} and retrying in the background")
            streamer.outage_reported()
    if initial_config:  # numbered after RunOpened.last_seq when resuming (see Streamer._opened)
        parts.outbox.config(initial_config, [])
        streamer.wake()
    resumed = bool(opened is not None and opened.resumed)
    start_step = int(opened.next_step) if resumed and opened is not None else local_step
    capture, console = parts.start_capture()
    run = Run(entity=entity_name, name=name, run_dir=run_dir, streamer=streamer, start_step=start_step,
              resumed=resumed, metrics=parts.metrics, files=parts.files, capture=capture, console=console,
              log_handler=handler, **common)
    if resumed:
        changed: dict[str, Any] = {k: v for k, v in (("tags", tags), ("notes", notes), ("group", group),
                                                     ("job_type", job_type), ("name", name)) if v is not None}
        if changed:  # OpenRun only merges the config into an existing run
            run.update(**changed)
    _state.set_active(run)
    if online and streamer.opened is not None:
        verb = "resumed" if resumed else "run"
        _console.say(f"{verb} {run.name} ({run.path}) on {s.base_url}: {run.url}; local files in {run_dir}")
    elif not online:
        _console.say(f"offline run {run_id}; logging to {run_dir}")
    return run


def _new_run_dir(root: Path, name: str) -> Path:
    """A fresh run folder; a second process of the same run id in the same second gets `-2`, `-3`, ..."""
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = root / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise SettingsError(f"cannot make a run folder {name} in {root}")


def _local_next_step(roots: list[Path], run_id: str) -> int:
    """The highest `next_step` an earlier process of `run_id` noted in its run.json under `roots`."""
    best = 0
    for root in roots:
        for info_path in root.glob(f"run-*-{run_id}*/run.json"):
            try:
                info = json.loads(info_path.read_text())
            except (OSError, ValueError):
                continue
            if info.get("run_id") == run_id:
                best = max(best, int(info.get("next_step") or 0))
    return best


def _reinit_mode(reinit: bool | str | None) -> str:
    if reinit is None or reinit is True or reinit == "default":
        return "finish_previous"
    if reinit is False:
        return "return_previous"
    if reinit in ("finish_previous", "return_previous", "create_new"):
        return str(reinit)
    raise SettingsError(f"reinit must be True, False, 'finish_previous', 'return_previous' or 'create_new', got {reinit!r}")


def _latest_run_id(roots: list[Path], project: str) -> str | None:
    """The id of the newest run folder of `project` under the run roots (resume without an id)."""
    best: tuple[float, str] | None = None
    for root in roots:
        for info_path in root.glob("run-*/run.json"):
            try:
                info = json.loads(info_path.read_text())
            except (OSError, ValueError):
                continue
            if info.get("project") == project and isinstance(info.get("run_id"), str):
                key = (float(info.get("start_time") or 0), info["run_id"])
                if best is None or key > best:
                    best = key
    return best[1] if best else None


class _RunParts:
    """The collaborators of one run, built in dependency order and handed to their users through their
    constructors: the outbox (the run's queue), the metric definitions, the run's files (whose media
    binder the record builder uses), the record builder, then - once the streamer exists - the capture
    and the console tee. The files' uploader and readiness read the streamer, set right after it is made."""

    def __init__(self, s: Settings, run_dir: Path, project: str, run_id: str, start: float, online: bool) -> None:
        from ._files import RunFiles

        self.settings = s
        self.project, self.run_id, self.start = project, run_id, start
        self.outbox = Outbox()
        self.metrics = Metrics()
        self.streamer: Streamer | None = None
        self.files = RunFiles(run_dir, interval=s.files_interval, outbox=self.outbox,
                              uploader=self._upload if online else None, ready=self._ready)
        self.builder = RecordBuilder(media_binder=self.files.bind_media, metrics=self.metrics)

    def _ready(self) -> bool:
        return self.streamer is not None and self.streamer.opened is not None

    def opened(self, opened: pb.RunOpened, open_run: pb.OpenRun, cfg: Config) -> None:
        """Each RunOpened (streamer thread): run.json notes the server's answer and the numbering;
        sync.json where this folder's records start on that server."""
        streamer = self.streamer
        assert streamer is not None
        _write_run_file(streamer.run_dir, self.settings, open_run, cfg, opened, numbering=streamer.numbering,
                        first_seq=streamer.first_seq)
        update_host(streamer.run_dir, self.settings.base_url, entity=opened.entity, project=opened.project,
                    run_id=opened.run_id, seq_offset=streamer.seq_offset)

    def _upload(self, batch: dict[str, Path]) -> list[dict[str, Any]]:
        from .artifacts import upload_run_files

        assert self.streamer is not None and self.streamer.opened is not None
        s = self.settings
        return upload_run_files(s.base_url, s.api_key, self.streamer.opened.entity, self.project, self.run_id, batch)

    def start_capture(self) -> tuple[Capture, ConsoleCapture | None]:
        """Start the files thread, the capture (system metrics, code, environment) and the console tee."""
        s = self.settings
        info = {"run_id": self.run_id, "project": self.project, "start_time": self.start, "mode": s.mode}
        capture = Capture(s, self.files, info, self.outbox)
        try:
            capture.start()
        except Exception:
            log.exception("starting the capture failed")
        self.files.start()
        console = None
        if s.console != "off":
            try:
                console = ConsoleCapture(self.outbox, self.files.files_dir / "output.log").install()
            except Exception:
                log.exception("console capture failed")
        return capture, console


def _check_server(s: Settings) -> tuple[str | None, bool, str | None, bool]:
    """(ingest address, tls, entity, reachable). Raises AuthenticationError for a missing or bad key."""
    if not s.api_key:
        raise AuthenticationError(
            f"no API key for {s.base_url}. " + LOGIN_HINT.format(base=s.base_url), status=None
        )
    try:
        info = server_info(s.base_url, s.http_timeout)
        who = viewer(s.base_url, s.api_key, s.http_timeout)
    except AuthenticationError:
        raise
    except CommError as exc:
        _console.warn(f"{exc.message}; logging to disk and retrying in the background")
        return None, False, s.entity, False
    entity = s.entity or str(who.get("entity") or who.get("username") or "") or None
    return info.ingest_address, info.ingest_tls, entity, True


def _write_run_file(
    run_dir: Path, s: Settings, open_run: pb.OpenRun, cfg: Config, opened: pb.RunOpened | None = None,
    numbering: str = "server", first_seq: int | None = None,
) -> None:
    """`run.json`: what OpenRun carries (for `runyard sync`) plus what the server answered."""
    data = {
        "format": 1,
        "run_id": open_run.run_id,
        "entity": (opened.entity if opened is not None and opened.entity else open_run.entity) or None,
        "project": open_run.project,
        "name": (opened.name if opened is not None and opened.name else open_run.name) or None,
        "config": jsonable(cfg.as_dict()),
        "config_in_wal": True,
        "tags": list(open_run.tags),
        "group": open_run.group or None,
        "job_type": open_run.job_type or None,
        "notes": open_run.notes or None,
        "host": open_run.host,
        "start_time": open_run.start_time,
        "base_url": s.base_url,
        "mode": s.mode,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "argv": list(sys.argv),
        "wal": "wal",
        "seq_numbering": numbering,
        "first_seq": first_seq,  # this process's first record (null until known; 1 for a new run)
        "keep_log": s.keep_log,
    }
    write_json(run_dir / RUN_FILE, data)


def _link_latest(root: Path, run_dir: Path) -> None:
    link = root / "latest-run"
    try:
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(run_dir.name)
    except OSError:
        pass


def _attach_debug_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "debug.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _detach_debug_log(handler: logging.Handler) -> None:
    log.removeHandler(handler)
    handler.close()
