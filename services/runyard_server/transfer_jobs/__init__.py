"""Copy jobs: "Copy to instance..." from the UI (issue 16; docs/transfer.md "Copy from the UI").

Admins register remote instances (their keys encrypted at rest, crypto.py); a copy of a project or of
some of its runs is a row in `transfer_jobs`, run by `runyard-server transfer-worker` (worker.py), which
spawns the SDK's `runyard transfer --progress json` (this package never imports the SDK) and writes its
progress into the database, where the routes (routes.py) and the UI read it.
"""

from __future__ import annotations

from .app import OPENAPI_URL, create_app, is_transfer_path
from .settings import TransferSettings, load_transfer_settings

__all__ = ["OPENAPI_URL", "TransferSettings", "create_app", "is_transfer_path", "load_transfer_settings"]
