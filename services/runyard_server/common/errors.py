"""Domain errors, mapped to HTTP statuses and gRPC codes in one place.

    RunyardError (code, message)
    ├── Unauthenticated      401 / UNAUTHENTICATED     no or bad credentials
    ├── PermissionDenied     403 / PERMISSION_DENIED   known caller, action not allowed
    ├── NotFound             404 / NOT_FOUND           absent, or hidden from this caller
    ├── AlreadyExists        409 / ALREADY_EXISTS
    ├── InvalidArgument      400 / INVALID_ARGUMENT    bad input; the message names what was wrong
    ├── FailedPrecondition   409 / FAILED_PRECONDITION state does not allow it (e.g. resume="must")
    ├── ResourceExhausted    413 / RESOURCE_EXHAUSTED  too large or too many
    └── TooManyRequests      429 / RESOURCE_EXHAUSTED  rate limited (code `rate_limited`); carries
                                                       `retry_after` seconds (HTTP `Retry-After`)

Services translate with `http_status(err)` and `grpc_code_name(err)` (a `grpc.StatusCode` member
name), so this module imports neither FastAPI nor gRPC.
"""

from __future__ import annotations


class RunyardError(Exception):
    code = "internal"
    http = 500
    grpc = ""  # a grpc.StatusCode member name when it is not `code.upper()`

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(RunyardError):
    code, http = "unauthenticated", 401


class PermissionDenied(RunyardError):
    code, http = "permission_denied", 403


class NotFound(RunyardError):
    code, http = "not_found", 404


class AlreadyExists(RunyardError):
    code, http = "already_exists", 409


class InvalidArgument(RunyardError):
    code, http = "invalid_argument", 400


class FailedPrecondition(RunyardError):
    code, http = "failed_precondition", 409


class ResourceExhausted(RunyardError):
    code, http = "resource_exhausted", 413


class TooManyRequests(RunyardError):
    code, http, grpc = "rate_limited", 429, "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


def http_status(err: RunyardError) -> int:
    return err.http


def grpc_code_name(err: RunyardError) -> str:
    return err.grpc or err.code.upper()
