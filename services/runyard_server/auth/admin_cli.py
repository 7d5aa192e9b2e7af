"""`runyard-server admin ...`: headless administration straight on the database.

The operator holds RUNYARD_DATABASE_URL (like `migrate`), so these commands need no API key; each runs
one function of `auth/admin.py` as the actor "cli" (recorded in the audit log) and prints its result.
Revoking keys or disabling users also drops the keys from the Redis key cache (RUNYARD_REDIS_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import timedelta
from typing import Any

import asyncpg

from ..common.db import create_pool
from ..common.errors import NotFound, RunyardError
from ..common.formats import iso
from ..common.keycache import KeyCache
from ..common.security import hash_password, key_prefix_of
from ..common.settings import Settings
from . import admin
from .queries import keys as qk
from .queries.users import list_users
from .validation import check_password


def add_parser(sub: Any) -> None:
    """Add the `admin` command group to the `runyard-server` parser."""
    p = sub.add_parser("admin", help="administer users, keys, teams and settings (headless)",
                       description="Administration on the database named by RUNYARD_DATABASE_URL. "
                                   "Every command is also a REST call (docs/auth.md).")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    cmds = p.add_subparsers(dest="admin_command", required=True)

    c = cmds.add_parser("create-user", help="create a user and print its first API key")
    c.add_argument("username")
    c.add_argument("--admin", action="store_true", help="make it an instance admin")
    c.add_argument("--password-stdin", action="store_true", help="read a password from stdin (else: key only)")

    cmds.add_parser("list-users", help="list users")

    c = cmds.add_parser("invite", help="print a new invite token for sign-up")
    c.add_argument("--team", help="team the new user joins")
    c.add_argument("--role", choices=admin.ROLES_CHOICES, help="role in the team (default member)")

    c = cmds.add_parser("reset-password", help="set a new password (printed if generated); ends sessions")
    c.add_argument("username")
    c.add_argument("--password-stdin", action="store_true", help="read the new password from stdin")

    for name, text in (("disable-user", "disable a user (its keys and sessions stop working)"),
                       ("enable-user", "enable a disabled user"), ("grant-admin", "make a user instance admin"),
                       ("revoke-admin", "take instance admin from a user")):
        cmds.add_parser(name, help=text).add_argument("username")

    c = cmds.add_parser("create-key", help="create an API key for a user and print it")
    c.add_argument("username")
    c.add_argument("--name", default="", help="a name for the key")

    cmds.add_parser("list-keys", help="list a user's live API keys").add_argument("username")
    cmds.add_parser("revoke-key", help="revoke an API key by its prefix (the 12 characters after `ry-`)").add_argument(
        "prefix")

    c = cmds.add_parser("create-team", help="create a team")
    c.add_argument("name")
    c.add_argument("--owner", help="username of its first admin")

    c = cmds.add_parser("add-member", help="add a member to a team or change its role")
    c.add_argument("team")
    c.add_argument("username")
    c.add_argument("--role", choices=admin.ROLES_CHOICES, default="member")

    c = cmds.add_parser("remove-member", help="remove a member from a team")
    c.add_argument("team")
    c.add_argument("username")

    cmds.add_parser("list-members", help="list a team's members").add_argument("team")

    c = cmds.add_parser("create-service-account", help="create a service account of a team and print its key")
    c.add_argument("team")
    c.add_argument("name")
    c.add_argument("--role", choices=admin.ROLES_CHOICES, default="member")

    c = cmds.add_parser("open-signup", help="turn open sign-up on or off (or show it)")
    c.add_argument("state", nargs="?", choices=("on", "off"))
    c = cmds.add_parser("team-invites",
                        help="let team admins invite new accounts while sign-up is closed: on or off (or show it)")
    c.add_argument("state", nargs="?", choices=("on", "off"))

    c = cmds.add_parser("audit", help="print the audit log, newest first")
    c.add_argument("--limit", type=int, default=50)
    c.add_argument("--event", help="an event name or prefix, e.g. login")


def _password(args: argparse.Namespace) -> str | None:
    if not getattr(args, "password_stdin", False):
        return None
    text = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
    return check_password(text)


async def _run(settings: Settings, args: argparse.Namespace) -> Any:
    cmd = args.admin_command
    password = _password(args)
    password_hash = hash_password(password) if password else None
    pool = await create_pool(settings.database_url, min_size=0, max_size=2,
                             statement_cache_size=settings.db_statement_cache_size)
    cache = KeyCache(settings.redis_url, settings.key_cache_ttl_s or 1.0)
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                result, hashes = await _dispatch(conn, settings, args, cmd, password_hash)
        await cache.invalidate(hashes)
        return result
    finally:
        await cache.close()
        await pool.close()


async def _dispatch(conn: asyncpg.Connection, settings: Settings, args: argparse.Namespace, cmd: str,
                    password_hash: str | None) -> tuple[Any, list[bytes]]:
    if cmd == "create-user":
        key = await admin.create_user(conn, None, args.username, password_hash, is_admin=args.admin)
        return {"username": args.username, "api_key": key.api_key}, []
    if cmd == "list-users":
        return [{k: (str(v) if k == "created_at" else v) for k, v in dict(r).items()}
                for r in await list_users(conn)], []
    if cmd == "invite":
        token, expires = await admin.create_invite(conn, None, timedelta(seconds=settings.invite_ttl_s),
                                                   team=args.team, role=args.role)
        return {"token": token, "expires_at": iso(expires)}, []
    if cmd == "reset-password":
        password = None
        if password_hash is None:
            password = admin.temporary_password()
            password_hash = hash_password(password)
        await admin.reset_password(conn, None, args.username, password_hash)
        return {"username": args.username, **({"password": password} if password else {})}, []
    if cmd in ("disable-user", "enable-user", "grant-admin", "revoke-admin"):
        disabled = {"disable-user": True, "enable-user": False}.get(cmd)
        is_admin = {"grant-admin": True, "revoke-admin": False}.get(cmd)
        hashes = await admin.set_user_flags(conn, None, args.username, disabled=disabled, is_admin=is_admin)
        flags = {k: v for k, v in (("disabled", disabled), ("is_admin", is_admin)) if v is not None}
        return {"username": args.username, **flags}, hashes
    if cmd == "create-key":
        user = await admin.user_or_404(conn, args.username)
        key = await admin.create_key(conn, None, user["id"], args.name)
        return {"username": args.username, "prefix": key.prefix, "name": key.name, "api_key": key.api_key}, []
    if cmd == "list-keys":
        user = await admin.user_or_404(conn, args.username)
        return [{"id": r["id"], "prefix": r["prefix"], "name": r["name"], "created_at": str(r["created_at"]),
                 "last_used_at": str(r["last_used_at"]) if r["last_used_at"] else None}
                for r in await qk.list_keys(conn, user["id"])], []
    if cmd == "revoke-key":
        prefix = key_prefix_of(args.prefix)
        row = await qk.key_by_prefix(conn, prefix)
        if row is None or row["revoked_at"] is not None:
            raise NotFound(f"no live API key with prefix {prefix!r}")
        key_hash = await admin.revoke_key(conn, None, row)
        return {"revoked": prefix, "username": row["username"]}, [key_hash] if key_hash else []
    if cmd == "create-team":
        await admin.create_team(conn, None, args.name, owner=args.owner)
        return {"team": args.name, "owner": args.owner}, []
    if cmd == "add-member":
        old = await admin.set_member(conn, None, args.team, args.username, args.role)
        return {"team": args.team, "username": args.username, "role": args.role, "was": old}, []
    if cmd == "remove-member":
        await admin.remove_member(conn, None, args.team, args.username)
        return {"team": args.team, "removed": args.username}, []
    if cmd == "list-members":
        return [{"username": r["username"], "role": r["role"], "is_service": r["is_service"]}
                for r in await admin.members(conn, None, args.team)], []
    if cmd == "create-service-account":
        key = await admin.create_service_account(conn, None, args.team, args.name, args.role)
        return {"username": args.name, "team": args.team, "role": args.role, "api_key": key.api_key}, []
    if cmd == "open-signup":
        if args.state:
            await admin.set_open_signup(conn, None, args.state == "on")
        return {"open_signup": await admin.open_signup(conn, settings.open_signup)}, []
    if cmd == "team-invites":
        if args.state:
            await admin.set_team_admin_invites(conn, None, args.state == "on")
        return {"team_admin_invites": await admin.team_admin_invites(conn, settings.team_admin_invites)}, []
    if cmd == "audit":
        from ..common import audit

        rows = await audit.read(conn, limit=args.limit, before_id=None, event=args.event)
        return [{"id": r["id"], "at": str(r["at"]), "event": r["event"], "actor": r["actor"], "target": r["target"],
                 "address": r["address"], "detail": r["detail"]} for r in rows], []
    raise SystemExit(f"unknown admin command {cmd!r}")


def _print(result: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, default=str))
        return
    rows = result if isinstance(result, list) else [result]
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items() if v is not None))


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Entry point of `runyard-server admin`: 0 on success, 1 with one line on a refused action."""
    try:
        result = asyncio.run(_run(settings, args))
    except RunyardError as err:
        print(f"runyard-server admin: {err.message}", file=sys.stderr)
        return 1
    _print(result, args.json)
    return 0

