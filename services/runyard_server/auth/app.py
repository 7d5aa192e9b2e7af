"""App factory of the auth service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from .. import __version__
from ..common.limits import AUTH_BODY_MAX_BYTES
from ..common.settings import Settings
from ..http import (
    MetricsMiddleware,
    install_docs,
    install_error_handlers,
    install_hardening,
    service_lifespan,
)
from ..http.health import router as health_router
from .metrics import LATENCY, REQUESTS
from .oidc import OidcClient
from .ratelimit import LoginLimiter
from .routes import admin, keys, oidc, password, session, signup, teams, viewer

log = logging.getLogger(__name__)

# Paths the auth service answers; the front door and the Ingress route these here (everything else
# under /api/v1 goes to query or artifact).
ROUTE_PREFIXES = ("/api/v1/auth", "/api/v1/viewer", "/api/v1/teams", "/api/v1/entities", "/api/v1/admin")


def owns_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ROUTE_PREFIXES)


def create_app(settings: Settings, *, session_ttl: timedelta | None = None) -> FastAPI:
    """The auth app; its lifespan opens the database pool, the key cache and the login limiter."""
    base = service_lifespan(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = LoginLimiter(settings.redis_url, settings.login_rate_per_user, settings.login_rate_per_address,
                               settings.login_rate_window_s, settings.login_max_delay_s)
        app.state.login_limiter = limiter
        try:
            async with base(app):
                yield
        finally:
            await limiter.close()

    app = FastAPI(
        title="Runyard auth", version=__version__, lifespan=lifespan,
        openapi_url="/api/v1/auth/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_ttl = session_ttl or timedelta(seconds=settings.session_ttl_s)
    app.state.oidc = OidcClient(settings)
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, requests=REQUESTS, latency=LATENCY)
    for module in (signup, session, viewer, keys, password, teams, admin, oidc):
        app.include_router(module.router)
    app.include_router(health_router)
    install_docs(app, "/api/v1/auth/docs", "/api/v1/auth/openapi.json", "Runyard auth API")
    install_hardening(app, settings, body_max=min(settings.max_request_bytes, AUTH_BODY_MAX_BYTES))
    return app
