"""Dependency aliases: the shared ones (`..http.deps`) plus the bucket client opened by the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..http.deps import PoolDep, PrincipalDep, SettingsDep
from .storage import Storage


def get_storage(request: Request) -> Storage:
    return request.app.state.storage  # type: ignore[no-any-return]


StorageDep = Annotated[Storage, Depends(get_storage)]

__all__ = ["PoolDep", "PrincipalDep", "SettingsDep", "StorageDep"]
