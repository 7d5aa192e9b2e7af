"""Fault injection on the session stack: pause, kill and restart PostgreSQL, Redis, S3 and the services.

    with chaos.paused("postgres"): ...      # SIGSTOP now, SIGCONT when the block ends (also on failure)
    with chaos.down("redis"): ...           # SIGKILL now, started again (same port) when the block ends
    chaos.restart("postgres")               # a fast shutdown (SIGINT) and a start on the same port
    chaos.ingest_killed()                   # SIGKILL ingest and start it again on the same port

Every context manager restores the component in `finally`, so a failing test leaves the session stack
usable for the tests after it. Components are started again through the embedded stack's own start
steps, so they come back exactly as configured at session start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STORAGE = ("postgres", "redis", "s3")


class Chaos:
    def __init__(self, stack: Any) -> None:
        self.stack = stack

    # ---- storage ---------------------------------------------------------------------------------
    def pid(self, name: str) -> int:
        pid = self.stack.embedded.pids().get(name)
        if pid is None:
            raise RuntimeError(f"{name} is not running")
        return int(pid)

    @contextlib.contextmanager
    def paused(self, name: str) -> Iterator[None]:
        """SIGSTOP the component (it keeps its connections but answers nothing), SIGCONT at the end."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def kill(self, name: str) -> None:
        """SIGKILL the component (PostgreSQL: a fast shutdown, so its restart needs no recovery wait)."""
        child = self.stack.embedded.children[name]
        child.stop(15.0, kill=name != "postgres")

    def start(self, name: str) -> None:
        """Start a stopped component again, on its port, through the embedded stack's own start step."""
        if name in self.stack.embedded.pids():
            return
        getattr(self.stack.embedded, f"_start_{name}")()

    @contextlib.contextmanager
    def down(self, name: str) -> Iterator[None]:
        self.kill(name)
        try:
            yield
        finally:
            self.start(name)

    def restart(self, name: str) -> None:
        with self.down(name):
            pass

    # ---- services --------------------------------------------------------------------------------
    def ingest_killed(self) -> None:
        self.stack.stop_ingest(kill=True)
        self.stack.start_ingest()


class LogTail:
    """Lines a service log gained since this object was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        if not self.path.exists():
            return ""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            return f.read().decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        """The first new line holding `needle` (AssertionError with the new text when none came)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.text().splitlines():
                if needle in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no line with {needle!r} in {self.path} after {timeout:.0f} s:\n{self.text()[-3000:]}")
            time.sleep(0.1)
