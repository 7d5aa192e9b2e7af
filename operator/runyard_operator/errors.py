"""What can go wrong while reconciling a TrackerInstance, and how each maps onto kopf and the status.

    ReconcileError                 reason + message, shown in the status conditions
    ├── SpecError                  the spec cannot work as written: kopf.PermanentError, Degraded=True
    │   (InvalidSpec, SecretMissing, HostnameClash, RenderFailed, DowngradeRefused, MigrationFailed)
    ├── NotReady                   waiting (migration Job running, pods rolling): kopf.TemporaryError,
    │                              Progressing=True
    └── ApiError                   the Kubernetes API answered an error (kube.py)
        └── transient (5xx, 429, connection): kopf.TemporaryError with backoff; otherwise Degraded

A SpecError is fixed by editing the spec (or creating what it names); the message says exactly what.
"""

from __future__ import annotations

__all__ = ["ApiError", "NotReady", "ReconcileError", "SpecError"]


class ReconcileError(Exception):
    """Base: a `reason` (CamelCase, for the condition) and a message written for the user."""

    reason = "ReconcileError"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class SpecError(ReconcileError):
    """The spec cannot be applied as written; nothing is retried until it (or what it names) changes."""

    reason = "InvalidSpec"


class NotReady(ReconcileError):
    """Applied, but not done yet: retried after a short delay."""

    reason = "Progressing"


class ApiError(ReconcileError):
    """The Kubernetes API answered `status` (0: no answer). Transient ones are retried with backoff."""

    reason = "ApiError"

    def __init__(self, message: str, *, status: int, api_reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.api_reason = api_reason

    @property
    def transient(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500 or self.status == 409
