"""App factory of the auth service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from .. import __version__
from ..common.db import create_pool
from ..common.settings import Settings
from .errors import install_error_handlers
from .metrics import MetricsMiddleware
from .routes import health, session, signup, viewer

log = logging.getLogger(__name__)
DEFAULT_SESSION_TTL = timedelta(days=14)


def create_app(settings: Settings, *, session_ttl: timedelta = DEFAULT_SESSION_TTL) -> FastAPI:
    """The auth app; its lifespan opens the database pool and closes it on shutdown."""

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
        title="Runyard auth", version=__version__, lifespan=lifespan,
        openapi_url="/api/v1/auth/openapi.json", docs_url="/api/v1/auth/docs", redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_ttl = session_ttl
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware)
    for module in (signup, session, viewer, health):
        app.include_router(module.router)
    return app
