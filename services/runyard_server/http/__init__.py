"""FastAPI helpers shared by the HTTP services (auth, query, and artifact later).

`common/` stays framework-free; what needs FastAPI or Starlette and is the same in every HTTP service
lives here: the error-to-JSON mapping (`errors`), the request-metrics middleware (`metrics`), the
lifespan that opens the pool and the key cache (`lifespan`), the dependency aliases `PoolDep`,
`SettingsDep`, `PrincipalDep` (`deps`), and the `/healthz`, `/readyz`, `/metrics` routes (`health`).
It imports no service package.
"""

from .deps import KeyCacheDep, PoolDep, PrincipalDep, SettingsDep, get_pool, get_principal, get_settings
from .errors import describe_validation_error, error_body, install_error_handlers
from .lifespan import service_lifespan
from .metrics import MetricsMiddleware, route_label

__all__ = [
    "KeyCacheDep",
    "MetricsMiddleware",
    "PoolDep",
    "PrincipalDep",
    "SettingsDep",
    "describe_validation_error",
    "error_body",
    "get_pool",
    "get_principal",
    "get_settings",
    "install_error_handlers",
    "route_label",
    "service_lifespan",
]
