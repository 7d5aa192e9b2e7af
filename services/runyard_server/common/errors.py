"""Domain errors, mapped to HTTP statuses and gRPC codes in one place.

    RunyardError (code, message)
    ├── Unauthenticated      401 / UNAUTHENTICATED     no or bad credentials
    ├── PermissionDenied     403 / PERMISSION_DENIED   known caller, action not allowed
    ├── NotFound             404 / NOT_FOUND           absent, or hidden from this caller
    ├── AlreadyExists        409 / ALREADY_EXISTS
    ├── InvalidArgument      400 / INVALID_ARGUMENT    bad input; the message names what was wrong
    ├── FailedPrecondition   409 / FAILED_PRECONDITION state does not allow it (e.g. resume="must")
    ├── ResourceExhausted    413 / RESOURCE_EXHAUSTED  too large or too many
    ├── TooManyRequests      429 / RESOURCE_EXHAUSTED  rate limited (code `rate_limited`); carries
    │                                                  `retry_after` seconds (HTTP `Retry-After`)
    └── Unavailable          503 / UNAVAILABLE         a dependency (PostgreSQL, Redis, the bucket) is
                                                       away or overloaded; carries `retry_after`

Services translate with `http_status(err)` and `grpc_code_name(err)` (a `grpc.StatusCode` member
name), so this module imports neither FastAPI nor gRPC.

Exceptions that are not ours are translated here too, by `domain_error(exc)`, so HTTP and gRPC answer
the same for the same fault:
  - PostgreSQL unreachable, starting, shutting down, out of connections, a lost connection, a timeout,
    a serialization failure or a read-only replica -> Unavailable (503 + Retry-After / UNAVAILABLE);
  - PostgreSQL data errors (SQLSTATE class 22: a NUL byte in text or JSON, a number out of range, bad
    Unicode) and text Python cannot encode (lone surrogates) -> InvalidArgument;
  - the object store or Redis unreachable or timing out, or the object store answering 5xx -> Unavailable.
Anything else is a bug: the caller logs it with its traceback and answers 500 / INTERNAL.
"""

from __future__ import annotations

import asyncio

import asyncpg

__all__ = [
    "AlreadyExists",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "RunyardError",
    "TooManyRequests",
    "Unauthenticated",
    "Unavailable",
    "data_error_text",
    "domain_error",
    "grpc_code_name",
    "http_status",
    "retry_after",
]


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


class Unavailable(RunyardError):
    """A dependency is away; the same request later will likely work (`retry_after` seconds)."""

    code, http = "unavailable", 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


def http_status(err: RunyardError) -> int:
    return err.http


def grpc_code_name(err: RunyardError) -> str:
    return err.grpc or err.code.upper()


def retry_after(err: RunyardError) -> int | None:
    """Seconds a client should wait before retrying, for errors that have one (429, 503)."""
    value = getattr(err, "retry_after", None)
    return int(value) if value is not None else None


# ---- translation of third-party exceptions ------------------------------------------------------------
DATABASE_AWAY = "the database is not reachable right now; try again shortly"
DATABASE_BUSY = "the database is busy or restarting; try again shortly"
STORAGE_AWAY = "the object store is not reachable right now; try again shortly"
CACHE_AWAY = "Redis is not reachable right now; try again shortly"

# asyncpg errors that mean "not now" rather than "never": the request may be repeated as it is.
_PG_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,          # class 08
    asyncpg.CannotConnectNowError,            # 57P03: starting up or shutting down
    asyncpg.exceptions.OperatorInterventionError,  # class 57: admin shutdown, crash, query canceled
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,    # class 40: serialization failure, deadlock
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # 25006: a replica after a failover
    asyncpg.exceptions.ConnectionDoesNotExistError,  # the connection was closed under us
)


def _mro_names(exc: BaseException) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__}


def data_error_text(exc: BaseException) -> str:
    """What PostgreSQL or the encoder said about a value it cannot store, for a person."""
    if isinstance(exc, asyncpg.CharacterNotInRepertoireError) or "0x00" in str(exc):
        return "text contains a NUL character (\\x00), which cannot be stored"
    if isinstance(exc, UnicodeError):
        return "text is not valid Unicode (a lone surrogate?), which cannot be stored"
    message = getattr(exc, "message", None) or str(exc)
    return f"the database refused a value: {message}"


def domain_error(exc: BaseException) -> RunyardError | None:
    """The domain error a foreign exception stands for, or None when it is a bug (answer 500).

    Imports nothing optional: botocore and redis exceptions are recognised by their class names.
    """
    if isinstance(exc, RunyardError):
        return exc
    if isinstance(exc, asyncpg.DataError) or isinstance(exc, UnicodeEncodeError):
        return InvalidArgument(data_error_text(exc))
    if isinstance(exc, asyncpg.exceptions.InsufficientResourcesError):
        return Unavailable(DATABASE_BUSY, retry_after=5)
    if isinstance(exc, _PG_TRANSIENT):
        busy = isinstance(exc, (asyncpg.exceptions.OperatorInterventionError,
                                asyncpg.exceptions.TransactionRollbackError))
        return Unavailable(DATABASE_BUSY if busy else DATABASE_AWAY, retry_after=2 if busy else 5)
    if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc):  # pool or connection closing
        return Unavailable(DATABASE_AWAY, retry_after=5)
    names = _mro_names(exc)
    if any(n.startswith("botocore.exceptions.") for n in names):
        if "botocore.exceptions.ClientError" in names:
            status = int(getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if status >= 500 or status == 429:
                return Unavailable(f"the object store answered {status}; try again shortly", retry_after=5)
            return None
        if names & {"botocore.exceptions.ConnectionError", "botocore.exceptions.HTTPClientError"}:
            return Unavailable(STORAGE_AWAY, retry_after=5)
        return None
    if names & {"redis.exceptions.ConnectionError", "redis.exceptions.TimeoutError"}:
        return Unavailable(CACHE_AWAY, retry_after=2)
    if isinstance(exc, (ConnectionError, asyncio.TimeoutError, TimeoutError)):
        # a refused or reset connection, or a pool acquire that timed out: the database is the
        # dependency every service needs, so it is the one named
        return Unavailable(DATABASE_AWAY, retry_after=5)
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno in _NETWORK_ERRNOS:
        return Unavailable(DATABASE_AWAY, retry_after=5)
    return None


def _network_errnos() -> frozenset[int]:
    import errno

    names = ("ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT",
             "EPIPE", "ENOTCONN", "EADDRNOTAVAIL")
    return frozenset(getattr(errno, n) for n in names if hasattr(errno, n))


_NETWORK_ERRNOS = _network_errnos()
