"""Teams, members with roles, service accounts; and `GET /api/v1/entities`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ...common.errors import NotFound
from ...common.formats import iso
from .. import admin
from ..deps import AddressDep, KeyCacheDep, PoolDep, PrincipalDep
from ..queries import keys as qk
from ..queries.teams import entities_of
from ..schemas import (
    ERROR_RESPONSES,
    EntityList,
    KeyIn,
    KeyList,
    MemberIn,
    MemberList,
    NewKeyOut,
    ServiceAccountIn,
    SignupOut,
    TeamIn,
    TeamOut,
)

router = APIRouter(tags=["teams"], responses=ERROR_RESPONSES)


@router.get("/api/v1/entities", response_model=EntityList)
async def entities(who: PrincipalDep, pool: PoolDep) -> dict[str, object]:
    """The caller's own entity and its teams, with its role and what it may do there."""
    async with pool.acquire() as conn:
        rows = await entities_of(conn, who.user_id, who.is_admin)
    out = []
    for r in rows:
        role = "owner" if who.is_admin and r["role"] is None else r["role"]
        if who.is_admin and r["kind"] == "team":
            role = "owner" if r["role"] in (None, "admin") else r["role"]
            manage = write = True
        else:
            write = role in ("owner", "admin", "member")
            manage = role in ("owner", "admin")
        out.append({"name": r["name"], "kind": r["kind"], "role": role, "can_write": write, "can_manage": manage})
    return {"entities": out}


@router.post("/api/v1/teams", status_code=201, response_model=TeamOut)
async def create_team(body: TeamIn, who: PrincipalDep, pool: PoolDep, address: AddressDep) -> dict[str, str]:
    """A new team; the caller becomes its admin. Team names share the namespace of usernames."""
    async with pool.acquire() as conn, conn.transaction():
        await admin.create_team(conn, who, body.name, address=address)
    return {"name": body.name, "role": "admin"}


@router.get("/api/v1/teams/{team}/members", response_model=MemberList)
async def members(team: str, who: PrincipalDep, pool: PoolDep) -> dict[str, object]:
    """Members with their roles: visible to the team's members (any role) and instance admins."""
    async with pool.acquire() as conn:
        rows = await admin.members(conn, who, team)
    return {"members": [{"username": r["username"], "role": r["role"], "is_service": r["is_service"],
                         "added_at": iso(r["created_at"])} for r in rows]}


@router.post("/api/v1/teams/{team}/members", response_model=MemberList)
async def set_member(team: str, body: MemberIn, who: PrincipalDep, pool: PoolDep,
                     address: AddressDep) -> dict[str, object]:
    """Add a member or change its role (team admins, instance admins); answers the member list."""
    async with pool.acquire() as conn, conn.transaction():
        await admin.set_member(conn, who, team, body.username, body.role, address)
        rows = await admin.members(conn, who, team)
    return {"members": [{"username": r["username"], "role": r["role"], "is_service": r["is_service"],
                         "added_at": iso(r["created_at"])} for r in rows]}


@router.delete("/api/v1/teams/{team}/members/{username}", status_code=204)
async def remove_member(team: str, username: str, who: PrincipalDep, pool: PoolDep, address: AddressDep) -> Response:
    """Remove a member (team admins, instance admins); a team keeps at least one admin."""
    async with pool.acquire() as conn, conn.transaction():
        await admin.remove_member(conn, who, team, username, address)
    return Response(status_code=204)


@router.post("/api/v1/teams/{team}/service-accounts", status_code=201, response_model=SignupOut)
async def create_service_account(team: str, body: ServiceAccountIn, who: PrincipalDep, pool: PoolDep,
                                 address: AddressDep) -> dict[str, str]:
    """A password-less member of the team for CI; its runs go to the team by default. The key is shown once."""
    async with pool.acquire() as conn, conn.transaction():
        key = await admin.create_service_account(conn, who, team, body.name, body.role, address)
    return {"username": body.name, "api_key": key.api_key}


def _key_json(r: Any) -> dict[str, object]:
    return {"id": r["id"], "prefix": r["prefix"], "name": r["name"], "created_at": iso(r["created_at"]),
            "last_used_at": iso(r["last_used_at"])}


@router.get("/api/v1/teams/{team}/service-accounts/{name}/keys", response_model=KeyList)
async def service_account_keys(team: str, name: str, who: PrincipalDep, pool: PoolDep) -> dict[str, object]:
    """Live keys of a service account (team admins): for rotation in CI."""
    async with pool.acquire() as conn:
        sa = await admin.service_account_for_manage(conn, who, team, name)
        rows = await qk.list_keys(conn, sa["id"])
    return {"keys": [_key_json(r) for r in rows]}


@router.post("/api/v1/teams/{team}/service-accounts/{name}/keys", status_code=201, response_model=NewKeyOut)
async def create_service_account_key(team: str, name: str, body: KeyIn, who: PrincipalDep, pool: PoolDep,
                                     address: AddressDep) -> dict[str, object]:
    """Another key for a service account (shown once)."""
    async with pool.acquire() as conn, conn.transaction():
        sa = await admin.service_account_for_manage(conn, who, team, name)
        key = await admin.create_key(conn, who, sa["id"], body.name, address=address)
    return {"id": key.id, "prefix": key.prefix, "name": key.name, "api_key": key.api_key}


@router.delete("/api/v1/teams/{team}/service-accounts/{name}/keys/{key_id}", status_code=204)
async def revoke_service_account_key(team: str, name: str, key_id: int, who: PrincipalDep, pool: PoolDep,
                                     cache: KeyCacheDep, address: AddressDep) -> Response:
    """Revoke a key of a service account; it stops working at once (HTTP) and within 2 s (ingest)."""
    async with pool.acquire() as conn, conn.transaction():
        sa = await admin.service_account_for_manage(conn, who, team, name)
        row = await qk.key_row(conn, key_id) if -2**63 <= key_id < 2**63 else None
        if row is None or row["user_id"] != sa["id"] or row["revoked_at"] is not None:
            raise NotFound("API key not found")
        key_hash = await admin.revoke_key(conn, who, row, address, allowed=True)
    if key_hash is not None and cache is not None:
        await cache.invalidate([key_hash])
    return Response(status_code=204)
