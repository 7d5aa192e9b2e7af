"""SDK settings: one typed object, resolved once per `init()` / `Api()`.

Precedence, highest first: init arguments > environment (`RUNYARD_*`; for the run's own settings the
`WANDB_*` name is read when the `RUNYARD_*` one is unset, see `WANDB_ALIASES`) > the login file that
`runyard login` writes (`$RUNYARD_CONFIG_DIR/settings.json`, default `~/.config/runyard/settings.json`,
keys `base_url`, `api_key`, `mode`, `entity`, `project`) > defaults. A bad value raises `SettingsError`
naming the argument or the full variable name.

Run folders live in `<dir>/runyard-runs/` (`RUN_ROOT`). The name cannot be a Python module name, so the
folder can never shadow the installed `runyard` package, editable installs included (a `./runyard/`
folder without `__init__.py` did: namespace packages). Folders in the old `<dir>/runyard/` are still read
(`runyard sync`, `runyard status`, resume).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import SettingsError

__all__ = ["DEFAULT_BASE_URL", "LEGACY_RUN_ROOTS", "MODES", "RUN_ROOT", "WANDB_ALIASES", "Settings",
           "login_file_path", "resolve"]

DEFAULT_BASE_URL = "http://localhost:8080"
MODES = ("online", "offline", "disabled")
_MODE_ALIASES = {"run": "online", "dryrun": "offline"}
RUN_ROOT = "runyard-runs"
LEGACY_RUN_ROOTS = ("runyard",)
# the W&B variable read when RUNYARD_<NAME> is unset
WANDB_ALIASES = {
    "mode": "WANDB_MODE",
    "project": "WANDB_PROJECT",
    "entity": "WANDB_ENTITY",
    "run_id": "WANDB_RUN_ID",
    "resume": "WANDB_RESUME",
    "dir": "WANDB_DIR",
    "tags": "WANDB_TAGS",
    "notes": "WANDB_NOTES",
    "name": "WANDB_NAME",
    "group": "WANDB_RUN_GROUP",
    "job_type": "WANDB_JOB_TYPE",
    "silent": "WANDB_SILENT",
    "log_model": "WANDB_LOG_MODEL",
}


@dataclasses.dataclass(frozen=True)
class _SettingsFields:
    """Everything the SDK core reads. Field `x` maps to the variable `RUNYARD_X`."""

    api_key: str | None = None
    base_url: str = DEFAULT_BASE_URL
    mode: str = "online"
    project: str | None = None
    entity: str | None = None
    dir: str | None = None  # parent of the `runyard-runs/` folder that holds run folders; default: cwd
    # tuning (seconds / counts / bytes)
    http_timeout: float = 5.0  # server-info, viewer and Api calls
    init_timeout: float = 10.0  # how long init() waits for the server to open the run
    finish_timeout: float = 60.0  # how long finish() waits for the final acknowledgement
    heartbeat_interval: float = 15.0
    batch_interval: float = 0.1  # the streamer wakes at least this often
    batch_max_records: int = 2000
    batch_max_bytes: int = 1 << 20
    segment_bytes: int = 4 << 20  # write-ahead log segment size
    max_backoff: float = 15.0  # cap of the reconnect backoff
    queue_max: int = 100_000  # in-memory records before log() waits for the disk writer
    # keep the run's record log (compressed) after the server acknowledged it, so `runyard sync` can
    # recreate the run anywhere; off: acknowledged segments are deleted
    keep_log: bool = True
    # the run (RUNYARD_RUN_ID, RUNYARD_RESUME, ... like WANDB_RUN_ID, WANDB_RESUME)
    run_id: str | None = None
    # "allow", "must", "never"; "auto" (also True): resume `run_id`, or without one the newest run of the
    # project in this folder, else start a new one; False -> "never"
    resume: str | None = None
    name: str | None = None
    notes: str | None = None
    group: str | None = None
    job_type: str | None = None
    tags: str | None = None  # comma-separated in RUNYARD_TAGS
    # capture (each can be turned off)
    system_metrics: bool = True
    system_interval: float = 10.0  # seconds between system metric samples
    save_code: bool = True  # the main script, or the notebook and its session history
    capture_git: bool = True  # commit, remote, branch (metadata.json) and the uncommitted diff (diff.patch)
    capture_requirements: bool = True  # requirements.txt of the installed distributions
    console: str = "auto"  # "auto"/"wrap": tee stdout/stderr to output.log and the server; "off"
    files_interval: float = 2.0  # how often live files and the notebook history are checked
    silent: bool = False  # no "runyard: ..." progress lines (warnings and errors are still printed)
    # what framework integrations log as model artifacts (W&B's WANDB_LOG_MODEL): "false", "end",
    # "checkpoint" or "all" ("true" means "end")
    log_model: str = "false"
    upload_wait: float = 600.0  # how long an artifact upload waits out an outage of the server or bucket

    @property
    def root_dir(self) -> Path:
        """Where new run folders go."""
        return Path(self.dir or os.getcwd()) / RUN_ROOT

    @property
    def root_dirs(self) -> list[Path]:
        """Every folder that may hold this directory's run folders, the current one first."""
        base = Path(self.dir or os.getcwd())
        return [base / RUN_ROOT, *(base / name for name in LEGACY_RUN_ROOTS)]


