"""App factory of the query service."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from .. import __version__
from ..common.settings import Settings
from ..http import (
    MetricsMiddleware,
    install_docs,
    install_error_handlers,
    install_hardening,
    service_lifespan,
)
from ..http.health import router as health_router
from .jsonresp import RunyardJSONResponse
from .metrics import LATENCY, REQUESTS
from .routes import (
    alerts,
    history,
    live,
    project_settings,
    projects,
    pypi,
    run_edit,
    runs,
    runs_search,
    server_info,
)
from .static import install_ui

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The query app; its lifespan opens the database pool and the key cache, and closes them.

    Routes: docs/api.md. The OpenAPI spec is at /api/v1/openapi.json; the UI (when built) at /.
    """
    app = FastAPI(
        title="Runyard query", version=__version__, lifespan=service_lifespan(settings),
        default_response_class=RunyardJSONResponse,
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, requests=REQUESTS, latency=LATENCY)
    # runs_search before runs: it answers the runs list (filter language) at the same path
    for router in (server_info.router, projects.router, project_settings.router, runs_search.router, live.router,
                   runs.router, history.router, health_router, run_edit.router, alerts.router, pypi.router):
        app.include_router(router)
    install_docs(app, "/api/v1/docs", "/api/v1/openapi.json", "Runyard query API")
    # last: its catch-all must not shadow the API
    install_ui(app, settings.web_dist, settings.s3_public_endpoint or settings.s3_endpoint)
    install_hardening(app, settings)
    return app
