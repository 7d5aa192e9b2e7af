"""The auth service: sign-up (first admin, invites, open), browser sessions, API keys, teams and
roles, service accounts, password change and reset, instance settings, the audit log, OIDC sign-on.

Access decisions themselves live in the shared verifier (`common.verifier`); this service issues and
revokes credentials and memberships. `owns_path` says which paths a front door routes here.
"""

from typing import Any

__all__ = ["ROUTE_PREFIXES", "create_app", "owns_path"]


def __getattr__(name: str) -> Any:
    # lazy, so `runyard-server admin` (auth.admin_cli) starts without importing FastAPI
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