class Settings(_SettingsFields):
    """Everything the SDK reads (`runyard.Settings(system_metrics=False, ...)`); field `x` maps to the
    variable `RUNYARD_X`. Names of W&B settings it does not know (`start_method`, `silent`, ...) are
    ignored with a warning, so `wandb.Settings(...)` lines keep working."""

    def __init__(self, **kwargs: Any) -> None:
        known = {f.name for f in dataclasses.fields(_SettingsFields)}
        unknown = sorted(k for k in kwargs if k not in known)
        if unknown:
            import warnings

            warnings.warn(f"runyard.Settings ignores {', '.join(unknown)}", stacklevel=2)
        super().__init__(**{k: v for k, v in kwargs.items() if k in known})


_ENV_FIELDS: dict[str, type] = {
    "api_key": str,
    "base_url": str,
    "mode": str,
    "project": str,
    "entity": str,
    "dir": str,
    "http_timeout": float,
    "init_timeout": float,
    "finish_timeout": float,
    "heartbeat_interval": float,
    "batch_interval": float,
    "batch_max_records": int,
    "batch_max_bytes": int,
    "segment_bytes": int,
    "max_backoff": float,
    "queue_max": int,
    "keep_log": bool,
    "run_id": str,
    "resume": str,
    "name": str,
    "notes": str,
    "group": str,
    "job_type": str,
    "tags": str,
    "system_metrics": bool,
    "system_interval": float,
    "save_code": bool,
    "capture_git": bool,
    "capture_requirements": bool,
    "console": str,
    "files_interval": float,
    "silent": bool,
    "log_model": str,
    "upload_wait": float,
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
CONSOLE_MODES = ("auto", "wrap", "off")
RESUME_MODES = ("allow", "must", "never", "auto")
LOG_MODEL_MODES = ("false", "end", "checkpoint", "all")
FILE_KEYS = ("base_url", "api_key", "mode", "entity", "project")


def login_file_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("RUNYARD_CONFIG_DIR") or str(Path.home() / ".config" / "runyard")
    return Path(base) / "settings.json"


def _read_login_file(environ: Mapping[str, str]) -> dict[str, Any]:
    path = login_file_path(environ)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read the login file {path}: {exc}; fix or delete it") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"the login file {path} must hold a JSON object")
    return {k: data[k] for k in FILE_KEYS if isinstance(data.get(k), str) and data[k]}


def _coerce(name: str, source: str, raw: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SettingsError(f"{source} must be true or false, got {raw!r}")
    if name == "console" and isinstance(raw, bool):
        return "auto" if raw else "off"
    if name == "resume" and isinstance(raw, bool):
        return "auto" if raw else "never"
    if name == "log_model" and isinstance(raw, bool):
        return "end" if raw else "false"
    if name == "tags" and isinstance(raw, (list, tuple)):
        return ",".join(str(t) for t in raw)
    if kind is str:
        if not isinstance(raw, str):
            raise SettingsError(f"{source} must be a string, got {raw!r}")
        return raw
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number of seconds"
        raise SettingsError(f"{source} must be {what}, got {raw!r}") from None
    if (isinstance(value, float) and not math.isfinite(value)) or value <= 0:
        raise SettingsError(f"{source} must be greater than 0, got {raw!r}")
    return value


def resolve(args: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from init arguments (None means "not given"), the environment and the login file."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, raw in _read_login_file(env).items():
        values[key] = raw
    for name, kind in _ENV_FIELDS.items():
        var = "RUNYARD_" + name.upper()
        raw = env.get(var)
        if (raw is None or raw.strip() == "") and name in WANDB_ALIASES:
            var = WANDB_ALIASES[name]
            raw = env.get(var)
        if raw is not None and raw.strip() != "":
            values[name] = _coerce(name, var, raw.strip(), kind)
    for name, raw in (args or {}).items():
        if raw is None:
            continue
        if name not in _ENV_FIELDS:
            raise SettingsError(f"unknown setting {name!r}")
        if name == "dir":
            raw = os.fspath(raw)
        values[name] = _coerce(name, f"the argument {name}=", raw, _ENV_FIELDS[name])
    mode = str(values.get("mode", "online")).lower()
    mode = _MODE_ALIASES.get(mode, mode)
    if mode not in MODES:
        raise SettingsError(f"mode must be one of {', '.join(MODES)} (argument mode=, RUNYARD_MODE or WANDB_MODE), "
                            f"got {mode!r}")
    values["mode"] = mode
    console = str(values.get("console", "auto")).lower()
    if console == "off" or console in ("false", "0", "none"):
        console = "off"
    if console not in CONSOLE_MODES:
        raise SettingsError(f"console must be one of {', '.join(CONSOLE_MODES)} (RUNYARD_CONSOLE), got {console!r}")
    values["console"] = console
    if values.get("resume") is not None:
        resume = str(values["resume"]).lower()
        resume = {"true": "auto", "1": "auto", "false": "never", "0": "never"}.get(resume, resume)
        if resume not in RESUME_MODES:
            raise SettingsError(
                f"resume must be one of {', '.join(RESUME_MODES)} (argument resume=, RUNYARD_RESUME or "
                f"WANDB_RESUME), got {resume!r}")
        values["resume"] = resume
    log_model = str(values.get("log_model", "false")).lower()
    log_model = {"true": "end", "1": "end", "yes": "end", "0": "false", "no": "false", "off": "false",
                 "none": "false", "": "false"}.get(log_model, log_model)
    if log_model not in LOG_MODEL_MODES:
        raise SettingsError(f"log_model must be one of {', '.join(LOG_MODEL_MODES)} or true "
                            f"(RUNYARD_LOG_MODEL or WANDB_LOG_MODEL), got {log_model!r}")
    values["log_model"] = log_model
    base = str(values.get("base_url", DEFAULT_BASE_URL)).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise SettingsError(f"the base URL must start with http:// or https:// (RUNYARD_BASE_URL), got {base!r}")
    values["base_url"] = base
    return Settings(**values)
