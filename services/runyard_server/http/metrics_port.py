"""`RUNYARD_METRICS_PORT`: Prometheus metrics on an internal port of their own (nothing else is served there).

Every HTTP app of a process shares it (the local front door runs three apps in one process, each with its
lifespan): the first lifespan opens the listener, the last one to end closes it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prometheus_client import start_http_server

log = logging.getLogger(__name__)

_lock = threading.Lock()
_servers: dict[tuple[str, int], list[Any]] = {}  # (host, port) -> [server, thread, users]


def acquire(host: str, port: int) -> None:
    """Start (or join) the metrics listener on host:port."""
    if not port:
        return
    with _lock:
        entry = _servers.get((host, port))
        if entry is None:
            server, thread = start_http_server(port, addr=host)
            _servers[(host, port)] = [server, thread, 1]
            log.info("metrics on http://%s:%d/metrics", host, port)
        else:
            entry[2] += 1


def release(host: str, port: int) -> None:
    if not port:
        return
    with _lock:
        entry = _servers.get((host, port))
        if entry is None:
            return
        entry[2] -= 1
        if entry[2] <= 0:
            server, thread, _ = _servers.pop((host, port))
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
