"""The artifact service: run files and versioned artifacts, bytes moved by presigned S3 URLs only.

Public surface: `create_app(settings)` (the FastAPI app) and `gc.run_gc` (the `runyard-server gc`
command). See docs/artifacts.md.
"""

from .app import create_app

__all__ = ["create_app"]
