"""Runyard services: ingest (gRPC), query, auth, and the embedded local stack.

Each service is a sub-package with its own app factory; shared code lives in `common`. Services never
import each other; `local` composes them.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
