"""App factory of the copy-job routes (inside the local front door, or `runyard-server transfers` alone).

Paths: `/api/v1/admin/remotes...` (remote instances, admins) and `/api/v1/transfers...` (copy jobs); see
routes.py. The jobs themselves run in `runyard-server transfer-worker` (worker.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        import logging

        logging.getLogger("runyard_server.transfer_jobs").error("the copy-job worker stopped: %r", task.exception())


def create_app(settings: Settings, transfer_settings: TransferSettings | None = None, *,
               run_worker: bool = False) -> FastAPI:
    """The copy-job routes; the lifespan opens the database pool like every service's. With `run_worker`
    (`runyard-server transfers`, the chart's component) the same process also runs the copy-job worker."""
    tsettings = transfer_settings or load_transfer_settings()
    if run_worker:
        from ..common.settings import SettingsError
        from .crypto import load_box

        if not tsettings.source_url:
            raise SettingsError("RUNYARD_TRANSFER_SOURCE_URL is empty: the copy-job worker needs the base URL under "
                                "which this instance's REST API answers (the front door or the Ingress)")
        try:
            load_box(tsettings)
        except Exception as exc:
            raise SettingsError(getattr(exc, "message", str(exc))) from None
    base_lifespan = service_lifespan(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with base_lifespan(app):
            if not run_worker:
                yield
                return
            from .worker import Worker

            worker = Worker(settings, tsettings)
            task = asyncio.create_task(worker.run())
            task.add_done_callback(_report)
            try:
                yield
            finally:
                worker.stopping.set()
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=max(settings.shutdown_grace_s, 1.0))

    app = FastAPI(title="Runyard copy jobs", version=__version__, lifespan=lifespan,
                  openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.transfer_settings = tsettings
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, requests=REQUESTS, latency=LATENCY)
    from ..http.health import router as health_router
    from .routes import router

    app.include_router(router)
    app.include_router(health_router)
    install_hardening(app, settings)
    return app
