"""Who is calling, and what they may do: the one verifier every service uses.

Credentials:
  - `authenticate(conn, api_key)` turns a bearer key into a `Principal` (the ingest service uses it);
  - `authenticate_session(conn, token)` does the same for a browser session cookie;
  - `authenticate_request(conn, ...)` is what the HTTP services call: a Bearer key when the
    `Authorization` header is present, else the session cookie, whose state-changing requests must
    also carry the CSRF token (double-submit, bound to the session).
Access: `entity_id_for_write`, `project_for_read` and `readable_scope` (the same rule as SQL filter
for lists) decide. A project the caller may not read is reported as NotFound, so its existence does
not leak.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import asyncpg

from .errors import NotFound, PermissionDenied, Unauthenticated
from .security import api_key_matches, split_api_key

SESSION_COOKIE = "runyard_session"
CSRF_COOKIE = "runyard_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CSRF_MESSAGE = (
    f"missing or wrong CSRF token: send the `{CSRF_COOKIE}` cookie value in the `{CSRF_HEADER}` header"
)


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    is_admin: bool
    entity_id: int          # the user's own entity
    key_id: int | None = None
    session_id: int | None = None


async def authenticate(conn: asyncpg.Connection, api_key: str | None) -> Principal:
    """The principal behind an API key, or Unauthenticated with a message fit for the user."""
    if not api_key:
        raise Unauthenticated("no API key: pass `Authorization: Bearer <key>` (see `runyard login`)")
    prefix = split_api_key(api_key)
    row = None
    if prefix is not None:
        row = await conn.fetchrow(
            """SELECT k.id AS key_id, k.key_hash, k.revoked_at, u.id AS user_id, u.username,
                      u.is_admin, u.disabled, e.id AS entity_id
                 FROM api_keys k JOIN users u ON u.id = k.user_id
                 JOIN entities e ON e.user_id = u.id
                WHERE k.prefix = $1""",
            prefix,
        )
    if row is None or not api_key_matches(api_key, row["key_hash"]):
        raise Unauthenticated("the API key is not valid on this server (check `runyard login`)")
    if row["revoked_at"] is not None:
        raise Unauthenticated("the API key was revoked")
    if row["disabled"]:
        raise Unauthenticated("the account of this API key is disabled")
    return Principal(row["user_id"], row["username"], row["is_admin"], row["entity_id"], row["key_id"])


def token_hash(token: str) -> bytes:
    """How session and CSRF tokens are stored: SHA-256 (they are 32 random bytes, like API keys)."""
    return hashlib.sha256(token.encode()).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header; None when there is no header.

    A header with another scheme is refused (Unauthenticated), not silently ignored.
    """
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <api key>`")
    return value.strip()


async def authenticate_session(
    conn: asyncpg.Connection, token: str, *, csrf_token: str | None = None, check_csrf: bool = False
) -> Principal:
    """The principal of a live browser session; with `check_csrf`, the session's CSRF token must match."""
    row = await conn.fetchrow(
        """SELECT s.id AS session_id, s.csrf_hash, u.id AS user_id, u.username, u.is_admin, u.disabled,
                  e.id AS entity_id
             FROM sessions s JOIN users u ON u.id = s.user_id
             JOIN entities e ON e.user_id = u.id
            WHERE s.token_hash = $1 AND s.expires_at > now()""",
        token_hash(token),
    )
    if row is None:
        raise Unauthenticated("your session has expired or was signed out; please log in again")
    if row["disabled"]:
        raise Unauthenticated("this account is disabled")
    if check_csrf and not (csrf_token and hmac.compare_digest(token_hash(csrf_token), row["csrf_hash"])):
        raise PermissionDenied(_CSRF_MESSAGE)
    return Principal(
        row["user_id"], row["username"], row["is_admin"], row["entity_id"], session_id=row["session_id"]
    )


async def authenticate_request(
    conn: asyncpg.Connection,
    *,
    method: str,
    authorization: str | None,
    session_token: str | None,
    csrf_cookie: str | None = None,
    csrf_header: str | None = None,
) -> Principal:
    """The principal of an HTTP request (the one function the HTTP services use).

    A Bearer key wins and needs no CSRF token (browsers never attach it on their own). Otherwise the
    session cookie is used; unless the method is safe, the `X-CSRF-Token` header must equal the
    `runyard_csrf` cookie and the token issued with the session.
    """
    key = bearer_token(authorization)
    if key is not None:
        return await authenticate(conn, key)
    if session_token:
        unsafe = method.upper() not in SAFE_METHODS
        who = await authenticate_session(conn, session_token, csrf_token=csrf_header, check_csrf=unsafe)
        if unsafe and not (
            csrf_cookie and csrf_header and hmac.compare_digest(csrf_cookie.encode(), csrf_header.encode())
        ):
            raise PermissionDenied(_CSRF_MESSAGE)
        return who
    raise Unauthenticated(
        "not signed in: pass `Authorization: Bearer <api key>` (see `runyard login`) or log in"
    )


@dataclass(frozen=True)
class ReadScope:
    """Which projects a principal may read, as data for SQL filters over many projects.

    A project is readable when `everything`, or its entity is in `entity_ids`, or its visibility is
    'internal'. `project_for_read` applies the same rule to one project.
    """

    everything: bool
    entity_ids: tuple[int, ...]


async def readable_scope(conn: asyncpg.Connection, who: Principal) -> ReadScope:
    # teams will add their entity ids here (one place, shared by every list query)
    return ReadScope(everything=who.is_admin, entity_ids=(who.entity_id,))


async def entity_id_for_write(conn: asyncpg.Connection, who: Principal, entity: str) -> int:
    """The entity's id when `who` may create projects and runs in it."""
    if not entity or entity == who.username:
        return who.entity_id
    row = await conn.fetchrow("SELECT id, kind FROM entities WHERE name = $1", entity)
    if row is None:
        raise NotFound(f"entity {entity!r} not found")
    if who.is_admin:
        return int(row["id"])
    raise PermissionDenied(f"you may not write to entity {entity!r}")


async def can_read_entity(conn: asyncpg.Connection, who: Principal, entity_id: int) -> bool:
    return who.is_admin or entity_id == who.entity_id


async def project_for_read(conn: asyncpg.Connection, who: Principal, entity: str, project: str) -> asyncpg.Record:
    """The project row (id, entity_id, name, visibility) if `who` may read it, else NotFound."""
    row = await conn.fetchrow(
        """SELECT p.id, p.entity_id, p.name, p.visibility, p.created_at, p.updated_at, e.name AS entity
             FROM projects p JOIN entities e ON e.id = p.entity_id
            WHERE e.name = $1 AND p.name = $2""",
        entity, project,
    )
    if row is None or not (row["visibility"] == "internal" or await can_read_entity(conn, who, row["entity_id"])):
        raise NotFound(f"project {entity}/{project} not found")
    return row
