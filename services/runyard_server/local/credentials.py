"""The generated secrets of local mode: made once per data folder, kept in DATA/credentials.json (0600).

Made once, not per start: PostgreSQL keeps its password inside the cluster, and presigned S3 URLs handed
out before a restart stay valid only while the S3 keys stay the same.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..common.settings import is_placeholder
from .datadir import write_private
from .processes import StartupError

__all__ = ["Credentials", "load_credentials"]


@dataclass(frozen=True)
class Credentials:
    postgres_password: str
    redis_password: str
    s3_access_key: str
    s3_secret_key: str


def _secret(n: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(n))
        if not is_placeholder(value):  # settings would refuse it at start
            return value


# what each key is made of when the file lacks it
_MAKERS: dict[str, Callable[[], str]] = {
    "postgres_password": lambda: _secret(32),
    "redis_password": lambda: _secret(32),
    "s3_access_key": lambda: "RY" + _secret(18).upper(),
    "s3_secret_key": lambda: _secret(40),
}


def load_credentials(path: Path, pgdata: Path) -> Credentials:
    """The credentials in `path`, with any missing one generated and the file (re)written 0600.

    A missing PostgreSQL password next to an existing cluster in `pgdata` is an error, not a new
    password: the cluster would refuse it, and only the old file can say what it was.
    """
    creds: dict[str, str] = {}
    if path.exists():
        creds = json.loads(path.read_text())
    missing = [k for k in _MAKERS if not creds.get(k)]
    if "postgres_password" in missing and (pgdata / "PG_VERSION").exists():
        raise StartupError(
            f"{path} is missing the PostgreSQL password of the existing database in {pgdata}; "
            "restore the file or remove the data folder to start over"
        )
    for key in missing:
        creds[key] = _MAKERS[key]()
    if missing:
        write_private(path, json.dumps(creds, indent=2) + "\n")
    os.chmod(path, 0o600)
    return Credentials(**{k: creds[k] for k in _MAKERS})
