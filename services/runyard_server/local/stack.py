"""The embedded storage of local mode: PostgreSQL, Redis and an S3 endpoint, from one data folder.

    stack = EmbeddedStack(Path("~/.runyard/local").expanduser(), progress=print)
    stack.start()                 # postgres, redis, s3; each waits until it answers
    stack.database_url            # postgresql://postgres:...@127.0.0.1:PORT/runyard (TCP, for asyncpg)
    stack.redis_url, stack.s3     # redis://:...@127.0.0.1:PORT/0, S3Config(endpoint, keys, bucket)
    stack.stop()                  # s3, redis, postgres; a signal, then SIGKILL after a grace

This module only composes: the folder, its lock and leftovers are datadir.py, the generated secrets
credentials.py, and each server a StorageServer (server.py) in a module of its own: postgres.py,
redis.py, s3.py. Folder layout: datadir.py and docs/local.md.
"""

from __future__ import annotations

import atexit
import json
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .credentials import load_credentials
from .datadir import DataDir
from .postgres import DATABASE, PostgresServer, postmaster_pid
from .processes import Cancelled, Child, StartupError, free_port, port_in_use
from .redis import RedisServer
from .s3 import S3Config, S3Server
from .server import StorageServer

__all__ = ["EmbeddedStack"]

_PARTS = ("postgres", "redis", "s3")  # start order; stop is the reverse


@dataclass(frozen=True)
class _Servers:
    postgres: PostgresServer
    redis: RedisServer
    s3: S3Server


