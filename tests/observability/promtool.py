"""Debian's Prometheus and promtool (installed by `make prometheus`)."""

from __future__ import annotations

import os
import shutil


def binary(name: str) -> str:
    found = shutil.which(name) or next((p for p in (f"/usr/bin/{name}",) if os.path.exists(p)), None)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run `make prometheus` (Debian's prometheus package)")
    return found
