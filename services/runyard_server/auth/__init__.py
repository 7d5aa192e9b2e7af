"""The auth service: first-run admin sign-up, browser login sessions, and `viewer` (who am I).

Access decisions themselves live in the shared verifier (`common.verifier`); this service only issues
and revokes credentials.
"""

from .app import create_app

__all__ = ["create_app"]
