"""Browser sessions: `POST /api/v1/auth/login` and `POST /api/v1/auth/logout`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ...common import audit
from ...common.errors import TooManyRequests, Unauthenticated
from ...common.security import verify_password
from ...common.verifier import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, authenticate_request, token_hash
from ..cookies import clear_session_cookies, new_session_tokens, set_session_cookies
from ..deps import AddressDep, LimiterDep, PoolDep, SessionTTLDep
from ..device import device_for, set_device_cookie
from ..metrics import LOGINS
from ..queries.sessions import create_session, delete_expired_sessions, delete_session
from ..queries.users import user_for_login, viewer
from ..schemas import ERROR_RESPONSES, Credentials, ViewerOut

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)

_WRONG = "wrong username or password"


@router.post("/api/v1/auth/login", response_model=ViewerOut)
async def login(
    body: Credentials, request: Request, response: Response, pool: PoolDep, ttl: SessionTTLDep,
    limiter: LimiterDep, address: AddressDep,
) -> dict[str, object]:
    """Check the password and start a session: sets `runyard_session` (HttpOnly) and `runyard_csrf`.

    A wrong username and a wrong password answer the same 401, after the same amount of work. Failed
    logins slow down further tries of the account (a browser that signed in before is spared) and, past a
    limit, of the address: 429 with Retry-After (docs/security.md).
    """
    username = body.username.strip().lower()[:64]
    async with pool.acquire() as conn:
        row = await user_for_login(conn, username) if len(body.username.strip()) <= 64 else None
    stored = row["password_hash"] if row is not None else None
    device = device_for(request, row["id"] if row is not None else None, stored)
    try:
        await limiter.check(username, address, device)
    except TooManyRequests as exc:
        LOGINS.labels("rate_limited").inc()
        refusal = getattr(exc, "refusal", None)
        if refusal is not None and refusal.first:  # one audit event per window, so a flood cannot fill the log
            async with pool.acquire() as conn:
                await audit.record(conn, "login.rate_limited", actor_name=username,
                                   target=username if refusal.by == "account" else address,
                                   address=address, detail={"by": refusal.by})
        raise
    ok = await run_in_threadpool(verify_password, body.password[:4096], stored)
    if not ok or row is None or row["disabled"]:
        # a disabled account answers like a wrong password: no hint about which accounts exist
        LOGINS.labels("failure" if not ok or row is None else "disabled").inc()
        await limiter.failure(device)
        async with pool.acquire() as conn:
            await audit.record(conn, "login.failure", actor_name=username, target=username, address=address,
                               detail={"reason": "disabled" if ok and row is not None else "wrong credentials"})
        raise Unauthenticated(_WRONG)
    await limiter.success(username, address, device)
    session_token, csrf = new_session_tokens()
    async with pool.acquire() as conn, conn.transaction():
        await delete_expired_sessions(conn, row["id"])
        await create_session(conn, row["id"], token_hash(session_token), token_hash(csrf), ttl,
                             request.headers.get("user-agent", ""))
        me = await viewer(conn, row["id"])
        await audit.record(conn, "login.success", actor_name=row["username"], target=row["username"],
                           address=address)
    assert me is not None
    LOGINS.labels("success").inc()
    set_session_cookies(response, request, session_token, csrf, ttl)
    set_device_cookie(response, request, row["id"], row["password_hash"])
    return {"username": me["username"], "entity": me["entity"], "is_admin": me["is_admin"]}


@router.post("/api/v1/auth/logout", status_code=204)
async def logout(request: Request, pool: PoolDep, address: AddressDep) -> Response:
    """End the browser session and clear its cookies (needs the CSRF header while the session lives)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with pool.acquire() as conn:
            try:
                who = await authenticate_request(
                    conn, method=request.method, authorization=None, session_token=token,
                    csrf_cookie=request.cookies.get(CSRF_COOKIE), csrf_header=request.headers.get(CSRF_HEADER),
                )
            except Unauthenticated:
                who = None  # expired or already signed out: only the cookies are left to clear
            if who is not None and who.session_id is not None:
                await delete_session(conn, who.session_id)
                await audit.record(conn, "logout", actor=who, target=who.username, address=address)
    response = Response(status_code=204)
    clear_session_cookies(response, request)
    return response
