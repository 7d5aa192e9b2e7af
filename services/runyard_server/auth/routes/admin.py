"""Instance administration: users, settings (open sign-up) and the audit log. Instance admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from ...common import audit
from ...common.formats import iso
from ...common.limits import AUDIT_EVENT_FILTER_MAX
from ...common.security import hash_password
from .. import admin
from ..deps import AddressDep, KeyCacheDep, PoolDep, PrincipalDep, SettingsDep
from ..queries.users import list_users
from ..schemas import (
    ERROR_RESPONSES,
    AdminUserIn,
    AdminUserPatch,
    AuditPage,
    InstanceSettings,
    InstanceSettingsPatch,
    SignupOut,
    UserList,
    UserOut,
)
from ..validation import check_password, check_username

router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES)


@router.get("/api/v1/admin/users", response_model=UserList)
async def users(who: PrincipalDep, pool: PoolDep) -> dict[str, object]:
    admin.require_instance_admin(who)
    async with pool.acquire() as conn:
        rows = await list_users(conn)
    return {"users": [{**{k: r[k] for k in ("username", "email", "is_admin", "disabled", "is_service",
                                             "service_team")}, "created_at": iso(r["created_at"])} for r in rows]}


@router.post("/api/v1/admin/users", status_code=201, response_model=SignupOut)
async def create_user(body: AdminUserIn, who: PrincipalDep, pool: PoolDep, address: AddressDep) -> dict[str, str]:
    """Sign-up by an admin: a user (with a password, or API-key only) and its first key (shown once)."""
    admin.require_instance_admin(who)
    check_username(body.username)
    password_hash = await run_in_threadpool(hash_password, check_password(body.password)) if body.password else None
    async with pool.acquire() as conn, conn.transaction():
        key = await admin.create_user(conn, who, body.username, password_hash, is_admin=body.is_admin,
                                      email=admin.check_email(body.email) if body.email else None,
                                      address=address)
    return {"username": body.username, "api_key": key.api_key}


@router.patch("/api/v1/admin/users/{username}", response_model=UserOut)
async def patch_user(username: str, body: AdminUserPatch, who: PrincipalDep, pool: PoolDep, cache: KeyCacheDep,
                     address: AddressDep) -> dict[str, object]:
    """Disable/enable a user or grant/take instance admin; its cached keys are dropped at once."""
    admin.require_instance_admin(who)
    async with pool.acquire() as conn, conn.transaction():
        hashes = await admin.set_user_flags(conn, who, username, disabled=body.disabled, is_admin=body.is_admin,
                                            address=address)
        row = next(r for r in await list_users(conn) if r["username"] == username)
    if cache is not None:
        await cache.invalidate(hashes)
    return {**{k: row[k] for k in ("username", "email", "is_admin", "disabled", "is_service", "service_team")},
            "created_at": iso(row["created_at"])}


async def _instance_settings(conn: Any, settings: Any) -> dict[str, bool]:
    return {"open_signup": await admin.open_signup(conn, settings.open_signup),
            "team_admin_invites": await admin.team_admin_invites(conn, settings.team_admin_invites)}


@router.get("/api/v1/admin/settings", response_model=InstanceSettings)
async def get_settings(who: PrincipalDep, pool: PoolDep, settings: SettingsDep) -> dict[str, bool]:
    admin.require_instance_admin(who)
    async with pool.acquire() as conn:
        return await _instance_settings(conn, settings)


@router.patch("/api/v1/admin/settings", response_model=InstanceSettings)
async def patch_settings(body: InstanceSettingsPatch, who: PrincipalDep, pool: PoolDep, settings: SettingsDep,
                         address: AddressDep) -> dict[str, bool]:
    """`open_signup`: anyone may sign up without an invite. `team_admin_invites`: team admins may invite new
    accounts into their teams while sign-up is closed (instance admins always may)."""
    admin.require_instance_admin(who)
    async with pool.acquire() as conn, conn.transaction():
        if body.open_signup is not None:
            await admin.set_open_signup(conn, who, body.open_signup, address)
        if body.team_admin_invites is not None:
            await admin.set_team_admin_invites(conn, who, body.team_admin_invites, address)
        return await _instance_settings(conn, settings)


@router.get("/api/v1/admin/audit", response_model=AuditPage)
async def audit_log(
    who: PrincipalDep, pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="events older than this id")] = None,
    event: Annotated[str | None, Query(max_length=AUDIT_EVENT_FILTER_MAX, description="an event name or its prefix, e.g. `login`")]
    = None,
) -> dict[str, object]:
    """Security events, newest first (logins, key, role, password and settings changes)."""
    admin.require_instance_admin(who)
    async with pool.acquire() as conn:
        rows = await audit.read(conn, limit=limit, before_id=before, event=event or None)
    events = [{"id": r["id"], "at": iso(r["at"]), "event": r["event"], "actor": r["actor"], "target": r["target"],
               "address": r["address"], "detail": r["detail"]} for r in rows]
    return {"events": events, "next_before": events[-1]["id"] if len(events) == limit else None}
