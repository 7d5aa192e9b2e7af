"""OIDC single sign-on: `GET /api/v1/auth/oidc` (is it on?), `/oidc/login` (to the provider) and
`/oidc/callback` (back, signed in). See auth/oidc.py."""

from __future__ import annotations

import hmac
import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from ...common import audit
from ...common.errors import NotFound, PermissionDenied, Unauthenticated
from ...common.limits import OIDC_PARAM_MAX
from ...common.names import RESERVED_ENTITY_NAMES
from ...common.verifier import token_hash
from .. import admin
from ..cookies import new_session_tokens, set_session_cookies
from ..deps import AddressDep, PoolDep, SessionTTLDep, SettingsDep
from ..oidc import OidcClient, username_for
from ..queries.sessions import create_session
from ..queries.users import entity_exists, user_by_email
from ..schemas import ERROR_RESPONSES, OidcInfo

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)

OIDC_COOKIE = "runyard_oidc"
OidcParam = Annotated[str | None, Query(max_length=OIDC_PARAM_MAX)]
_CALLBACK = "/api/v1/auth/oidc/callback"


def _client(request: Request) -> OidcClient:
    client: OidcClient = request.app.state.oidc
    if not client.enabled:
        raise NotFound("single sign-on is not configured (RUNYARD_OIDC_ISSUER)")
    return client


def _redirect_uri(request: Request, settings: object) -> str:
    configured = getattr(settings, "oidc_redirect_url", "")
    return configured or str(request.url.replace(path=_CALLBACK, query=""))


def _safe_next(path: str | None) -> str:
    """Only a local path (no scheme, no `//host`): never an open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


@router.get("/api/v1/auth/oidc", response_model=OidcInfo)
async def oidc_info(request: Request) -> dict[str, object]:
    """Whether single sign-on is on, and where the UI's "Sign in with SSO" button points."""
    enabled = request.app.state.oidc.enabled
    return {"enabled": enabled, "login_url": "/api/v1/auth/oidc/login" if enabled else None}


@router.get("/api/v1/auth/oidc/login", status_code=302, response_class=RedirectResponse)
async def oidc_login(request: Request, settings: SettingsDep, next: OidcParam = None) -> RedirectResponse:
    client = _client(request)
    url, pending = await client.authorization_url(_redirect_uri(request, settings), _safe_next(next))
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(OIDC_COOKIE, json.dumps([pending.state, pending.nonce, pending.next_path]), max_age=600,
                        path="/api/v1/auth/oidc", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https" or settings.secure_cookies)
    return response


@router.get("/api/v1/auth/oidc/callback", status_code=302, response_class=RedirectResponse)
async def oidc_callback(request: Request, pool: PoolDep, settings: SettingsDep, ttl: SessionTTLDep,
                        address: AddressDep, code: OidcParam = None, state: OidcParam = None,
                        error: OidcParam = None) -> RedirectResponse:
    client = _client(request)
    if error:
        raise Unauthenticated(f"the identity provider refused the sign-in: {error[:200]}")
    try:
        want_state, nonce, next_path = json.loads(request.cookies.get(OIDC_COOKIE, ""))
    except (ValueError, TypeError):
        raise Unauthenticated("the sign-in took too long or started elsewhere; please start again") from None
    if not code or not state or not hmac.compare_digest(str(want_state).encode(), state.encode()):
        raise Unauthenticated("the sign-in state does not match; please start again")
    email = await client.email_from_code(code, _redirect_uri(request, settings), str(nonce))
    session_token, csrf = new_session_tokens()
    async with pool.acquire() as conn, conn.transaction():
        user = await user_by_email(conn, email)
        if user is None:
            if not settings.oidc_auto_create:
                await audit.record(conn, "login.failure", actor_name=email, target=email, address=address,
                                   detail={"reason": "no user with this email", "via": "oidc"})
                raise PermissionDenied("no account uses this email address; ask an admin")
            name, n = username_for(email), 1
            base = name
            while name in RESERVED_ENTITY_NAMES or await entity_exists(conn, name):
                n += 1
                name = f"{base}{n}"
            await admin.create_user(conn, None, name, None, email=email, key_name="", address=address,
                                    event="signup")
            user = await user_by_email(conn, email)
            assert user is not None
        if user["disabled"] or user["is_service"]:
            raise Unauthenticated("this account may not sign in")
        await create_session(conn, user["id"], token_hash(session_token), token_hash(csrf), ttl,
                             request.headers.get("user-agent", ""))
        await audit.record(conn, "login.success", actor_name=user["username"], target=user["username"],
                           address=address, detail={"via": "oidc"})
    response = RedirectResponse(_safe_next(str(next_path)), status_code=302)
    set_session_cookies(response, request, session_token, csrf, ttl)
    response.delete_cookie(OIDC_COOKIE, path="/api/v1/auth/oidc")
    return response
