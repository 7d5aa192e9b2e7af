"""The ingest service: one gRPC stream per run, records written in batches, acknowledged after commit."""

from .server import create_server, serve

__all__ = ["create_server", "serve"]
