"""Exceptions the SDK raises. Every one derives from `RunyardError`, so `except runyard.errors.RunyardError`
catches them all.

    RunyardError                     base class; `.message` is meant for a person
    ├── UsageError                   the SDK was called wrongly (no active run, bad argument, bad setting)
    │   ├── SettingsError            a setting (init argument or RUNYARD_* variable) holds a bad value
    │   └── ConfigError              a config key already set was given another value (allow_val_change)
    ├── CommError                    talking to the server failed (network, timeout, unexpected answer)
    │   └── ServerError              the server answered with an error (`.status`, `.code`, `.detail`)
    │       ├── AuthenticationError  no API key, or the key was refused (HTTP 401 / UNAUTHENTICATED)
    │       ├── PermissionDeniedError   the key may not do this (HTTP 403 / PERMISSION_DENIED)
    │       ├── NotFoundError        no such entity, project or run, or hidden from this key (404 / NOT_FOUND)
    │       └── InvalidArgumentError the server rejected a value (400 / INVALID_ARGUMENT, RESOURCE_EXHAUSTED)
    └── WalError                     the run's on-disk write-ahead log is unreadable or unwritable

`init()` raises AuthenticationError fast (well under 10 s) for a missing or refused key; an unreachable
server is not an error there (the run keeps logging to disk and retries in the background). Errors of the
background stream are printed on stderr and repeated by `finish()`, never raised inside `log()`.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CommError",
    "ConfigError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "RunyardError",
    "ServerError",
    "SettingsError",
    "UsageError",
    "WalError",
    "error_for_grpc_code",
    "error_for_status",
]


class RunyardError(Exception):
    """Base of every SDK error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(RunyardError):
    """The SDK was called wrongly."""


class SettingsError(UsageError):
    """A setting holds a bad value; the message names the init argument or the RUNYARD_* variable."""


class ConfigError(UsageError):
    """A config key that is already set was given another value without `allow_val_change=True`."""


class CommError(RunyardError):
    """Talking to the server failed."""


class ServerError(CommError):
    """The server answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.detail = detail


class AuthenticationError(ServerError):
    """No API key, or the server refused it."""


class PermissionDeniedError(ServerError):
    """The API key may not do this."""


class NotFoundError(ServerError):
    """No such entity, project or run (or hidden from this API key)."""


class InvalidArgumentError(ServerError):
    """The server rejected a value as invalid or too large."""


class WalError(RunyardError):
    """The run's write-ahead log cannot be read or written."""


_BY_STATUS: dict[int, type[ServerError]] = {
    400: InvalidArgumentError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: InvalidArgumentError,
    422: InvalidArgumentError,
}

_BY_GRPC: dict[str, type[ServerError]] = {
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "INVALID_ARGUMENT": InvalidArgumentError,
    "RESOURCE_EXHAUSTED": InvalidArgumentError,
    "ALREADY_EXISTS": InvalidArgumentError,
    "FAILED_PRECONDITION": InvalidArgumentError,
}


def error_for_status(status: int, message: str, *, code: str = "", detail: str = "") -> ServerError:
    """The exception for an HTTP error status (one table, here)."""
    cls = _BY_STATUS.get(status, ServerError)
    return cls(message, status=status, code=code, detail=detail)


def error_for_grpc_code(code_name: str, message: str, *, detail: str = "") -> ServerError:
    """The exception for a fatal gRPC status, by `grpc.StatusCode` member name."""
    cls = _BY_GRPC.get(code_name, ServerError)
    return cls(message, code=code_name.lower(), detail=detail)
