"""The TensorBoard routes. Every request is checked here before TensorBoard sees it.

    GET  /tensorboard/status/{entity}/{project}/{ids}              which runs have event files (JSON)
    GET  /tensorboard/runs/{entity}/{project}/{run_id}/...         TensorBoard's pages, assets and data
    POST /tensorboard/runs/{entity}/{project}/{run_id}/data/...    TensorBoard's batched data queries
    ...  /tensorboard/projects/{entity}/{project}/{ids}/...        the same over several runs (ids: a,b,c)

Access, on EVERY request (TensorBoard's own data endpoints included): the caller is a Bearer key or a
session cookie (`common/verifier.authenticate_request`); the project must be readable (`project_for_read`,
else 404 as for a project that does not exist) and every run must be in it (else 404). TensorBoard's POSTs
(batched series queries) only read and change nothing, so they are answered like GETs: no CSRF token is
involved, and a cross-site page could not read the answer anyway (no CORS). The experiment id TensorBoard
passes to its data provider is always this request's view (a client-sent `/experiment/<id>/` prefix or
`Tensorboard-Experiment-Id` header is ignored).

Headers: the app's hardening middleware (`http/hardening.py`) adds the headers every service sends; JSON,
assets and images get its `default-src 'none'; frame-ancestors 'none'`. TensorBoard's HTML pages get a
policy of their own (`page_policy`), replacing the one TensorBoard writes: they may be framed by this
origin (the UI's TensorBoard tab) and by whoever may frame the UI (`RUNYARD_CSP_FRAME_ANCESTORS`), and
they keep TensorBoard's script hashes; what TensorBoard allows beyond what it needs here (a CDN's styles,
the profiler's frame host) is left out. docs/security.md explains each directive.
"""

from __future__ import annotations

import asyncio
import html
import io
import re
import sys
import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..common.errors import InvalidArgument, NotFound
from ..common.verifier import SESSION_COOKIE, authenticate_request, project_for_read
from . import queries as q
from .app import PREFIX, Service
from .backend import Backend, View, ViewRun
from .cache import CacheFull, EventCache, RemoteFile

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EXPERIMENT = re.compile(r"^experiment/[^/]*(/|$)")
_METHODS = ["GET", "HEAD", "POST"]
_DROP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "x-frame-options",
                 "content-security-policy"}
_SCRIPT_HASH = re.compile(r"^'sha256-[A-Za-z0-9+/=]+'$")


def frame_ancestors(setting: str) -> str:
    """Who may frame TensorBoard: this origin (the UI's tab), and whoever may frame the UI itself (a page
    framing the UI frames the tab too, and every ancestor must be allowed)."""
    extra = [] if setting.strip() == "'none'" else setting.split()
    return " ".join(dict.fromkeys(["'self'", *extra]))


def page_policy(ancestors: str, tensorboard_policy: str = "") -> str:
    """The Content-Security-Policy of a TensorBoard HTML page. Scripts: this origin and the hashes of the
    inline scripts TensorBoard itself lists in its own policy (a plugin's entry page), no eval (TensorBoard
    asks for 'unsafe-eval'; none of the plugins served here needs it: tests/tensorboard/test_ui.py fails on
    any refusal); styles may be inline (Polymer and d3 set them); images, fonts and fetches from this origin
    (and data:/blob: images); nothing from another host, no plugins, <base> only to this origin (a plugin's
    entry page sets one), no form posts."""
    hashes = []
    for directive in tensorboard_policy.split(";"):
        name, _, values = directive.strip().partition(" ")
        if name == "script-src":
            hashes = [v for v in values.split() if _SCRIPT_HASH.match(v)]
    return "; ".join([
        "default-src 'self'",
        " ".join(["script-src 'self'", *hashes]),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'none'",
        f"frame-ancestors {ancestors}",
    ])


def _page_headers(settings: Any, tensorboard_policy: str | None = None) -> dict[str, str]:
    """Headers of a TensorBoard page (`tensorboard_policy`: the one TensorBoard wrote), or with None of a
    page of ours (no script at all)."""
    ancestors = frame_ancestors(settings.csp_frame_ancestors)
    policy = (page_policy(ancestors, tensorboard_policy) if tensorboard_policy is not None else
              f"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
              f"frame-ancestors {ancestors}")
    out = {"Content-Security-Policy": policy}
    if ancestors == "'self'":  # X-Frame-Options cannot name other hosts; CSP rules where both are sent
        out["X-Frame-Options"] = "SAMEORIGIN"
    return out
_SKIP_REQUEST_HEADERS = {"authorization", "cookie", "content-type", "content-length", "host"}


def _service(request: Request) -> Service:
    return request.app.state.tensorboard  # type: ignore[no-any-return]


def _run_ids(ids: str, limit: int) -> list[str]:
    out = list(dict.fromkeys(x for x in ids.split(",") if x))
    bad = [x for x in out if not _RUN_ID.match(x)]
    if not out or bad:
        raise InvalidArgument(f"run ids are 1-64 letters, digits, '_' or '-', joined by commas; got {ids[:80]!r}")
    if len(out) > limit:
        raise InvalidArgument(f"at most {limit} runs in one TensorBoard view (RUNYARD_TENSORBOARD_MAX_RUNS); "
                              f"got {len(out)}")
    return out


