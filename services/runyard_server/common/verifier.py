"""Who is calling, and what they may do: the one verifier every service uses.

Credentials:
  - `authenticate(conn, api_key)` turns a bearer key into a `Principal` (the ingest service uses it);
  - `authenticate_session(conn, token)` does the same for a browser session cookie;
  - `authenticate_request(conn, ...)` is what the HTTP services call: a Bearer key when the
    `Authorization` header is present, else the session cookie, whose state-changing requests must
    also carry the CSRF token (double-submit, bound to the session).
Access (docs/auth.md has the full table):
  - `role_in(conn, who, entity_id)`: 'owner' (the user's own entity), 'admin' | 'member' | 'viewer'
    (team roles), or None; instance admins act as 'owner' everywhere;
  - read: `project_for_read`, `readable_scope` (the same rule as SQL filter for lists): instance admins
    read everything; members of any role read their entities' projects; every signed-in user reads
    `internal` projects. A project the caller may not read is NotFound, so its existence does not leak;
  - write (runs, files, artifacts): `entity_id_for_write` (by entity) and `project_for_write` (by
    project): owner, team admin or member. A viewer gets PermissionDenied; a non-member gets NotFound
    (by entity: whether or not it exists; by project: unless the project is internal, which it may read
    anyway, then PermissionDenied);
  - manage (members, project settings): `entity_for_manage`, `project_for_manage`: owner or team admin;
    members and viewers PermissionDenied, non-members NotFound (by project: as for write).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import asyncpg

from .errors import NotFound, PermissionDenied, Unauthenticated
from .keycache import KeyCache
from .metrics import KEY_VERIFICATIONS
from .security import api_key_matches, hash_api_key, split_api_key

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
    is_service: bool = False
    service_team_id: int | None = None  # a service account writes to its team by default

    @property
    def default_entity_id(self) -> int:
        return self.service_team_id if self.service_team_id is not None else self.entity_id


ROLES = ("admin", "member", "viewer")
WRITE_ROLES = frozenset({"owner", "admin", "member"})
MANAGE_ROLES = frozenset({"owner", "admin"})
_LAST_USED_EVERY_S = 60  # `api_keys.last_used_at` is refreshed at most this often per key


async def authenticate(conn: asyncpg.Connection, api_key: str | None, cache: KeyCache | None = None) -> Principal:
    """The principal behind an API key, or Unauthenticated with a message fit for the user.

    With a `cache` (HTTP services), a key verified less than `key_cache_ttl_s` ago is not looked up
    again; the auth service invalidates entries when it revokes keys (see common/keycache.py).
    """
    if not api_key:
        raise Unauthenticated("no API key: pass `Authorization: Bearer <key>` (see `runyard login`)")
    prefix = split_api_key(api_key)
    if prefix is not None and cache is not None and cache.enabled:
        hit = await cache.get(hash_api_key(api_key))
        if hit is not None:
            KEY_VERIFICATIONS.labels("cached").inc()
            return Principal(**hit)
    row = None
    if prefix is not None:
        row = await conn.fetchrow(
            """SELECT k.id AS key_id, k.key_hash, k.revoked_at, u.id AS user_id, u.username,
                      u.is_admin, u.disabled, u.is_service, u.service_team_id, e.id AS entity_id,
                      (k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => $2))
                          AS stale_use
                 FROM api_keys k JOIN users u ON u.id = k.user_id
                 JOIN entities e ON e.user_id = u.id
                WHERE k.prefix = $1""",
            prefix, _LAST_USED_EVERY_S,
        )
    if row is None or not api_key_matches(api_key, row["key_hash"]):
        KEY_VERIFICATIONS.labels("invalid").inc()
        raise Unauthenticated("the API key is not valid on this server (check `runyard login`)")
    if row["revoked_at"] is not None:
        KEY_VERIFICATIONS.labels("revoked").inc()
        raise Unauthenticated("the API key was revoked")
    if row["disabled"]:
        KEY_VERIFICATIONS.labels("disabled").inc()
        raise Unauthenticated("the account of this API key is disabled")
    KEY_VERIFICATIONS.labels("ok").inc()
    if row["stale_use"]:
        await conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = $1", row["key_id"])
    who = Principal(row["user_id"], row["username"], row["is_admin"], row["entity_id"], row["key_id"],
                    is_service=row["is_service"], service_team_id=row["service_team_id"])
    if cache is not None and cache.enabled:
        await cache.put(bytes(row["key_hash"]), {
            "user_id": who.user_id, "username": who.username, "is_admin": who.is_admin,
            "entity_id": who.entity_id, "key_id": who.key_id, "is_service": who.is_service,
            "service_team_id": who.service_team_id,
        })
    return who


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
                  u.is_service, u.service_team_id, e.id AS entity_id
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
        row["user_id"], row["username"], row["is_admin"], row["entity_id"], session_id=row["session_id"],
        is_service=row["is_service"], service_team_id=row["service_team_id"],
    )


async def authenticate_request(
    conn: asyncpg.Connection,
    *,
    method: str,
    authorization: str | None,
    session_token: str | None,
    csrf_cookie: str | None = None,
    csrf_header: str | None = None,
    cache: KeyCache | None = None,
) -> Principal:
    """The principal of an HTTP request (the one function the HTTP services use).

    A Bearer key wins and needs no CSRF token (browsers never attach it on their own). Otherwise the
    session cookie is used; unless the method is safe, the `X-CSRF-Token` header must equal the
    `runyard_csrf` cookie and the token issued with the session.
    """
    key = bearer_token(authorization)
    if key is not None:
        return await authenticate(conn, key, cache)
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


async def member_entity_ids(conn: asyncpg.Connection, who: Principal) -> tuple[int, ...]:
    """The user's own entity and every team it belongs to (any role)."""
    rows = await conn.fetch("SELECT team_id FROM team_members WHERE user_id = $1", who.user_id)
    return (who.entity_id, *(int(r["team_id"]) for r in rows))


