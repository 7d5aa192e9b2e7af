"""Team entities and their members (table `team_members`, migration 0004)."""

from __future__ import annotations

import asyncpg


async def create_team(conn: asyncpg.Connection, name: str) -> int:
    """Raises asyncpg.UniqueViolationError when the name is taken by any entity."""
    team_id: int = await conn.fetchval("INSERT INTO entities (name, kind) VALUES ($1, 'team') RETURNING id", name)
    return team_id


async def team_by_name(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, name FROM entities WHERE name = $1 AND kind = 'team'", name)


async def set_member(conn: asyncpg.Connection, team_id: int, user_id: int, role: str) -> str | None:
    """Add or change a member; returns the previous role (None when new)."""
    old = await conn.fetchval(
        "SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2 FOR UPDATE", team_id, user_id
    )
    await conn.execute(
        """INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3)
           ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role""",
        team_id, user_id, role,
    )
    return str(old) if old is not None else None


async def remove_member(conn: asyncpg.Connection, team_id: int, user_id: int) -> str | None:
    role = await conn.fetchval(
        "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2 RETURNING role", team_id, user_id
    )
    return str(role) if role is not None else None


async def lock_team(conn: asyncpg.Connection, team_id: int) -> None:
    await conn.execute("SELECT 1 FROM entities WHERE id = $1 FOR UPDATE", team_id)


async def admin_count(conn: asyncpg.Connection, team_id: int) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM team_members WHERE team_id = $1 AND role = 'admin'", team_id))


async def members(conn: asyncpg.Connection, team_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT u.username, m.role, u.is_service, m.created_at FROM team_members m
             JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 ORDER BY u.username""",
        team_id,
    )


async def entities_of(conn: asyncpg.Connection, user_id: int, everything: bool) -> list[asyncpg.Record]:
    """The user's own entity and its teams with the role; instance admins also see every other team."""
    return await conn.fetch(
        """SELECT e.name, e.kind,
                  CASE WHEN e.user_id = $1 THEN 'owner' ELSE m.role END AS role
             FROM entities e
             LEFT JOIN team_members m ON m.team_id = e.id AND m.user_id = $1
            WHERE e.user_id = $1 OR m.user_id IS NOT NULL OR ($2 AND e.kind = 'team')
            ORDER BY (e.user_id = $1) DESC NULLS LAST, e.name""",
        user_id, everything,
    )
