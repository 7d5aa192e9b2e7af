"""App factory of the W&B compatibility service: `/graphql` and the file stream.

    POST /graphql                                          the W&B GraphQL API (schema.graphql)
    POST /files/{entity}/{project}/{run}/file_stream       history, system metrics, summary, console

The lifespan opens the upstream clients (REST over HTTP, or in process inside the local front door; a
gRPC channel to ingest) and closes them. Credentials: HTTP basic auth `api:<key>` as the wandb client
sends it (or `Bearer <key>`), passed on unchanged to the service that answers.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from runyard_proto.v1 import ingest_pb2 as pb

from .. import __version__
from ..common.errors import InvalidArgument, ResourceExhausted, RunyardError, TooManyRequests, Unauthenticated
from ..common.settings import Settings, SettingsError
from ..http import MetricsMiddleware, install_hardening, metrics_port
from . import filestream, gql
from .context import Ctx, q
from .manifests import ManifestCache
from .metrics import LATENCY, LINES, REQUESTS
from .resolvers.files import commit_uploaded
from .settings import WandbSettings
from .transport import BucketTransport, RoutedTransport
from .upstream import Unavailable, Upstream

__all__ = ["create_app", "owns_path"]

log = logging.getLogger("runyard.wandb")
MAX_GRAPHQL_BYTES = 16 * 1024 * 1024
_REALM = 'Basic realm="runyard", charset="UTF-8"'


def owns_path(path: str) -> bool:
    """The paths this app answers (the front door and the Ingress route them here)."""
    if path == "/graphql" or path.startswith("/files/_wandb/"):
        return True
    # ['', 'files', entity, project, run, 'file_stream' | a run file's path...]
    parts = path.split("/")
    return len(parts) >= 6 and parts[1] == "files" and all(parts[2:6])


def api_key(request: Request) -> str:
    """The key of `Authorization: Basic base64(api:<key>)` (what the wandb client sends) or `Bearer <key>`."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("no API key: run `wandb login --host <this server> <your Runyard API key>`")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, key = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise Unauthenticated("the Authorization header is not valid basic auth") from None
        key = key or user
    elif scheme.lower() == "bearer":
        key = value.strip()
    else:
        raise Unauthenticated("the Authorization header must be basic auth (api:<key>) or `Bearer <key>`")
    if not key:
        raise Unauthenticated("the API key is empty")
    return key


def _error(exc: RunyardError, graphql: bool = False) -> JSONResponse:
    headers: dict[str, str] = {}
    if exc.http == 401:
        headers["WWW-Authenticate"] = _REALM
    if isinstance(exc, (TooManyRequests, Unavailable)):
        headers["Retry-After"] = str(exc.retry_after)
    body: dict[str, Any] = {"errors": [{"message": exc.message, "extensions": {"code": exc.code}}]} if graphql \
        else {"error": exc.message, "code": exc.code}
    return JSONResponse(body, status_code=exc.http, headers=headers)


