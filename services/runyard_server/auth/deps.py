"""Dependency aliases of the auth service: the shared ones (`http.deps`) plus its own resources."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from ..http.deps import KeyCacheDep, PoolDep, PrincipalDep, SettingsDep, get_principal
from .ratelimit import LoginLimiter

__all__ = ["AddressDep", "KeyCacheDep", "LimiterDep", "PoolDep", "PrincipalDep", "SessionTTLDep", "SettingsDep",
           "get_principal"]


def get_session_ttl(request: Request) -> timedelta:
    return request.app.state.session_ttl  # type: ignore[no-any-return]


def get_limiter(request: Request) -> LoginLimiter:
    return request.app.state.login_limiter  # type: ignore[no-any-return]


def client_address(request: Request) -> str:
    """The peer address (behind a proxy, run uvicorn with --forwarded-allow-ips to get the client's)."""
    return request.client.host if request.client else ""


SessionTTLDep = Annotated[timedelta, Depends(get_session_ttl)]
LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]
AddressDep = Annotated[str, Depends(client_address)]
