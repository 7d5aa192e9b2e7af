"""The interactive API docs (Swagger UI) of each HTTP service, from bundled assets: no CDN, so the page
works inside a private network, and no inline script, so it keeps the strict Content-Security-Policy.

The Swagger UI files come from the `fastapi-offline` package (a dependency of runyard-server, which ships
them); `swagger-init.js` beside this module starts the UI. `install_docs(app, docs_url, openapi_url,
title)` answers `docs_url` (the page) and `docs_url/assets/<file>`.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi.responses import FileResponse, HTMLResponse

from ..common.errors import NotFound

__all__ = ["asset_files", "install_docs"]

_OWN = Path(__file__).with_name("docs_assets")
_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def asset_files() -> dict[str, Path]:
    """Asset name -> file: Swagger UI's bundle and stylesheet, and our start script."""
    vendor = Path(str(resources.files("fastapi_offline") / "static"))
    return {
        "swagger-ui-bundle.js": vendor / "swagger-ui-bundle.js",
        "swagger-ui.css": vendor / "swagger-ui.css",
        "swagger-init.js": _OWN / "swagger-init.js",
    }


def page(title: str, openapi_url: str, assets_url: str) -> str:
    t, o, a = html.escape(title), html.escape(openapi_url), html.escape(assets_url)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{a}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{o}"></div>
<script src="{a}/swagger-ui-bundle.js"></script>
<script src="{a}/swagger-init.js"></script>
</body>
</html>
"""


def install_docs(app: Any, docs_url: str, openapi_url: str, title: str) -> None:
    """Serve the docs page at `docs_url` (create the FastAPI app with `docs_url=None`)."""
    files = asset_files()
    assets_url = docs_url.rstrip("/") + "/assets"
    body = page(title, openapi_url, assets_url)

    @app.get(docs_url, include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(body, headers={"Cache-Control": "no-cache"})

    @app.get(assets_url + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        path = files.get(name)
        if path is None or not path.is_file():
            raise NotFound(f"no docs asset {name!r}")
        return FileResponse(path, media_type=_MEDIA[path.suffix],
                            headers={"Cache-Control": "public, max-age=86400"})
