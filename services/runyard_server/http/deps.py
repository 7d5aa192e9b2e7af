"""Dependency aliases: resources opened by the lifespan, handed to routes (`PoolDep`, `PrincipalDep`)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from ..common.keycache import KeyCache
from ..common.settings import Settings
from ..common.verifier import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, Principal, authenticate_request


def get_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_key_cache(request: Request) -> KeyCache | None:
    return getattr(request.app.state, "key_cache", None)


def client_address(request: Request) -> str:
    """The client's address: the peer, or behind a trusted proxy the address it forwarded (the hardening
    middleware decides, from RUNYARD_TRUSTED_PROXIES). What login limits and the audit log use."""
    return request.client.host if request.client else ""


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
AddressDep = Annotated[str, Depends(client_address)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyCacheDep = Annotated[KeyCache | None, Depends(get_key_cache)]


async def get_principal(request: Request, pool: PoolDep, cache: KeyCacheDep) -> Principal:
    """The caller, from a Bearer key or the session cookie (+ CSRF on state-changing requests)."""
    async with pool.acquire() as conn:
        return await authenticate_request(
            conn,
            method=request.method,
            authorization=request.headers.get("authorization"),
            session_token=request.cookies.get(SESSION_COOKIE),
            csrf_cookie=request.cookies.get(CSRF_COOKIE),
            csrf_header=request.headers.get(CSRF_HEADER),
            cache=cache,
        )


PrincipalDep = Annotated[Principal, Depends(get_principal)]
