"""The test stack: embedded PostgreSQL, Redis and S3 once per session, services as real subprocesses.

    stack.start_ingest()            # python -m runyard_server.cli ingest, on a port fixed for the session
    stack.stop_ingest(kill=True)    # SIGKILL; start_ingest() again comes back on the SAME port
    stack.start_http()              # python -m runyard_server.cli frontdoor (auth + query on one port)
    stack.base_url, stack.ingest_address, stack.database_url, stack.redis_url, stack.s3

The services get their configuration only from RUNYARD_* variables, like in production; their output
goes to files in the session's temp folder, and `recent_logs()` (shown by conftest on a failure) returns
the end of each.
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runyard_server.local import EmbeddedStack, S3Config, run_coro
from runyard_server.local.processes import Child, free_port, spawn, tail, wait_until
from tests.support import db

__all__ = ["INGEST_TEST_ENV", "TestStack"]

# readiness probes go straight to 127.0.0.1, never through an http_proxy from the environment
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# crash detection in seconds rather than minutes, and quick graceful stops
INGEST_TEST_ENV = {
    "RUNYARD_SECRET_KEY": "dGVzdC1vbmx5LXNlY3JldC1rZXktb2YtMzItYnl0ZXM=",  # copy jobs: remotes' keys (a test key)
    "RUNYARD_HEARTBEAT_TIMEOUT_S": "5",
    "RUNYARD_CRASH_CHECK_INTERVAL_S": "1",
    "RUNYARD_SHUTDOWN_GRACE_S": "3",
}
STOP_GRACE_S = 15.0
READY_TIMEOUT_S = 60.0


class TestStack:
    """One per test session (the `stack` fixture). Methods are synchronous and idempotent."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs_dir = root / "logs"
        # the service ports are fixed for the session (ingest restarts on the same one) and kept apart
        # from the storage ports
        self._ingest_port = free_port()
        self._http_port = free_port()
        while self._http_port == self._ingest_port:
            self._http_port = free_port()
        self.embedded = EmbeddedStack(
            root / "data", durable=False, exclude_ports=(self._ingest_port, self._http_port)
        )
        self._ingest: Child | None = None
        self._http: Child | None = None

    # ---- life cycle ------------------------------------------------------------------------------
    def start(self) -> TestStack:
        from runyard_server.common.migrate import apply_migrations

        self.embedded.start()
        run_coro(apply_migrations(self.database_url))
        return self

    def close(self) -> None:
        """Stop every service, then the storage. Safe to call twice."""
        try:
            self.stop_http()
            self.stop_ingest()
        finally:
            self.embedded.stop()

    # ---- storage -----------------------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.embedded.database_url

    @property
    def redis_url(self) -> str:
        return self.embedded.redis_url

    @property
    def s3(self) -> S3Config:
        """Endpoint, keys, bucket, and `.client()`: a boto3 client (SigV4, path style)."""
        return self.embedded.s3

    def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run one query on the database and return its rows as dicts (for assertions)."""
        return [dict(r) for r in db.fetch(self.database_url, sql, *args)]

    # ---- services ----------------------------------------------------------------------------------
    @property
    def ingest_port(self) -> int:
        return self._ingest_port

    @property
    def ingest_address(self) -> str:
        return f"127.0.0.1:{self._ingest_port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http_port}"

    @property
    def ingest_pid(self) -> int | None:
        return self._ingest.pid if self._ingest and self._ingest.alive() else None

    def service_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
        env.update(self.embedded.service_env())
        env.update(
            {
                "RUNYARD_INGEST_HOST": "127.0.0.1",
                "RUNYARD_INGEST_PORT": str(self._ingest_port),
                "RUNYARD_HTTP_HOST": "127.0.0.1",
                "RUNYARD_HTTP_PORT": str(self._http_port),
                "RUNYARD_PUBLIC_INGEST_ADDRESS": self.ingest_address,
                "RUNYARD_WEB_DIST": "",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(INGEST_TEST_ENV)
        env.update(extra or {})
        return env

    def start_ingest(self, port: int | None = None, env: Mapping[str, str] | None = None) -> int:
        """Start the ingest service (no-op when it runs); returns its port.

        Without `port` it comes back on the session's ingest port, so a connected SDK reconnects to it.
        A different `port` becomes the session's ingest port (the front door started earlier still
        advertises the old one).
        """
        if self._ingest is not None and self._ingest.alive():
            if port is not None and port != self._ingest_port:
                raise RuntimeError(f"ingest already runs on {self._ingest_port}; stop_ingest() first")
            return self._ingest_port
        if port is not None:
            self._ingest_port = port
        self._ingest = self._spawn("ingest", env)
        self._wait(self._ingest, lambda: _tcp_ready("127.0.0.1", self._ingest_port),
                   f"the ingest service ({self.ingest_address})")
        return self._ingest_port

    def stop_ingest(self, kill: bool = False) -> int | None:
        """Stop the ingest service: SIGTERM (graceful, then SIGKILL after a grace) or SIGKILL now."""
        if self._ingest is None:
            return None
        code = self._ingest.stop(STOP_GRACE_S, kill=kill)
        _wait_port_free("127.0.0.1", self._ingest_port)
        return code

    def start_http(self, env: Mapping[str, str] | None = None) -> str:
        """Start the front door (auth + query on one port; no-op when it runs); returns base_url."""
        if self._http is not None and self._http.alive():
            return self.base_url
        self._http = self._spawn("frontdoor", env)
        url = self.base_url + "/api/v1/server-info"
        self._wait(self._http, lambda: _http_ok(url), f"the front door ({self.base_url})")
        return self.base_url

    def stop_http(self, kill: bool = False) -> int | None:
        if self._http is None:
            return None
        return self._http.stop(STOP_GRACE_S, kill=kill)

    def _spawn(self, command: str, env: Mapping[str, str] | None) -> Child:
        """`runyard-server COMMAND` as a child, its output in logs/COMMAND.log. Not waited for: the
        caller records it first, so that close() stops it even when it never gets ready."""
        argv = [sys.executable, "-m", "runyard_server.cli", command]
        return spawn(command, argv, self.logs_dir / f"{command}.log", env=self.service_env(env))

    @staticmethod
    def _wait(child: Child, ready: Callable[[], bool], what: str) -> None:
        wait_until(child, ready, timeout=READY_TIMEOUT_S, what=what, interval=0.1)

    # ---- diagnostics ---------------------------------------------------------------------------------
    def recent_logs(self, lines: int = 40) -> str:
        """The end of every service and storage log, for a failed test's report."""
        parts = []
        for path in [
            self.logs_dir / "ingest.log",
            self.logs_dir / "frontdoor.log",
            self.embedded.log_path("postgresql"),
            self.embedded.log_path("redis"),
            self.embedded.log_path("s3"),
        ]:
            text = tail(path, lines)
            if text:
                parts.append(f"==> {path} <==\n{text}")
        return "\n\n".join(parts)


def _tcp_ready(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1):
        return True


def _http_ok(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_port_free(host: str, port: int, timeout: float = 10.0) -> None:
    """After a stop the port can be reused at once (the service sets SO_REUSEADDR); wait for the
    listener to be gone so a restart on the same port does not race the old process."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) != 0:
                return
        time.sleep(0.05)
