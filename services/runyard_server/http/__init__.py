"""FastAPI helpers shared by the HTTP services (auth, query, and artifact later).

`common/` stays framework-free; what needs FastAPI or Starlette and is the same in every HTTP service
lives here: the error-to-JSON mapping (`errors`), the request-metrics middleware (`metrics`), the
lifespan that opens the pool and the key cache (`lifespan`), the dependency aliases `PoolDep`,
`SettingsDep`, `PrincipalDep` (`deps`), the `/healthz`, `/readyz`, `/metrics` routes (`health`), the
hardening middleware (trusted proxies, request sizes, `/metrics` guard, security headers: `hardening`) and
the API docs page from bundled assets (`docs`).
It imports no service package.
"""

from .deps import (
    AddressDep,
    KeyCacheDep,
    PoolDep,
    PrincipalDep,
    SettingsDep,
    client_address,
    get_pool,
    get_principal,
    get_settings,
)
from .docs import install_docs
from .errors import describe_validation_error, error_body, install_error_handlers
from .hardening import install_hardening
from .lifespan import service_lifespan
from .metrics import MetricsMiddleware, route_label

__all__ = [
    "AddressDep",
    "KeyCacheDep",
    "MetricsMiddleware",
    "PoolDep",
    "PrincipalDep",
    "SettingsDep",
    "client_address",
    "describe_validation_error",
    "error_body",
    "get_pool",
    "get_principal",
    "get_settings",
    "install_docs",
    "install_error_handlers",
    "install_hardening",
    "route_label",
    "service_lifespan",
]
