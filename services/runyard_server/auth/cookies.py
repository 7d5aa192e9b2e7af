"""The two browser cookies of a session.

`runyard_session`: the session token; HttpOnly, SameSite=Lax, so scripts cannot read it and other sites'
forms do not carry it on POST. `runyard_csrf`: readable by the UI's script, which echoes it in the
`X-CSRF-Token` header on state-changing requests (double-submit; the server also checks it against the
hash stored with the session). Both are Secure when the request came over https or when
`RUNYARD_SECURE_COOKIES=true` (TLS ended at a proxy).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import Request, Response

from ..common.verifier import CSRF_COOKIE, SESSION_COOKIE


def new_session_tokens() -> tuple[str, str]:
    """(session token, CSRF token): 32 random bytes each."""
    return secrets.token_urlsafe(32), secrets.token_urlsafe(32)


def _secure(request: Request) -> bool:
    settings = getattr(request.app.state, "settings", None)
    return request.url.scheme == "https" or bool(getattr(settings, "secure_cookies", False))


def set_session_cookies(
    response: Response, request: Request, token: str, csrf: str, ttl: timedelta
) -> None:
    max_age = int(ttl.total_seconds())
    secure = _secure(request)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", httponly=False,
                        samesite="lax", secure=secure)


def clear_session_cookies(response: Response, request: Request) -> None:
    secure = _secure(request)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    response.delete_cookie(CSRF_COOKIE, path="/", httponly=False, samesite="lax", secure=secure)
