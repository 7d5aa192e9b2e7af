"""Dependency aliases of the query service (shared with every HTTP service, see `http.deps`)."""

from __future__ import annotations

from ..http.deps import AddressDep, KeyCacheDep, PoolDep, PrincipalDep, SettingsDep, get_principal

__all__ = ["AddressDep", "KeyCacheDep", "PoolDep", "PrincipalDep", "SettingsDep", "get_principal"]
