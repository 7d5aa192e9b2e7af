"""Fault injection on the session stack: pause, kill and restart PostgreSQL, Redis, S3 and the services.

    with chaos.paused("postgres"): ...      # SIGSTOP now, SIGCONT when the block ends (also on failure)
    with chaos.down("redis"): ...           # SIGKILL now, started again (same port) when the block ends
    chaos.restart("postgres")               # a fast shutdown (SIGINT) and a start on the same port
    chaos.ingest_killed()                   # SIGKILL ingest and start it again on the same port

Every context manager restores the component in `finally`, so a failing test leaves the session stack
usable for the tests after it. Components are started again by the embedded stack itself
(`EmbeddedStack.start_part`), so they come back exactly as configured at session start.
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
        self.stack.embedded.start_part(name)

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


def _watch_for_run_event(url: str, key: str, live: Any, got: list[str]) -> None:
    import httpx

    try:
        with httpx.stream("GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=5) as resp:
            for line in resp.iter_lines():
                if line.startswith("data: ") and '"live":true' in line.replace(" ", ""):
                    live.set()
                if line.startswith("event: run"):
                    got.append(line)
                    return
    except httpx.HTTPError:
        pass
    finally:
        live.set()


def wait_live_again(server: Any, key: str, timeout: float = 40.0) -> None:
    """After Redis is back: wait until a committed batch reaches a browser's SSE stream again, so that the
    circuit breakers of ingest (publish) and query (subscribe) are both closed for the tests after."""
    import threading
    import uuid

    import grpc
    import httpx

    from runyard_proto.v1 import ingest_pb2 as pb
    from runyard_proto.v1 import ingest_pb2_grpc as pb_grpc

    project = "faults-live-check"
    run_id = uuid.uuid4().hex[:10]
    entity = httpx.get(server.base_url + "/api/v1/viewer", headers={"Authorization": f"Bearer {key}"},
                       timeout=30).json()["username"]
    url = f"{server.base_url}/api/v1/projects/{entity}/{project}/events"
    seq = 0
    deadline = time.monotonic() + timeout
    while True:
        got: list[str] = []
        live = threading.Event()
        watcher = threading.Thread(target=_watch_for_run_event, args=(url, key, live, got), daemon=True)
        if seq:  # the project exists after the first round
            watcher.start()
            live.wait(5)
        seq += 1
        with grpc.insecure_channel(server.ingest_address) as channel:
            msgs = [pb.ClientMessage(open=pb.OpenRun(project=project, run_id=run_id)),
                    pb.ClientMessage(batch=pb.RecordBatch(records=[pb.Record(
                        seq=seq, history=pb.HistoryRow(step=seq, keys=["x"], values=[1.0]))]))]
            list(pb_grpc.IngestStub(channel).Stream(iter(msgs), metadata=[("authorization", f"Bearer {key}")],
                                                    timeout=30))
        if watcher.is_alive():
            watcher.join(6)
        if got:
            return
        if time.monotonic() > deadline:
            raise AssertionError("live updates did not come back after Redis did")
        time.sleep(1.0)
