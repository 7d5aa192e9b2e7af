"""Who is calling, and what they may do: the one verifier every service uses.

`authenticate(conn, api_key)` turns a bearer key into a `Principal`; `resolve_project_for_write` and
`resolve_project_for_read` decide access. A project the caller may not read is reported as NotFound,
so its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from .errors import NotFound, PermissionDenied, Unauthenticated
from .security import api_key_matches, split_api_key


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    is_admin: bool
    entity_id: int          # the user's own entity
    key_id: int | None = None


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
