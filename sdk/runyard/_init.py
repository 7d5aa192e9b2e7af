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

from . import _console, _state
from ._config import Config, config_dict
from ._http import LOGIN_HINT, server_info, viewer
from ._ids import check_project, check_run_id, new_run_id, run_folder_name
from ._jsonify import jsonable
from ._run import Run
from .errors import AuthenticationError, CommError, RunyardError, SettingsError
from .settings import Settings, resolve
from .streamer import Streamer
from .v1 import ingest_pb2 as pb

__all__ = ["init"]

log = logging.getLogger("runyard")
log.addHandler(logging.NullHandler())
log.propagate = False
RUN_FILE = "run.json"


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
    *,
    settings: Mapping[str, Any] | Settings | None = None,
) -> Run:
    """Start a run and return it (also reachable as `runyard.run`).

    Settings: these arguments > `RUNYARD_*` variables > the login file > defaults. `settings` takes
    further fields of `runyard.Settings`, as a dict (`{"finish_timeout": 10}`) or a `runyard.Settings`.
    Raises `AuthenticationError` when the API key is missing or refused. An unreachable server is not an
    error: one warning, the run logs to disk and the upload is retried in the background.
    """
    previous = _state.active()
    if previous is not None:
        previous.finish()
    if isinstance(settings, Settings):  # only what differs from the defaults counts as given
        defaults = Settings()
        settings = {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings)
                    if getattr(settings, f.name) != getattr(defaults, f.name)}
    args: dict[str, Any] = dict(settings or {})
    args.update(project=project, entity=entity, mode=mode, dir=dir)
    s = resolve(args)
    run_id = check_run_id(id) if id is not None else new_run_id()
    project_name = check_project(s.project or "uncategorized")
    cfg = Config(config_dict(config))
    if isinstance(tags, str):
        raise SettingsError("tags must be a list of strings, not one string")
    tag_list = [str(t) for t in (tags or [])]
    start = time.time()
    common: dict[str, Any] = dict(
        run_id=run_id, project=project_name, config=cfg, tags=tag_list, group=group, job_type=job_type,
        notes=notes, mode=s.mode, base_url=s.base_url, finish_timeout=s.finish_timeout, start_time=start,
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

    run_dir = s.root_dir / run_folder_name(run_id, start)
    run_dir.mkdir(parents=True, exist_ok=False)
    handler = _attach_debug_log(run_dir)
    open_run = pb.OpenRun(
        entity=entity_name or "", project=project_name, run_id=run_id, name=name or "",
        config_json=json.dumps(jsonable(cfg.as_dict()), allow_nan=False), tags=tag_list, group=group or "",
        job_type=job_type or "", notes=notes or "", host=socket.gethostname(), start_time=start,
    )
    _write_run_file(run_dir, s, open_run, cfg)
    _link_latest(s.root_dir, run_dir)
    streamer = Streamer(s, run_dir, open_run, online=online, ingest_address=address, ingest_tls=tls)
    streamer._on_open.append(lambda opened: _write_run_file(run_dir, s, open_run, cfg, opened))
    if online and not reachable:
        streamer.outage_reported()
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
    run = Run(entity=entity_name, name=name, run_dir=run_dir, streamer=streamer, **common)
    run._log_handler = handler
    _state.set_active(run)
    if online and streamer.opened is not None:
        _console.say(f"run {run.name} ({run.path}) on {s.base_url}; local files in {run_dir}")
    elif not online:
        _console.say(f"offline run {run_id}; logging to {run_dir}")
    return run


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
    run_dir: Path, s: Settings, open_run: pb.OpenRun, cfg: Config, opened: pb.RunOpened | None = None
) -> None:
    """`run.json`: what OpenRun carries (for `runyard sync`) plus what the server answered."""
    data = {
        "format": 1,
        "run_id": open_run.run_id,
        "entity": (opened.entity if opened is not None and opened.entity else open_run.entity) or None,
        "project": open_run.project,
        "name": (opened.name if opened is not None and opened.name else open_run.name) or None,
        "config": json.loads(open_run.config_json or "{}"),
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
    }
    tmp = run_dir / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, run_dir / RUN_FILE)


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
