"""The run's environment: installed distributions (requirements.txt) and metadata.json."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import platform
import socket
import sys
from importlib import metadata as importlib_metadata
from typing import Any

import psutil


def requirements_txt() -> str:
    """`name==version` of every installed distribution, sorted, one per line."""
    seen: dict[str, str] = {}
    for dist in importlib_metadata.distributions():
        try:
            name = dist.metadata["Name"]
        except Exception:
            continue
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return "".join(line + "\n" for _, line in sorted(seen.items()))


def _program() -> tuple[str | None, list[str]]:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return (os.path.abspath(path) if path else None), list(sys.argv[1:])


def metadata(start_time: float, gpus: list[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What metadata.json holds: Python, OS, host, user, program, arguments, start time, CPU/GPU count."""
    program, args = _program()
    try:
        user = getpass.getuser()
    except Exception:
        user = None
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "os": platform.platform(),
        "host": socket.gethostname(),
        "user": user,
        "program": program,
        "args": args,
        "cwd": os.getcwd(),
        "started_at": dt.datetime.fromtimestamp(start_time, dt.timezone.utc).isoformat(),
        "cpu_count": psutil.cpu_count(logical=True),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_mb": psutil.virtual_memory().total // (1024 * 1024),
        "gpu_count": len(gpus or []),
        "gpus": gpus or [],
    }
    out.update(extra or {})
    return out
