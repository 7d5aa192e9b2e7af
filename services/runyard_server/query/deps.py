"""Dependency aliases of the query service (shared with every HTTP service, see `http.deps`)."""

from __future__ import annotations

from ..http.deps import KeyCacheDep, PoolDep, PrincipalDep, SettingsDep, get_principal

__all__ = ["KeyCacheDep", "PoolDep", "PrincipalDep", "SettingsDep", "get_principal"]
