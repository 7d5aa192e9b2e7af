"""App factory of the query service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..common.db import create_pool
from ..common.settings import Settings
from .errors import install_error_handlers
from .jsonresp import RunyardJSONResponse
from .metrics import MetricsMiddleware
from .routes import health, history, projects, runs, server_info
from .static import install_ui

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The query app; its lifespan opens the database pool and closes it on shutdown.

    Routes: docs/api.md. The OpenAPI spec is at /api/v1/openapi.json; the UI (when built) at /.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, min_size=settings.db_pool_min,
                                 max_size=settings.db_pool_max)
        app.state.pool = pool
        try:
            yield
        finally:
            try:
                await asyncio.wait_for(pool.close(), timeout=settings.shutdown_grace_s or 1.0)
            except asyncio.TimeoutError:
                log.warning("database pool did not close in time; terminating its connections")
                pool.terminate()

    app = FastAPI(
        title="Runyard query", version=__version__, lifespan=lifespan,
        default_response_class=RunyardJSONResponse,
        openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware)
    for module in (server_info, projects, runs, history, health):
        app.include_router(module.router)
    install_ui(app, settings.web_dist)  # last: its catch-all must not shadow the API
    return app