class EmbeddedStack:
    """PostgreSQL, Redis and S3 for one data folder. Not thread-safe; start and stop from one thread.

    Ports: given ones must be free (StartupError otherwise); left out, the ports of the last start are
    reused when free, else the OS picks. `durable=False` turns fsync off (tests only).
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        pg_port: int | None = None,
        redis_port: int | None = None,
        s3_port: int | None = None,
        durable: bool = True,
        progress: Callable[[str], None] | None = None,
        ready_timeout: float = 60.0,
        exclude_ports: Iterable[int] = (),
        cancel: threading.Event | None = None,
    ) -> None:
        self.data = DataDir(data_dir)  # the folder's whole layout, its lock and pid files
        self.data_dir = self.data.path
        self.logs_dir = self.data.logs_dir
        self.host = host
        self.durable = durable
        self.ready_timeout = ready_timeout
        self._progress = progress or (lambda _msg: None)
        self._wanted = {"postgres": pg_port, "redis": redis_port, "s3": s3_port}
        self._cancel = cancel  # set it (e.g. from a signal handler) to call off start()
        self._exclude = set(exclude_ports)  # ports the caller will bind later (its services)
        self.ports: dict[str, int] = {}
        self.children: dict[str, Child] = {}
        self._servers: _Servers | None = None
        self._atexit_registered = False

    def log_path(self, name: str) -> Path:
        return self.data.log_path(name)

    # ---- what the services need ------------------------------------------------------------------
    def _started(self) -> _Servers:
        if self._servers is None:
            raise RuntimeError("the embedded stack has not been started (call start() first)")
        return self._servers

    @property
    def database_url(self) -> str:
        return self._started().postgres.url(DATABASE)

    @property
    def redis_url(self) -> str:
        return self._started().redis.url

    @property
    def s3(self) -> S3Config:
        return self._started().s3.config

    def service_env(self) -> dict[str, str]:
        """The RUNYARD_* storage variables for a service process."""
        s3 = self.s3
        return {
            "RUNYARD_DATABASE_URL": self.database_url,
            "RUNYARD_REDIS_URL": self.redis_url,
            "RUNYARD_S3_ENDPOINT": s3.endpoint,
            "RUNYARD_S3_ACCESS_KEY": s3.access_key,
            "RUNYARD_S3_SECRET_KEY": s3.secret_key,
            "RUNYARD_S3_BUCKET": s3.bucket,
            "RUNYARD_S3_REGION": s3.region,
        }

    def pids(self) -> dict[str, int]:
        return {name: c.pid for name, c in self.children.items() if c.alive()}

    # ---- start / stop ----------------------------------------------------------------------------
    def start(self) -> EmbeddedStack:
        """Start PostgreSQL, Redis and S3 in that order; on any failure stop what started and raise."""
        self.data.create()
        self.data.lock()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            creds = load_credentials(self.data.credentials_file, self.data.pgdata)
            # leftovers from a killed launcher hold the remembered ports: stop them before choosing
            self._stop_leftovers()
            self.ports = self._pick_ports()
            data, host, ports = self.data, self.host, self.ports
            self._servers = _Servers(
                PostgresServer(data, host, ports["postgres"], creds.postgres_password, self.durable, self._progress),
                RedisServer(data, host, ports["redis"], creds.redis_password),
                S3Server(data, host, ports["s3"], creds.s3_access_key, creds.s3_secret_key),
            )
            servers: tuple[StorageServer, ...] = (self._servers.postgres, self._servers.redis, self._servers.s3)
            for server in servers:
                if self._cancel is not None and self._cancel.is_set():
                    raise Cancelled(server.label)
                self._progress(f"starting {server.label}...")
                child = server.spawn()
                self.children[server.name] = child
                self.data.write_pid(server.name, child.pid)
                server.wait_ready(child, timeout=self.ready_timeout, cancel=self._cancel)
        except BaseException:
            self.stop()
            raise
        return self

    def start_part(self, name: str) -> None:
        """Start one stopped server ("postgres", "redis" or "s3") again, on its port, and wait until it
        answers (fault injection: tests/faults, bench/soak.py). A running one is left alone."""
        if name in self.pids():
            return
        server: StorageServer = getattr(self._started(), name)
        child = server.spawn()
        self.children[name] = child
        self.data.write_pid(name, child.pid)
        server.wait_ready(child, timeout=self.ready_timeout, cancel=None)

    def stop(self, grace: float = 15.0) -> None:
        """Stop S3, Redis, PostgreSQL (reverse order). Idempotent; safe from atexit."""
        for name in reversed(_PARTS):
            child = self.children.get(name)
            if child is not None and child.alive():
                child.stop(grace)
            self.data.forget_pid(name)
        self.data.unlock()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- leftovers and ports ---------------------------------------------------------------------------
    def _stop_leftovers(self) -> None:
        self.data.stop_leftover("Redis", self.data.read_pid("redis"), signal.SIGTERM, self._progress)
        self.data.stop_leftover("S3 server", self.data.read_pid("s3"), signal.SIGTERM, self._progress)
        self.data.stop_leftover("PostgreSQL", postmaster_pid(self.data.pgdata), signal.SIGINT, self._progress)

    def _pick_ports(self) -> dict[str, int]:
        """Given ports as they are; else last time's when still free; else a free one from the OS.
        Never one the caller excluded, never one twice. Remembered in ports.json for the next start."""
        path = self.data.ports_file
        last: dict[str, int] = {}
        try:
            last = {k: int(v) for k, v in json.loads(path.read_text()).items()}
        except (OSError, ValueError):
            pass
        ports: dict[str, int] = {}
        taken = set(self._exclude)
        for name, wanted in self._wanted.items():
            if wanted:
                if port_in_use(self.host, wanted):
                    raise StartupError(f"port {wanted} ({name}) is already in use on {self.host}")
                ports[name] = wanted
            elif last.get(name) and last[name] not in taken and not port_in_use(self.host, last[name]):
                ports[name] = last[name]
            else:
                port = free_port(self.host)
                while port in taken:
                    port = free_port(self.host)
                ports[name] = port
            taken.add(ports[name])
        path.write_text(json.dumps(ports, indent=2) + "\n")
        return ports
