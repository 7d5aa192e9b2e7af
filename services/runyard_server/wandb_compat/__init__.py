"""The W&B client protocol: the real `wandb` package logs to Runyard unchanged (docs/wandb-compat.md).

One more front onto the same data, never a second store: GraphQL at `/graphql` and the file stream at
`/files/{entity}/{project}/{run}/file_stream`, translated onto ingest (gRPC) and the query, auth and
artifact services (REST), with the caller's own API key, so their verifier and rules apply unchanged.
"""

from __future__ import annotations

from .app import create_app, owns_path
from .settings import WandbSettings, load_wandb_settings

__all__ = ["WandbSettings", "create_app", "load_wandb_settings", "owns_path"]