async def _resolve(request: Request, entity: str, project: str, ids: list[str]) -> tuple[list[Any], dict[int, list[RemoteFile]]]:
    """The runs (id, run_id, name), in the order asked, and their event files, after the access check."""
    pool = request.app.state.pool
    async with pool.acquire() as conn:
        proj = await project_for_read(conn, await _who(request, conn), entity, project)
        rows = await q.runs_by_id(conn, int(proj["id"]), ids)
        found = {r["run_id"] for r in rows}
        missing = [x for x in ids if x not in found]
        if missing:
            raise NotFound(f"run {missing[0]} not found in {entity}/{project}")
        files: dict[int, list[RemoteFile]] = {int(r["id"]): [] for r in rows}
        for f in await q.event_files(conn, list(files)):
            files[int(f["run_pk"])].append(
                RemoteFile(f["path"][len(q.EVENT_PREFIX):], int(f["size"]), f["sha256"], f["key"]))
    return list(rows), files


async def _who(request: Request, conn: Any) -> Any:
    """The caller; every TensorBoard request only reads, so no CSRF token is involved."""
    return await authenticate_request(
        conn, method="GET", authorization=request.headers.get("authorization"),
        session_token=request.cookies.get(SESSION_COOKIE), cache=getattr(request.app.state, "key_cache", None),
    )


@router.get("/status/{entity}/{project}/{ids}")
async def status(request: Request, entity: str, project: str, ids: str) -> JSONResponse:
    """Which of these runs have TensorBoard event files, and where their TensorBoard is."""
    svc = _service(request)
    run_ids = _run_ids(ids, svc.settings.tensorboard_max_runs)
    rows, files = await _resolve(request, entity, project, run_ids)
    runs = [{"run_id": r["run_id"], "name": r["name"], "event_files": len(files[int(r["id"])]),
             "bytes": sum(f.size for f in files[int(r["id"])])} for r in rows]
    path = _view_path(entity, project, run_ids) + "/"
    return JSONResponse({"runs": runs, "path": path, "event_files": sum(r["event_files"] for r in runs)},
                        headers={"Cache-Control": "no-store"})


def _view_path(entity: str, project: str, run_ids: list[str]) -> str:
    e, p = quote(entity, safe=""), quote(project, safe="")
    if len(run_ids) == 1:
        return f"{PREFIX}/runs/{e}/{p}/{run_ids[0]}"
    return f"{PREFIX}/projects/{e}/{p}/{','.join(run_ids)}"


@router.api_route("/runs/{entity}/{project}/{run_id}", methods=_METHODS)
async def run_root(request: Request, entity: str, project: str, run_id: str) -> Response:
    _run_ids(run_id, 1)
    return _slash(request, entity, project, [run_id], single=True)


@router.api_route("/runs/{entity}/{project}/{run_id}/{rest:path}", methods=_METHODS)
async def run_view(request: Request, entity: str, project: str, run_id: str, rest: str) -> Response:
    return await _serve(request, entity, project, _run_ids(run_id, 1), rest, single=True)


@router.api_route("/projects/{entity}/{project}/{ids}", methods=_METHODS)
async def runs_root(request: Request, entity: str, project: str, ids: str) -> Response:
    return _slash(request, entity, project, _run_ids(ids, _service(request).settings.tensorboard_max_runs),
                  single=False)


@router.api_route("/projects/{entity}/{project}/{ids}/{rest:path}", methods=_METHODS)
async def runs_view(request: Request, entity: str, project: str, ids: str, rest: str) -> Response:
    run_ids = _run_ids(ids, _service(request).settings.tensorboard_max_runs)
    return await _serve(request, entity, project, run_ids, rest, single=False)


def _slash(request: Request, entity: str, project: str, run_ids: list[str], single: bool) -> Response:
    """TensorBoard's page must end in '/' (its assets and data URLs are relative)."""
    base = (f"{PREFIX}/runs/{quote(entity, safe='')}/{quote(project, safe='')}/{run_ids[0]}" if single
            else f"{PREFIX}/projects/{quote(entity, safe='')}/{quote(project, safe='')}/{','.join(run_ids)}")
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(base + "/" + query, status_code=307)


