"""`POST /api/v1/auth/signup`: the first admin of a fresh instance, then by invite or open sign-up.

`POST /api/v1/auth/invites` makes invite tokens (instance admins; team admins for their team).
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ...common.errors import AlreadyExists, PermissionDenied
from ...common.formats import iso
from ...common.security import hash_password
from ...common.verifier import token_hash
from .. import admin
from ..cookies import new_session_tokens, set_session_cookies
from ..deps import AddressDep, PoolDep, PrincipalDep, SessionTTLDep, SettingsDep
from ..queries.invites import claim_invite, mark_used
from ..queries.sessions import create_session
from ..queries.teams import set_member
from ..queries.users import any_user_exists, lock_signup, user_by_name
from ..schemas import ERROR_RESPONSES, InviteIn, InviteOut, SignupIn, SignupOut
from ..validation import check_password, check_username

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)

_CLOSED = (
    "sign-up is closed: this server already has an admin account; "
    "ask an admin for an invite link or an account, or log in"
)
_BAD_INVITE = "this invite is not valid: it is unknown, used or expired; ask an admin for a new one"
_REVOKED_INVITE = (
    "this invite is no longer valid: the team admin who made it may no longer invite new accounts; "
    "ask an instance admin for an invite"
)


@router.post("/api/v1/auth/signup", status_code=201, response_model=SignupOut)
async def signup(
    body: SignupIn, request: Request, response: Response, pool: PoolDep, ttl: SessionTTLDep,
    settings: SettingsDep, address: AddressDep,
) -> dict[str, str]:
    """Create an account and its first API key (shown once); the browser is signed in too.

    On a fresh instance the first account becomes the admin. Afterwards an `invite` token is needed,
    unless an admin turned open sign-up on; otherwise 403.
    """
    username = check_username(body.username)
    password = check_password(body.password)
    async with pool.acquire() as conn:
        first = not await any_user_exists(conn)
        # cheap refusal before the (deliberately slow) hash
        if not first and not body.invite and not await admin.open_signup(conn, settings.open_signup):
            raise PermissionDenied(_CLOSED)
    password_hash = await run_in_threadpool(hash_password, password)
    session_token, csrf = new_session_tokens()
    async with pool.acquire() as conn, conn.transaction():
        await lock_signup(conn)
        first = not await any_user_exists(conn)
        invite = None
        if not first:
            if body.invite:
                invite = await claim_invite(conn, token_hash(body.invite))
                if invite is None:
                    raise PermissionDenied(_BAD_INVITE)
                if not await admin.invite_still_allowed(conn, invite, open_default=settings.open_signup,
                                                        team_default=settings.team_admin_invites):
                    raise PermissionDenied(_REVOKED_INVITE)
            elif not await admin.open_signup(conn, settings.open_signup):
                raise PermissionDenied(_CLOSED)
        try:
            key = await admin.create_user(conn, None, username, password_hash, is_admin=first, address=address,
                                          event="signup")
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"the name {username!r} is taken") from None
        user = await user_by_name(conn, username)
        assert user is not None
        if invite is not None:
            await mark_used(conn, invite["id"], user["id"])
            if invite["team_id"] is not None:
                await set_member(conn, invite["team_id"], user["id"], invite["role"] or "member")
        await create_session(conn, user["id"], token_hash(session_token), token_hash(csrf), ttl,
                             request.headers.get("user-agent", ""))
    set_session_cookies(response, request, session_token, csrf, ttl)
    return {"username": username, "api_key": key.api_key}


@router.post("/api/v1/auth/invites", status_code=201, response_model=InviteOut)
async def create_invite(body: InviteIn, who: PrincipalDep, pool: PoolDep, settings: SettingsDep,
                        address: AddressDep) -> dict[str, str | None]:
    """An invite token for `signup` (single use, expires after RUNYARD_INVITE_TTL_S). Instance admins
    invite anyone; team admins invite into their team (`team`, with `role`) while sign-up is open or an
    instance admin allowed team admins to invite (`team_admin_invites`); otherwise 403."""
    async with pool.acquire() as conn, conn.transaction():
        token, expires = await admin.create_invite(conn, who, timedelta(seconds=settings.invite_ttl_s),
                                                   team=body.team, role=body.role, address=address,
                                                   open_default=settings.open_signup,
                                                   team_default=settings.team_admin_invites)
    return {"token": token, "expires_at": iso(expires)}
