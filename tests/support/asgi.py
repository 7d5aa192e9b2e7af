"""An ASGI app under uvicorn in a thread of the test process, on a real socket (127.0.0.1, port 0).

In-process rather than a subprocess where a test needs the app object itself (its settings, a provider
whose knobs it turns); the services that must run as their own processes are tests/support/stack.py's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn

__all__ = ["serve"]


@contextmanager
def serve(app: Any, *, lifespan: Literal["on", "off"] = "on", name: str = "the test server") -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL. With lifespan "on" its startup has run
    (pools open, migrations checked) before the URL is handed out."""
    # proxy headers off, as `runyard-server` runs them: the apps decide whom to believe (trusted proxies)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan=lifespan, log_level="warning",
                            access_log=False, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn: {name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