async def _serve(request: Request, entity: str, project: str, run_ids: list[str], rest: str, single: bool) -> Response:
    svc = _service(request)
    rest = _EXPERIMENT.sub("", rest, count=1)  # the frontend's /experiment/<id>/ prefix: the view is ours
    rows, files = await _resolve(request, entity, project, run_ids)
    if not any(files.values()):
        if rest in ("", "index.html"):
            return _no_event_files_page(rows, svc.settings)
        raise NotFound("no TensorBoard event files in " + ", ".join(r["run_id"] for r in rows))
    backend = await svc.backend()
    cache = svc.cache
    pks = [int(r["id"]) for r in rows]
    key = f"run:{pks[0]}" if single else "runs:" + ",".join(map(str, pks))
    labels = [None] if single else _labels(rows)
    view = backend.view(key, [ViewRun(pk, label, cache.run_dir(pk)) for pk, label in zip(pks, labels, strict=True)])
    body = await request.body()
    cache.pin(pks)
    try:
        if view.multiplexer is None or time.monotonic() - view.checked_at >= svc.settings.tensorboard_refresh_s:
            try:
                await asyncio.to_thread(_refresh, backend, cache, view, files, svc.settings.tensorboard_refresh_s)
            except CacheFull as exc:
                return _cache_full(str(exc), rest, svc.settings)
        script = _view_path(entity, project, run_ids)
        environ = _environ(request, body, script, "/" + rest)
        code, headers, content = await asyncio.to_thread(backend.call, view, environ)
    finally:
        cache.unpin(pks)
    return Response(content=content if request.method != "HEAD" else b"", status_code=code,
                    headers=_response_headers(headers, svc.settings))


def _refresh(backend: Backend, cache: EventCache, view: View, files: dict[int, list[RemoteFile]],
             refresh_s: float) -> None:
    """Bring the view's runs up to date in the cache and make TensorBoard read what changed."""
    with view.lock:
        if view.multiplexer is not None and time.monotonic() - view.checked_at < refresh_s:
            return  # another request did it meanwhile
        rebuild = view.multiplexer is None
        changed = rebuild
        for run in view.runs:
            result = cache.sync(run.run_pk, files.get(run.run_pk, []))
            rebuild = rebuild or result.replaced
            changed = changed or result.grown or result.replaced or result.downloaded > 0
        if changed:
            backend.load(view, rebuild)
        view.checked_at = time.monotonic()


def _labels(rows: list[Any]) -> list[str]:
    """TensorBoard run-name prefixes for a view of several runs: the run's name, with its id when two
    runs share a name; never a '/' (it would nest them)."""
    names = [str(r["name"] or r["run_id"]).replace("/", "_") for r in rows]
    return [n if names.count(n) == 1 else f"{n} ({r['run_id']})" for n, r in zip(names, rows, strict=True)]


def _environ(request: Request, body: bytes, script_name: str, path_info: str) -> dict[str, Any]:
    server = request.scope.get("server") or ("localhost", 80)
    env: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": request.url.query,
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers.items():
        if name not in _SKIP_REQUEST_HEADERS:  # credentials never reach TensorBoard
            env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def _response_headers(headers: list[tuple[str, str]], settings: Any) -> dict[str, str]:
    """TensorBoard's headers, less hop-by-hop ones and its framing rules; its HTML gets `page_policy`
    (the hardening middleware adds the rest, and `default-src 'none'` to everything that is not HTML)."""
    out: dict[str, str] = {}
    tensorboard_policy = ""
    for name, value in headers:
        if name.lower() == "content-security-policy":
            tensorboard_policy = value
        elif name.lower() not in _DROP_HEADERS:
            out[name] = value
    ctype = next((v for n, v in out.items() if n.lower() == "content-type"), "")
    if ctype.startswith("text/html"):
        out.update(_page_headers(settings, tensorboard_policy))
    return out


def _page(title: str, body_html: str, settings: Any, status_code: int = 200) -> HTMLResponse:
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px/1.5 system-ui,sans-serif;color:#222;margin:2rem;max-width:46rem}}
code,pre{{background:#f3f4f6;border-radius:4px;padding:.1rem .3rem}}pre{{padding:.6rem}}</style></head>
<body>{body_html}</body></html>"""
    return HTMLResponse(page, status_code=status_code, headers={**_page_headers(settings), "Cache-Control": "no-store"})


def _no_event_files_page(rows: list[Any], settings: Any) -> HTMLResponse:
    which = ", ".join(html.escape(str(r["name"] or r["run_id"])) for r in rows)
    return _page("No TensorBoard event files", f"""<h2>No TensorBoard event files</h2>
<p>{'This run has' if len(rows) == 1 else 'These runs have'} no TensorBoard event files ({which}).
TensorBoard shows what a script writes with a TensorBoard writer when the run syncs it:</p>
<pre>run = runyard.init(project="...", sync_tensorboard=True)
writer = torch.utils.tensorboard.SummaryWriter()   # or tensorboardX.SummaryWriter()
writer.add_scalar("loss", loss, global_step=step)</pre>
<p>Existing event-file folders can be imported: <code>runyard import tensorboard LOGDIR --project P</code>.
See docs/tensorboard.md.</p>""", settings)


def _cache_full(message: str, rest: str, settings: Any) -> Response:
    if rest in ("", "index.html"):
        return _page("TensorBoard cache full", f"<h2>These runs do not fit</h2><p>{html.escape(message)}</p>",
                     settings, 507)
    return JSONResponse({"detail": message, "code": "resource_exhausted"}, status_code=507)
