"""App factory of the TensorBoard component (`runyard-server tensorboard`, or inside the local front door).

Paths (all under `/tensorboard`, see `routes.py`):
    /tensorboard/runs/{entity}/{project}/{run_id}/...        TensorBoard over one run's event files
    /tensorboard/projects/{entity}/{project}/{ids}/...       over several runs (ids comma-separated)
    /tensorboard/status/{entity}/{project}/{ids}             JSON: which of these runs have event files
plus `/healthz`, `/readyz` and `/metrics` like every service.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from .. import __version__
from ..common.settings import Settings
from ..http import MetricsMiddleware, install_error_handlers, install_hardening, service_lifespan
from .bucket import Bucket, check_bucket_settings
from .cache import EventCache
from .metrics import LATENCY, REQUESTS

if TYPE_CHECKING:
    from .backend import Backend

__all__ = ["PREFIX", "Service", "cache_dir", "create_app", "is_tensorboard_path"]

log = logging.getLogger("runyard_server.tensorboard")

PREFIX = "/tensorboard"


def is_tensorboard_path(path: str) -> bool:
    """True for the paths the front door hands to this app."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def cache_dir(settings: Settings) -> tuple[Path, bool]:
    """(RUNYARD_TENSORBOARD_CACHE_DIR, False), or (a fresh folder in the system's temp dir, True): a
    temporary one is this process's alone and is removed at shutdown."""
    if settings.tensorboard_cache_dir:
        return Path(settings.tensorboard_cache_dir).expanduser(), False
    return Path(tempfile.mkdtemp(prefix="runyard-tensorboard-")), True


class Service:
    """What the lifespan opens for the routes: the settings, the cache, the bucket, and TensorBoard itself
    (loaded on first use: importing TensorBoard's plugins takes seconds, which a front door that never
    shows TensorBoard should not pay at start)."""

    def __init__(self, settings: Settings, cache: EventCache, bucket: Bucket) -> None:
        self.settings = settings
        self.cache = cache
        self.bucket = bucket
        self._backend: Backend | None = None
        self._loading = asyncio.Lock()

    async def backend(self) -> Backend:
        if self._backend is None:
            async with self._loading:
                if self._backend is None:
                    from .backend import Backend

                    backend = await asyncio.to_thread(Backend, self.settings.tensorboard_max_views)
                    self.cache.on_evict = backend.drop_run
                    self._backend = backend
        return self._backend


def create_app(settings: Settings) -> FastAPI:
    """The TensorBoard app; its lifespan opens the database pool, the bucket client and the cache.

    Fails at once (SettingsError naming RUNYARD_S3_*) when the bucket settings are missing."""
    check_bucket_settings(settings)
    base_lifespan = service_lifespan(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bucket = Bucket(settings)
        folder, temporary = cache_dir(settings)
        cache = await asyncio.to_thread(EventCache, folder, settings.tensorboard_cache_bytes, bucket.fetch)
        app.state.tensorboard = Service(settings, cache, bucket)
        try:
            async with base_lifespan(app):
                yield
        finally:
            if temporary:
                shutil.rmtree(folder, ignore_errors=True)

    app = FastAPI(title="Runyard TensorBoard", version=__version__, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, requests=REQUESTS, latency=LATENCY)
    from ..http.health import router as health_router
    from .routes import router

    app.include_router(router)
    app.include_router(health_router)
    install_hardening(app, settings)  # last: it runs first (docs/security.md; TensorBoard's pages: routes.py)
    return app
