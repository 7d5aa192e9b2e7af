"""The built web UI at `/`: files from `settings.web_dist`, falling back to index.html (SPA routes).

Paths under `/api` never fall back: an unknown API path is a JSON 404. Hashed build assets
(`assets/...`) are cached for a year; index.html is revalidated on every load so a new build shows up.

The UI never shares its host with the bucket: cookies ignore ports, so a page served by the bucket on the
same host could read the CSRF cookie. When a page is asked for on the bucket's host (local mode: the
embedded S3 listens on 127.0.0.1), it answers 307 to the same address on the other loopback name
(`localhost`); the API paths are not redirected (the SDK may use either name).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse

from ..common.errors import NotFound

log = logging.getLogger(__name__)


_LOOPBACK_TWIN = {"127.0.0.1": "localhost", "localhost": "127.0.0.1", "::1": "localhost"}


def other_host(page_host: str, bucket_url: str) -> str | None:
    """The loopback name to move a page to when it was asked for on the bucket's host, else None."""
    bucket = (urlsplit(bucket_url).hostname or "").lower() if bucket_url else ""
    host = page_host.lower()
    if not bucket or host != bucket:
        return None
    return _LOOPBACK_TWIN.get(host)


def install_ui(app: FastAPI, web_dist: str, bucket_url: str = "") -> bool:
    """Serve the UI when `web_dist` names a folder; returns whether it was installed. `bucket_url` is
    the bucket's public endpoint (pages asked for on its host move to the other loopback name)."""
    if not web_dist:
        return False
    root = Path(web_dist).resolve()
    if not root.is_dir():
        log.warning("RUNYARD_WEB_DIST=%s is not a folder; the UI is not served", web_dist)
        return False
    index = root / "index.html"

    bucket_host = (urlsplit(bucket_url).hostname or "") if bucket_url else ""
    if bucket_host and bucket_host not in _LOOPBACK_TWIN:
        log.info("the bucket (%s) has a host of its own; pages are never served from it", bucket_host)

    @app.get("/{path:path}", include_in_schema=False, response_model=None)
    async def ui(path: str, request: Request) -> FileResponse | RedirectResponse:
        if path == "api" or path.startswith("api/"):
            raise NotFound(f"no API route /{path}")
        if path == "tensorboard" or path.startswith("tensorboard/"):  # the component answers these when it runs
            raise NotFound("TensorBoard is not enabled on this instance (RUNYARD_TENSORBOARD_ENABLED, or "
                           "tensorboard.enabled in the Helm chart: docs/tensorboard.md)")
        twin = other_host(request.url.hostname or "", bucket_url)
        if twin is not None:
            netloc = f"{twin}:{request.url.port}" if request.url.port else twin
            return RedirectResponse(str(request.url.replace(netloc=netloc)), status_code=307)
        if path:
            target = (root / path).resolve()
            if target.is_relative_to(root) and target.is_file():
                immutable = target.is_relative_to(root / "assets")
                cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
                return FileResponse(target, headers={"Cache-Control": cache})
        if not index.is_file():
            raise NotFound("the web UI is not built (no index.html in RUNYARD_WEB_DIST)")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return True