async def readable_scope(conn: asyncpg.Connection, who: Principal) -> ReadScope:
    return ReadScope(everything=who.is_admin, entity_ids=await member_entity_ids(conn, who))


async def role_in(conn: asyncpg.Connection, who: Principal, entity_id: int) -> str | None:
    """'owner' for the user's own entity (and for instance admins anywhere), the team role, or None."""
    if who.is_admin or entity_id == who.entity_id:
        return "owner"
    role = await conn.fetchval(
        "SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2", entity_id, who.user_id
    )
    return str(role) if role is not None else None


async def _entity_row(conn: asyncpg.Connection, entity: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, kind, name FROM entities WHERE name = $1", entity)


async def entity_id_for_write(conn: asyncpg.Connection, who: Principal, entity: str) -> int:
    """The entity's id when `who` may create projects and runs in it (owner, team admin or member).

    An empty entity means the caller's default: its own entity, or its team for a service account.
    """
    if not entity:
        if who.service_team_id is not None:
            team = await conn.fetchval("SELECT name FROM entities WHERE id = $1", who.service_team_id)
            await _require_write(conn, who, who.service_team_id, str(team))
        return who.default_entity_id
    if entity == who.username:
        return who.entity_id
    row = await _entity_row(conn, entity)
    if row is None:
        raise NotFound(f"entity {entity!r} not found")
    await _require_write(conn, who, int(row["id"]), entity)
    return int(row["id"])


async def _require_write(conn: asyncpg.Connection, who: Principal, entity_id: int, entity: str) -> None:
    role = await role_in(conn, who, entity_id)
    if role in WRITE_ROLES:
        return
    if role == "viewer":
        raise PermissionDenied(f"you are a viewer of {entity!r}: viewers may read, not write")
    raise NotFound(f"entity {entity!r} not found")


async def entity_for_manage(conn: asyncpg.Connection, who: Principal, entity: str) -> asyncpg.Record:
    """The entity row (id, kind, name) when `who` may manage it (owner, team admin, instance admin).

    Members and viewers get PermissionDenied; non-members NotFound.
    """
    row = await _entity_row(conn, entity)
    if row is None:
        raise NotFound(f"entity {entity!r} not found")
    role = await role_in(conn, who, int(row["id"]))
    if role in MANAGE_ROLES:
        return row
    if role is not None:
        raise PermissionDenied(f"only admins of {entity!r} may do this (you are a {role})")
    raise NotFound(f"entity {entity!r} not found")


async def entity_for_read(conn: asyncpg.Connection, who: Principal, entity: str) -> asyncpg.Record:
    """The entity row when `who` belongs to it (any role) or is an instance admin, else NotFound."""
    row = await _entity_row(conn, entity)
    if row is None or await role_in(conn, who, int(row["id"])) is None:
        raise NotFound(f"entity {entity!r} not found")
    return row


async def can_read_entity(conn: asyncpg.Connection, who: Principal, entity_id: int) -> bool:
    return await role_in(conn, who, entity_id) is not None


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


async def project_for_write(conn: asyncpg.Connection, who: Principal, entity: str, project: str) -> asyncpg.Record:
    """The project row when `who` may write runs and files in it: readable first (else NotFound),
    then a write role in its entity (else PermissionDenied)."""
    row = await project_for_read(conn, who, entity, project)
    role = await role_in(conn, who, int(row["entity_id"]))
    if role not in WRITE_ROLES:
        raise PermissionDenied(
            f"you may read {entity}/{project} but not write to it"
            + (" (viewers may read, not write)" if role == "viewer" else "")
        )
    return row


async def project_for_manage(conn: asyncpg.Connection, who: Principal, entity: str, project: str) -> asyncpg.Record:
    """The project row when `who` may change its settings (owner or team admin): readable first (else
    NotFound), then PermissionDenied for members, viewers and readers of an internal project."""
    row = await project_for_read(conn, who, entity, project)
    role = await role_in(conn, who, int(row["entity_id"]))
    if role not in MANAGE_ROLES:
        raise PermissionDenied(f"only admins of {entity!r} may change the settings of {entity}/{project}")
    return row
