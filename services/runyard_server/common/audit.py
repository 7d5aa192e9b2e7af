"""The audit log of security events (table `audit_log`, migration 0004), read by admins.

Events (stable names; docs/auth.md): login.success, login.failure, login.rate_limited, logout,
signup, invite.create, key.create, key.revoke, password.change, password.reset, team.create,
member.add, member.role, member.remove, service_account.create, user.disable, user.enable,
user.admin, settings.change, project.settings. The auth service writes almost all of them; the query
service writes `project.settings` (the PATCH of a project lives beside its GET, see docs/auth.md).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from .verifier import Principal


async def record(
    conn: asyncpg.Connection, event: str, *, actor: Principal | None = None, actor_name: str = "",
    target: str = "", address: str = "", detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (event, actor_id, actor, target, address, detail)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        event, actor.user_id if actor else None, actor.username if actor else actor_name, target,
        address[:200], detail or {},
    )


async def read(
    conn: asyncpg.Connection, *, limit: int, before_id: int | None, event: str | None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, at, event, actor, target, address, detail FROM audit_log
            WHERE ($2::bigint IS NULL OR id < $2) AND ($3::text IS NULL OR event = $3 OR event LIKE $3 || '.%')
            ORDER BY id DESC LIMIT $1""",
        limit, before_id, event,
    )
