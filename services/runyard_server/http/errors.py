"""HTTP error mapping: every error leaves as `{"detail", "code"}`.

Domain errors (`common.errors.RunyardError`) carry their own status (401 adds `WWW-Authenticate:
Bearer`, 429 adds `Retry-After`); request-shape errors from FastAPI become 422 `invalid_argument` with
one readable line; text PostgreSQL cannot store (NUL characters, lone UTF-16 surrogates) is a 400
wherever it reaches a query; anything unexpected becomes a 500 without a traceback in the body.
"""

from __future__ import annotations

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..common.errors import RunyardError, TooManyRequests, http_status

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
               404: "not_found", 405: "method_not_allowed", 409: "already_exists",
               413: "resource_exhausted", 422: "invalid_argument", 429: "rate_limited"}


def error_body(detail: str, code: str) -> dict[str, str]:
    return {"detail": detail, "code": code}


def describe_validation_error(exc: RequestValidationError) -> str:
    """One line per problem, e.g. `body.password: Field required`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RunyardError)
    async def _domain(_: Request, exc: RunyardError) -> JSONResponse:
        headers = None
        if exc.http == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(error_body(exc.message, exc.code), status_code=http_status(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(describe_validation_error(exc), "invalid_argument"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "error")
        return JSONResponse(error_body(str(exc.detail), code), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    async def _nul(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body("text may not contain NUL characters", "invalid_argument"), status_code=400)

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
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal server error", "internal"), status_code=500)