async def _body(request: Request, limit: int) -> Any:
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ResourceExhausted(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        import gzip

        try:
            raw = gzip.decompress(raw)
        except OSError:
            raise InvalidArgument("the request body is not valid gzip") from None
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise InvalidArgument("the request body is not valid JSON") from None


router = APIRouter()


@router.post("/graphql")
async def graphql_endpoint(request: Request) -> Response:
    up: Upstream = request.app.state.upstream
    try:
        key = api_key(request)
        data = await _body(request, MAX_GRAPHQL_BYTES)
    except RunyardError as exc:
        return _error(exc, graphql=True)
    ctx = Ctx(key, up, public_url=str(request.base_url).rstrip("/"), manifests=request.app.state.manifests)
    status, result, decisive = await gql.execute(data, ctx)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = _REALM
    if status == 503 and isinstance(decisive, Unavailable):
        headers["Retry-After"] = str(decisive.retry_after)
    return Response(json.dumps(result), status_code=status, headers=headers, media_type="application/json")


@router.post("/files/{entity}/{project}/{run_id}/file_stream")
async def file_stream(entity: str, project: str, run_id: str, request: Request) -> Response:
    """One file-stream request, written through ingest and committed before the answer (filestream.py)."""
    up: Upstream = request.app.state.upstream
    wandb: WandbSettings = request.app.state.wandb_settings
    try:
        key = api_key(request)
        req = filestream.parse_request(await _body(request, wandb.max_file_stream_bytes))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("file_stream %s/%s/%s %s", entity, project, run_id, req.describe())
        refused: list[str] = []

        def build(opened: pb.RunOpened) -> list[pb.Record]:
            built = filestream.build_records(req, opened)
            refused.extend(built.refused)
            return built.records

        written = await up.write(key, pb.OpenRun(entity=entity, project=project, run_id=run_id, resume="must"),
                                 build, heartbeat=True)
        refused.extend(written.rejected)
        for name, chunk in (("history", req.history), ("events", req.events), ("output", req.output)):
            if chunk is not None and chunk.content:
                LINES.labels(name, "ok").inc(len(chunk.content))
        if refused:
            LINES.labels("any", "refused").inc(len(refused))
            log.warning("file_stream %s/%s/%s: refused %d line(s): %s", entity, project, run_id, len(refused),
                        "; ".join(refused[:5]))
        if req.unknown_files:
            log.warning("file_stream %s/%s/%s: ignored unknown files %s", entity, project, run_id, req.unknown_files)
        if req.uploaded:
            await commit_uploaded(Ctx(key, up), entity, project, run_id, req.uploaded)
    except RunyardError as exc:
        return _error(exc)
    return JSONResponse({"exitcode": None, "limits": {}})


@router.get("/files/_wandb/manifests/{token}")
async def manifest(token: str, request: Request) -> Response:
    """An artifact manifest rendered for a download (manifests.py); the token is the credential."""
    body = await request.app.state.manifests.get(token)
    if body is None:
        return JSONResponse({"error": "this manifest link expired; ask for the artifact again", "code": "not_found"},
                            status_code=404)
    return Response(body, media_type="application/json", headers={"Cache-Control": "private, max-age=300"})


@router.get("/files/{entity}/{project}/{run_id}/{path:path}")
async def run_file(entity: str, project: str, run_id: str, path: str, request: Request) -> Response:
    """A run file at W&B's own URL for it (`File.url`): basic auth, then a redirect to the presigned URL.
    Clients send their key with this GET; the bucket never sees it (the redirect goes to another host)."""
    up: Upstream = request.app.state.upstream
    try:
        key = api_key(request)
        rec = await up.get(key, "/api/v1/runs/" + q(entity, project, run_id) + "/files/" + q(*path.split("/")))
    except RunyardError as exc:
        return _error(exc)
    return RedirectResponse(str(rec["url"]), status_code=307)


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Ready when ingest's channel connects and the REST services answer (on its own, each of auth, query
    and artifact at the URL it is configured with: a wrong one shows here, not on a user's first call)."""
    up: Upstream = request.app.state.upstream
    what = "query"
    try:
        await up.get("", "/api/v1/server-info")
        for name, base in request.app.state.rest_bases.items():
            what = name
            resp = await request.app.state.probe.get(base.rstrip("/") + "/healthz")
            if resp.status_code != 200:
                raise RuntimeError(f"/healthz answered {resp.status_code}")
        what = "ingest"
        await grpc_ready(up.ingest, timeout=2.0)
    except Exception as exc:  # not ready: say why
        detail = f"{what}: {str(exc) or type(exc).__name__}"[:300]
        return JSONResponse({"status": "unavailable", "detail": detail, "code": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def grpc_ready(channel: grpc.aio.Channel, timeout: float) -> None:
    import asyncio

    await asyncio.wait_for(channel.channel_ready(), timeout)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings, wandb: WandbSettings | None = None,
               upstream_app: Callable[[], Any] | None = None) -> FastAPI:
    """The app; `upstream_app` (the local front door) answers the REST calls in process."""
    wandb = wandb or WandbSettings()
    if upstream_app is None and not wandb.standalone_ready():
        raise SettingsError("invalid settings:\n  RUNYARD_WANDB_API_URL: required when the W&B client protocol "
                            "runs on its own (`runyard-server wandb`): the URL of the front door or Ingress "
                            "(or all three of RUNYARD_WANDB_AUTH_URL, _QUERY_URL and _ARTIFACT_URL)")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per upstream call otherwise
    log.setLevel(settings.log_level.upper())  # RUNYARD_LOG_LEVEL=DEBUG shows each file-stream request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(wandb.request_timeout_s)
        if upstream_app is not None:
            transport = httpx.ASGITransport(app=upstream_app(), raise_app_exceptions=False)
            http = httpx.AsyncClient(transport=transport, base_url="http://runyard.local", timeout=timeout)
        else:
            http = httpx.AsyncClient(transport=RoutedTransport(wandb.base_urls()), base_url="http://runyard.upstream",
                                     timeout=timeout, trust_env=False)
        channel = grpc.aio.insecure_channel(wandb.ingest_target(settings), options=[
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ])
        bucket_transport = None
        if settings.s3_endpoint and settings.s3_public_endpoint and settings.s3_public_endpoint != settings.s3_endpoint:
            bucket_transport = BucketTransport(settings.s3_public_endpoint, settings.s3_endpoint)
        bucket = httpx.AsyncClient(transport=bucket_transport, timeout=timeout, trust_env=False)
        app.state.upstream = Upstream(http, channel, bucket)
        # on its own, readiness probes each REST service's own URL (in process there is only the front door)
        app.state.rest_bases = {} if upstream_app is not None else wandb.base_urls()
        app.state.probe = httpx.AsyncClient(timeout=2.0, trust_env=False)
        app.state.manifests = ManifestCache(settings.redis_url)
        metrics_port.acquire(settings.http_host, settings.metrics_port)
        try:
            yield
        finally:
            metrics_port.release(settings.http_host, settings.metrics_port)
            await http.aclose()
            await bucket.aclose()
            await app.state.probe.aclose()
            await app.state.manifests.close()
            await channel.close(grace=settings.shutdown_grace_s or None)

    app = FastAPI(title="Runyard W&B compatibility", version=__version__, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.wandb_settings = wandb
    app.add_middleware(MetricsMiddleware, requests=REQUESTS, latency=LATENCY)
    app.include_router(router)
    # trusted proxies, request sizes, the /metrics guard and the security headers, as on every service;
    # the file stream's bodies may be larger than the query service's
    install_hardening(app, settings, body_max=max(settings.max_request_bytes, wandb.max_file_stream_bytes,
                                                  MAX_GRAPHQL_BYTES))
    return app
