"""App factory of the copy-job routes (inside the local front door, or `runyard-server transfers` alone).

Paths: `/api/v1/admin/remotes...` (remote instances, admins) and `/api/v1/transfers...` (copy jobs); see
routes.py. The jobs themselves run in `runyard-server transfer-worker` (worker.py).
"""

from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from ..common.settings import Settings
from ..http import MetricsMiddleware, install_error_handlers, install_hardening, service_lifespan
from .metrics import LATENCY, REQUESTS
from .settings import TransferSettings, load_transfer_settings

__all__ = ["OPENAPI_URL", "create_app", "is_transfer_path"]

OPENAPI_URL = "/api/v1/transfers/_openapi.json"
_PREFIXES = ("/api/v1/transfers", "/api/v1/admin/remotes")


def is_transfer_path(path: str) -> bool:
    """True for the paths the front door hands to this app."""
    return any(path == p or path.startswith(p + "/") for p in _PREFIXES)


def create_app(settings: Settings, transfer_settings: TransferSettings | None = None) -> FastAPI:
    """The copy-job routes; the lifespan opens the database pool like every service's."""
    app = FastAPI(title="Runyard copy jobs", version=__version__, lifespan=service_lifespan(settings),
                  openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.transfer_settings = transfer_settings or load_transfer_settings()
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, requests=REQUESTS, latency=LATENCY)
    from ..http.health import router as health_router
    from .routes import router

    app.include_router(router)
    app.include_router(health_router)
    install_hardening(app, settings)
    return app
