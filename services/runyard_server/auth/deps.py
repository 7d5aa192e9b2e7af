"""Dependency aliases of the auth service: the shared ones (`http.deps`) plus its own resources."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from ..http.deps import (
    AddressDep,
    KeyCacheDep,
    PoolDep,
    PrincipalDep,
    SettingsDep,
    client_address,
    get_principal,
)
from .ratelimit import LoginLimiter

__all__ = ["AddressDep", "KeyCacheDep", "LimiterDep", "PoolDep", "PrincipalDep", "SessionTTLDep", "SettingsDep",
           "client_address", "get_principal"]


def get_session_ttl(request: Request) -> timedelta:
    return request.app.state.session_ttl  # type: ignore[no-any-return]


def get_limiter(request: Request) -> LoginLimiter:
    return request.app.state.login_limiter  # type: ignore[no-any-return]


SessionTTLDep = Annotated[timedelta, Depends(get_session_ttl)]
LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]
