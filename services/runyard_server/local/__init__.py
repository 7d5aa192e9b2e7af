"""Local mode: the embedded PostgreSQL/Redis/S3 stack, the front door, and `runyard-server local`.

The public surface for the launcher, the test stack and the benchmarks; the modules behind it:
stack.py composes datadir.py (layout, lock, leftovers), credentials.py and the StorageServer (server.py)
of postgres.py, redis.py and s3.py; processes.py starts and stops children; coro.py runs a coroutine from
this synchronous code; launcher.py is `runyard-server local`, frontdoor.py its one HTTP port.
"""

from .coro import run_coro
from .processes import Cancelled, StartupError
from .s3 import S3Config
from .stack import EmbeddedStack

__all__ = ["Cancelled", "EmbeddedStack", "S3Config", "StartupError", "run_coro"]
