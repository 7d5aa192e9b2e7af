"""Run ids and run folder names."""

from __future__ import annotations

import re
import secrets
import time

__all__ = ["check_project", "check_run_id", "new_run_id", "run_folder_name"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def new_run_id(length: int = 8) -> str:
    """A short random id of [a-z0-9] (36**8, about 2.8e12 values)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def check_run_id(run_id: str) -> str:
    from .errors import SettingsError

    if not isinstance(run_id, str) or not _ID_RE.match(run_id):
        raise SettingsError(
            f"a run id is 1-64 letters, digits, '_' or '-', starting with a letter or digit; got {run_id!r}"
        )
    return run_id


def check_project(project: str) -> str:
    from .errors import SettingsError

    if not isinstance(project, str) or not _PROJECT_RE.match(project):
        raise SettingsError(
            "a project name is 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit; "
            f"got {project!r}"
        )
    return project


def run_folder_name(run_id: str, start_time: float) -> str:
    return "run-" + time.strftime("%Y%m%d_%H%M%S", time.localtime(start_time)) + "-" + run_id
