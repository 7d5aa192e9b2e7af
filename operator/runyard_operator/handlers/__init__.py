"""The operator's logic; main.py only registers it with kopf.

- reconcile.py: one pass (validate, render, apply in order, migrate, observe), and its status
- checks.py: what the spec refers to must exist (Secrets, a unique hostname)
- apply.py: server-side apply with owner references, create-only credentials, migration Job, pruning
- readiness.py: ready replicas per component
- retention.py: the finalizer (Retain or Delete the bundled stores)
- versions.py: install, upgrade or refused downgrade
"""

from .context import Context
from .reconcile import reconcile, resync
from .retention import finalize

__all__ = ["Context", "finalize", "reconcile", "resync"]
