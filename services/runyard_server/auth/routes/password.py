"""`POST /api/v1/auth/password` (own password) and the admin reset."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from ...common import audit
from ...common.errors import FailedPrecondition, PermissionDenied
from ...common.security import hash_password, verify_password
from .. import admin
from ..deps import AddressDep, PoolDep, PrincipalDep
from ..queries.sessions import delete_user_sessions
from ..queries.users import set_password, user_for_login
from ..schemas import ERROR_RESPONSES, PasswordChangeIn, PasswordResetIn, PasswordResetOut
from ..validation import check_password

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/api/v1/auth/password", status_code=204)
async def change_password(body: PasswordChangeIn, who: PrincipalDep, pool: PoolDep, address: AddressDep) -> Response:
    """Change the caller's password (the current one is needed). Every other session ends."""
    new = check_password(body.new_password)
    async with pool.acquire() as conn:
        row = await user_for_login(conn, who.username)
    if row is None or row["password_hash"] is None:
        raise FailedPrecondition("this account has no password (a service account or single sign-on user)")
    if not await run_in_threadpool(verify_password, body.current_password[:4096], row["password_hash"]):
        raise PermissionDenied("the current password is wrong")
    new_hash = await run_in_threadpool(hash_password, new)
    async with pool.acquire() as conn, conn.transaction():
        await set_password(conn, who.user_id, new_hash)
        ended = await delete_user_sessions(conn, who.user_id, keep_session_id=who.session_id)
        await audit.record(conn, "password.change", actor=who, target=who.username, address=address,
                           detail={"sessions_ended": ended})
    return Response(status_code=204)


@router.post("/api/v1/admin/users/{username}/password-reset", response_model=PasswordResetOut)
async def reset_password(username: str, who: PrincipalDep, pool: PoolDep, address: AddressDep,
                         body: PasswordResetIn | None = None) -> dict[str, str]:
    """Instance admins: set a user's password (given, or a temporary one shown once); every session of
    that user ends. API keys keep working."""
    admin.require_instance_admin(who)
    password = check_password(body.password) if body and body.password else admin.temporary_password()
    password_hash = await run_in_threadpool(hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        await admin.reset_password(conn, who, username, password_hash, address)
    return {"username": username, "password": password}
