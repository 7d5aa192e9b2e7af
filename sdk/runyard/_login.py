"""The login file (`$RUNYARD_CONFIG_DIR/settings.json`, default `~/.config/runyard/settings.json`):
written by `runyard login`, `runyard offline|online` and `runyard.login()`; always mode 0600."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ._http import viewer
from .errors import SettingsError
from .settings import DEFAULT_BASE_URL, login_file_path

__all__ = ["check_key", "login", "read_login_file", "write_login_file"]


def read_login_file() -> dict[str, Any]:
    path = login_file_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read the login file {path}: {exc}; fix or delete it") from exc
    return data if isinstance(data, dict) else {}


def write_login_file(updates: dict[str, Any]) -> Path:
    """Merge `updates` into the login file (None removes a key); the file is created 0600."""
    path = login_file_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = read_login_file()
    for key, value in updates.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(data, indent=2) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def check_key(base_url: str, key: str, timeout: float = 10.0) -> dict[str, Any]:
    """GET /api/v1/viewer with the key: who it belongs to. Raises AuthenticationError / CommError."""
    return viewer(base_url, key, timeout)


def default_host() -> str:
    env = os.environ.get("RUNYARD_BASE_URL")
    if env and env.strip():
        return env.strip().rstrip("/")
    return str(read_login_file().get("base_url") or DEFAULT_BASE_URL).rstrip("/")


def login(key: str | None = None, host: str | None = None, relogin: bool = False) -> bool:
    """`runyard.login()`: check `key` on `host` and store both; without `key`, whether one is configured."""
    base = (host or default_host()).rstrip("/")
    if key is None:
        if relogin:
            import getpass

            key = getpass.getpass(f"API key for {base} (shown once when it was made): ").strip()
        else:
            return bool(os.environ.get("RUNYARD_API_KEY") or read_login_file().get("api_key"))
    check_key(base, key)
    write_login_file({"base_url": base, "api_key": key})
    return True
