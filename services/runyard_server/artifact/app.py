"""App factory of the artifact service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..common.limits import ARTIFACT_BODY_MAX_BYTES
from ..common.settings import Settings
from ..http import (
    MetricsMiddleware,
    install_docs,
    install_error_handlers,
    install_hardening,
    service_lifespan,
)
from .metrics import LATENCY, REQUESTS
from .routes import artifacts, files, health, lineage, staged, upload_sessions
from .storage import Storage, check_s3_settings

log = logging.getLogger(__name__)

def create_app(settings: Settings) -> FastAPI:
    """The artifact app; its lifespan opens the database pool and the S3 clients.

    Fails at once (SettingsError naming RUNYARD_S3_*) when the bucket settings are missing.
    """
    check_s3_settings(settings)

    base_lifespan = service_lifespan(settings)  # the pool and the API-key cache, as in every HTTP service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = Storage(settings)
        try:
            await storage.ensure_bucket()
        except Exception as exc:  # the bucket may come up later; /readyz reports it
            log.warning("bucket %s not reachable at start: %s", settings.s3_bucket, exc)
        app.state.storage = storage
        async with base_lifespan(app):
            yield

    app = FastAPI(
        title="Runyard artifacts", version=__version__, lifespan=lifespan,
        openapi_url="/api/v1/artifacts/_openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, requests=REQUESTS, latency=LATENCY)
    # the docs and upload sessions first: `/api/v1/artifacts/_docs/assets/...` and `/api/v1/artifacts/_uploads/...`
    # must not be read as {entity}/{project}
    install_docs(app, "/api/v1/artifacts/_docs", "/api/v1/artifacts/_openapi.json", "Runyard artifacts API")
    for module in (upload_sessions, staged, files, lineage, artifacts, health):
        app.include_router(module.router)
    install_hardening(app, settings, body_max=max(settings.max_request_bytes, ARTIFACT_BODY_MAX_BYTES))
    return app


def is_artifact_path(path: str) -> bool:
    """True for the paths the front door should hand to this app."""
    if path == "/api/v1/artifacts" or path.startswith("/api/v1/artifacts/"):
        return True
    if path.startswith("/api/v1/runs/"):
        parts = path.split("/")  # ['', 'api', 'v1', 'runs', entity, project, run_id, 'files'|'artifacts', ...]
        return len(parts) >= 8 and parts[7] in ("files", "artifacts")
    return False
