"""`POST /api/v1/auth/signup`: the first user of a fresh instance becomes its admin."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ...common.errors import AlreadyExists, PermissionDenied
from ...common.security import hash_password, new_api_key
from ...common.verifier import token_hash
from ..cookies import new_session_tokens, set_session_cookies
from ..deps import PoolDep, SessionTTLDep
from ..queries.sessions import create_session
from ..queries.users import any_user_exists, create_api_key, create_user, lock_signup
from ..schemas import ERROR_RESPONSES, Credentials, SignupOut
from ..validation import check_password, check_username

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)

_CLOSED = (
    "sign-up is closed: this server already has an admin account; "
    "ask an admin for an account, or log in"
)


@router.post("/api/v1/auth/signup", status_code=201, response_model=SignupOut)
async def signup(
    body: Credentials, request: Request, response: Response, pool: PoolDep, ttl: SessionTTLDep
) -> dict[str, str]:
    """On a fresh instance: create the admin, its entity and a first API key (shown once).

    The browser is signed in too (session cookies). Afterwards: 403.
    """
    username = check_username(body.username)
    password = check_password(body.password)
    async with pool.acquire() as conn:
        if await any_user_exists(conn):  # cheap refusal before the (deliberately slow) hash
            raise PermissionDenied(_CLOSED)
    password_hash = await run_in_threadpool(hash_password, password)
    api_key, prefix, key_hash = new_api_key()
    session_token, csrf = new_session_tokens()
    async with pool.acquire() as conn, conn.transaction():
        await lock_signup(conn)
        if await any_user_exists(conn):
            raise PermissionDenied(_CLOSED)
        try:
            user_id = await create_user(conn, username, password_hash, is_admin=True)
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"the name {username!r} is taken") from None
        await create_api_key(conn, user_id, prefix, key_hash, name="first key")
        await create_session(conn, user_id, token_hash(session_token), token_hash(csrf), ttl,
                             request.headers.get("user-agent", ""))
    set_session_cookies(response, request, session_token, csrf, ttl)
    return {"username": username, "api_key": api_key}
