"""The SDK as a PEP 503 "simple" package index, so machines without a route to a public index can
`pip install --index-url http://HOST/pypi/simple runyard`:

    GET /pypi/simple/             the projects (HTML anchors)
    GET /pypi/simple/{project}/   its files, `#sha256=` and `data-requires-python` on each link
    GET /pypi/files/{filename}    a wheel
    GET /pypi/install.json        the pip command that works with this index (for the UI's empty state)

Served from `RUNYARD_SDK_WHEELS_DIR` (sdk_wheels.py says how the wheels get there); 404 for everything
when it is not set. No credentials are asked: pip sends none by default, and the folder holds only the
SDK's own open wheels and the dependency wheels an operator chose to add. Only file names listed from the
folder are served, so no request path reaches another file.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from ...common.errors import NotFound
from ..sdk_wheels import WheelIndex, normalize

router = APIRouter(include_in_schema=False)

_PAGE = ('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
         "<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{links}\n</body></html>\n")


def _index(request: Request) -> WheelIndex:
    index: WheelIndex | None = getattr(request.app.state, "wheel_index", None)
    folder = request.app.state.settings.sdk_wheels_dir
    if not folder:
        raise NotFound("this instance serves no SDK wheels (RUNYARD_SDK_WHEELS_DIR is not set)")
    if index is None or str(index.folder) != folder:
        index = request.app.state.wheel_index = WheelIndex(folder)
    return index


def _html(title: str, links: list[str]) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), links="\n".join(links)),
                        headers={"Cache-Control": "no-cache"})


@router.get("/pypi/simple/")
async def projects(request: Request) -> HTMLResponse:
    names = sorted(_index(request).projects())
    return _html("Simple index", [f'<a href="{html.escape(n)}/">{html.escape(n)}</a><br>' for n in names])


@router.get("/pypi/simple", response_model=None)
async def projects_no_slash() -> Response:
    return RedirectResponse("/pypi/simple/", status_code=301)


@router.get("/pypi/simple/{project}/")
async def project_files(project: str, request: Request) -> Any:
    wanted = normalize(project)
    if wanted != project:  # PEP 503: redirect to the normalized name
        return RedirectResponse(f"/pypi/simple/{wanted}/", status_code=301)
    files = _index(request).projects().get(wanted)
    if not files:
        raise NotFound(f"no project {project!r} in this index")
    links = []
    for w in files:
        attrs = f' data-requires-python="{html.escape(w.requires_python)}"' if w.requires_python else ""
        links.append(f'<a href="../../files/{html.escape(w.filename)}#sha256={w.sha256}"{attrs}>'
                     f"{html.escape(w.filename)}</a><br>")
    return _html(f"Links for {wanted}", links)


@router.get("/pypi/simple/{project}", response_model=None)
async def project_no_slash(project: str) -> Response:
    return RedirectResponse(f"/pypi/simple/{normalize(project)}/", status_code=301)


@router.get("/pypi/files/{filename}")
async def wheel(filename: str, request: Request) -> FileResponse:
    w = _index(request).file(filename)
    if w is None:
        raise NotFound(f"no file {filename!r} in this index")
    return FileResponse(w.path, media_type="application/octet-stream", filename=w.filename,
                        headers={"Cache-Control": "public, max-age=300"})


@router.get("/pypi/install.json")
async def install_command(request: Request) -> dict[str, Any]:
    """`{"index_url", "complete", "missing", "command"}`: `complete` when the folder holds every wheel
    the SDK needs (then the index alone installs it); otherwise the command adds the public index for
    the `missing` dependencies (replace it with your own mirror inside a closed network)."""
    index = _index(request)
    base = str(request.base_url).rstrip("/")
    url = f"{base}/pypi/simple"
    missing = index.missing("runyard")
    trusted = ""
    if request.url.scheme == "http" and request.url.hostname not in ("localhost", "127.0.0.1", "::1"):
        trusted = f" --trusted-host {request.url.hostname}"
    extra = "" if not missing else " --extra-index-url https://pypi.org/simple"
    return {"index_url": url + "/", "complete": not missing, "missing": missing,
            "command": f"pip install --index-url {url}{extra}{trusted} runyard"}
