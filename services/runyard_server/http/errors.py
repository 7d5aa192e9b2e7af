"""HTTP error mapping: every error leaves as `{"detail", "code"}` (plus `request_id` on a 500).

Domain errors (`common.errors.RunyardError`) carry their own status (401 adds `WWW-Authenticate:
Bearer`, 429 and 503 add `Retry-After`); request-shape errors from FastAPI become 422
`invalid_argument` with one readable line. Exceptions of the dependencies are translated by the ONE
table in `common.errors.domain_error`, which the gRPC ingest service uses too:
  - PostgreSQL, Redis or the bucket away, restarting or overloaded -> 503 `unavailable` + Retry-After;
  - values PostgreSQL cannot store (NUL characters, lone surrogates, numbers out of range; SQLSTATE
    class 22) -> 400 `invalid_argument`.
Anything else is a bug: it is logged with its traceback and the request id, and answers 500 with that
request id (no traceback in the body).

`install_error_handlers(app)` also installs the request-id middleware (`requestlog.py`), which is the
last line of defence: an exception no handler took still answers JSON and is logged with the id.
"""

from __future__ import annotations

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..common.errors import RunyardError, domain_error, http_status, retry_after
from ..common.logs import REQUEST_ID, logger

log = logger("http")

_HTTP_CODES = {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
               404: "not_found", 405: "method_not_allowed", 409: "already_exists",
               413: "resource_exhausted", 422: "invalid_argument", 429: "rate_limited",
               503: "unavailable"}


def error_body(detail: str, code: str) -> dict[str, str]:
    return {"detail": detail, "code": code}


def describe_validation_error(exc: RequestValidationError) -> str:
    """One line per problem, e.g. `body.password: Field required`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def domain_response(exc: RunyardError) -> JSONResponse:
    headers = None
    if exc.http == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif (after := retry_after(exc)) is not None:
        headers = {"Retry-After": str(after)}
    return JSONResponse(error_body(exc.message, exc.code), status_code=http_status(exc), headers=headers)


def response_for(exc: BaseException, what: str) -> JSONResponse:
    """The answer to any exception: its domain error's, or a logged 500 naming the request id.
    `what` says where it happened (method and path) for the log line."""
    err = domain_error(exc)
    if err is not None:
        if err.http >= 500:
            log.warning("%s: %s (%s: %s)", what, err.message, type(exc).__name__, exc)
        return domain_response(err)
    rid = REQUEST_ID.get()
    log.error("unhandled error on %s", what, exc_info=(type(exc), exc, exc.__traceback__))
    body = error_body(f"internal server error (request id {rid}); the server log has the details"
                      if rid else "internal server error", "internal")
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, status_code=500)


def _foreign_exception_types() -> tuple[type[Exception], ...]:
    """Exception bases of the dependencies that `domain_error` knows how to translate."""
    types: list[type[Exception]] = [asyncpg.PostgresError, asyncpg.InterfaceError, OSError,
                                        UnicodeEncodeError]
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        types += [BotoCoreError, ClientError]
    except ImportError:  # pragma: no cover - boto3 is a dependency of the server
        pass
    try:
        from redis.exceptions import RedisError

        types.append(RedisError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def install_error_handlers(app: FastAPI) -> None:
    from .requestlog import RequestIdMiddleware

    @app.exception_handler(RunyardError)
    async def _domain(_: Request, exc: RunyardError) -> JSONResponse:
        return domain_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(describe_validation_error(exc), "invalid_argument"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "error")
        return JSONResponse(error_body(str(exc.detail), code), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    async def _foreign(request: Request, exc: Exception) -> JSONResponse:
        return response_for(exc, f"{request.method} {request.url.path}")

    for exc_type in _foreign_exception_types():
        app.add_exception_handler(exc_type, _foreign)

    @app.exception_handler(asyncpg.InvalidRegularExpressionError)
    async def _regex(_: Request, exc: Exception) -> JSONResponse:  # a `matches` filter PostgreSQL refuses
        return JSONResponse(error_body(f"filter: invalid regular expression ({exc})", "invalid_argument"),
                            status_code=400)

    @app.exception_handler(UnicodeEncodeError)
    async def _surrogates(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body("text must be valid Unicode (no lone surrogates)", "invalid_argument"),
                            status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return response_for(exc, f"{request.method} {request.url.path}")

    app.add_middleware(RequestIdMiddleware)
