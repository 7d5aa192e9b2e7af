"""Users, their entities and API keys. Callers own the transaction."""

from __future__ import annotations

import asyncpg

_SIGNUP_LOCK = 0x52594155  # "RYAU": serialises first-run sign-up across processes


async def lock_signup(conn: asyncpg.Connection) -> None:
    """Transaction-level advisory lock: two first sign-ups racing cannot both see an empty table."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _SIGNUP_LOCK)


async def any_user_exists(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)"))


async def create_user(
    conn: asyncpg.Connection, username: str, password_hash: str | None, *, is_admin: bool
) -> int:
    """A user and its own entity (same name); raises asyncpg.UniqueViolationError on a taken name."""
    user_id: int = await conn.fetchval(
        "INSERT INTO users (username, password_hash, is_admin) VALUES ($1, $2, $3) RETURNING id",
        username, password_hash, is_admin,
    )
    await conn.execute("INSERT INTO entities (name, kind, user_id) VALUES ($1, 'user', $2)", username, user_id)
    return user_id


async def create_api_key(
    conn: asyncpg.Connection, user_id: int, prefix: str, key_hash: bytes, name: str = ""
) -> int:
    key_id: int = await conn.fetchval(
        "INSERT INTO api_keys (user_id, prefix, key_hash, name) VALUES ($1, $2, $3, $4) RETURNING id",
        user_id, prefix, key_hash, name,
    )
    return key_id


async def user_for_login(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, username, password_hash, disabled, is_admin FROM users WHERE username = $1", username
    )


async def viewer(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT u.username, u.is_admin, e.name AS entity
             FROM users u JOIN entities e ON e.user_id = u.id
            WHERE u.id = $1""",
        user_id,
    )


async def user_by_name(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT u.id, u.username, u.email, u.password_hash, u.is_admin, u.disabled, u.is_service,
                  u.service_team_id, u.created_at, e.id AS entity_id
             FROM users u JOIN entities e ON e.user_id = u.id WHERE u.username = $1""",
        username,
    )


async def user_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, username, disabled, is_service FROM users WHERE lower(email) = lower($1)", email
    )


async def list_users(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT u.username, u.email, u.is_admin, u.disabled, u.is_service, u.created_at,
                  t.name AS service_team
             FROM users u LEFT JOIN entities t ON t.id = u.service_team_id ORDER BY u.username"""
    )


async def set_password(conn: asyncpg.Connection, user_id: int, password_hash: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1", user_id, password_hash
    )


async def set_flags(conn: asyncpg.Connection, user_id: int, *, disabled: bool | None, is_admin: bool | None) -> None:
    await conn.execute(
        "UPDATE users SET disabled = coalesce($2, disabled), is_admin = coalesce($3, is_admin) WHERE id = $1",
        user_id, disabled, is_admin,
    )


async def set_email(conn: asyncpg.Connection, user_id: int, email: str) -> None:
    await conn.execute("UPDATE users SET email = $2 WHERE id = $1", user_id, email)


async def entity_exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM entities WHERE name = $1)", name))


async def admin_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM users WHERE is_admin AND NOT disabled"))
