"""What the stack asks of each storage server (postgres.py, redis.py, s3.py).

Two steps, not one: `spawn()` returns the child at once and `wait_ready()` polls it, so that the stack
can record the child (and its pid file) in between, and a server that never gets ready is still stopped.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from .datadir import DataDir
from .processes import Child

__all__ = ["StorageServer"]


@dataclass
class StorageServer(ABC):
    """One server of the stack, listening on host:port, keeping its files in the data folder."""

    name: ClassVar[str]  # its pid file, its key in the stack's `ports` and `children`
    label: ClassVar[str]  # as the progress output names it ("starting LABEL...")

    data: DataDir
    host: str
    port: int

    @abstractmethod
    def spawn(self) -> Child:
        """Start the server's process (after any first-time setup); do not wait for it."""

    @abstractmethod
    def wait_ready(self, child: Child, *, timeout: float, cancel: threading.Event | None) -> None:
        """Return once the server answers; StartupError if it exits or time runs out, Cancelled when
        `cancel` gets set."""
