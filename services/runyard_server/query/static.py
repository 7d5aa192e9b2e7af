"""The built web UI at `/`: files from `settings.web_dist`, falling back to index.html (SPA routes).

Paths under `/api` never fall back: an unknown API path is a JSON 404. Hashed build assets
(`assets/...`) are cached for a year; index.html is revalidated on every load so a new build shows up.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from ..common.errors import NotFound

log = logging.getLogger(__name__)


def install_ui(app: FastAPI, web_dist: str) -> bool:
    """Serve the UI when `web_dist` names a folder; returns whether it was installed."""
    if not web_dist:
        return False
    root = Path(web_dist).resolve()
    if not root.is_dir():
        log.warning("RUNYARD_WEB_DIST=%s is not a folder; the UI is not served", web_dist)
        return False
    index = root / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    async def ui(path: str) -> FileResponse:
        if path == "api" or path.startswith("api/"):
            raise NotFound(f"no API route /{path}")
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
