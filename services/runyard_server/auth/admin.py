"""Administration actions, shared by the REST routes and `runyard-server admin ...`.

Every function takes an open connection (the caller owns the transaction) and the acting principal;
`actor=None` is the operator at the command line (`runyard-server admin`, which holds the database
credentials) and may do everything. Decisions about who may act go through the shared verifier
(`common.verifier`); each change writes an audit event (`common.audit`). Functions that revoke keys
return the key hashes to drop from the key cache; the caller invalidates after commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from ..common import audit
from ..common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from ..common.limits import EMAIL_MAX, KEY_NAME_MAX
from ..common.security import new_api_key
from ..common.verifier import ROLES, Principal, entity_for_manage, entity_for_read, token_hash
from .queries import invites as qi
from .queries import keys as qk
from .queries import sessions as qs
from .queries import settings as qset
from .queries import teams as qt
from .queries import users as qu
from .validation import check_username

OPEN_SIGNUP = "open_signup"
TEAM_ADMIN_INVITES = "team_admin_invites"
_NO_TEAM_INVITES = (
    "team admins may not invite new accounts on this server: sign-up is closed and an instance admin decides "
    "who may invite (PATCH /api/v1/admin/settings {\"team_admin_invites\": true}); add people who already "
    "have an account with POST /api/v1/teams/{team}/members"
)
ROLES_CHOICES = ROLES


@dataclass(frozen=True)
class NewKey:
    id: int
    prefix: str
    name: str
    api_key: str


def _name(actor: Principal | None) -> str:
    return actor.username if actor else "cli"


def require_instance_admin(actor: Principal | None) -> None:
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("only instance admins may do this")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return role


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > EMAIL_MAX or email.count("@") != 1 or not all(email.split("@")) or " " in email:
        raise InvalidArgument("email must look like name@domain")
    return email


async def _record(conn: asyncpg.Connection, event: str, actor: Principal | None, target: str = "",
                  address: str = "", **detail: Any) -> None:
    await audit.record(conn, event, actor=actor, actor_name=_name(actor), target=target, address=address,
                       detail=detail)


# ---- users ------------------------------------------------------------------------------------------
async def create_user(
    conn: asyncpg.Connection, actor: Principal | None, username: str, password_hash: str | None, *,
    is_admin: bool = False, key_name: str = "first key", email: str | None = None, address: str = "",
    event: str = "user.create",
) -> NewKey:
    """A user with its entity and a first API key. Raises AlreadyExists on a taken name."""
    check_username(username)
    if await qu.entity_exists(conn, username):
        raise AlreadyExists(f"the name {username!r} is taken")
    try:
        async with conn.transaction():
            user_id = await qu.create_user(conn, username, password_hash, is_admin=is_admin)
            if email:
                await qu.set_email(conn, user_id, email)
    except asyncpg.UniqueViolationError as exc:
        if "email" in (exc.constraint_name or ""):
            raise AlreadyExists("another user has this email address") from None
        raise AlreadyExists(f"the name {username!r} is taken") from None
    key = await create_key(conn, None, user_id, key_name, audit_event=False)
    await _record(conn, event, actor, username, address, is_admin=is_admin)
    return key


async def user_or_404(conn: asyncpg.Connection, username: str) -> asyncpg.Record:
    row = await qu.user_by_name(conn, username)
    if row is None:
        raise NotFound(f"user {username!r} not found")
    return row


async def set_user_flags(
    conn: asyncpg.Connection, actor: Principal | None, username: str, *, disabled: bool | None = None,
    is_admin: bool | None = None, address: str = "",
) -> list[bytes]:
    """Disable/enable a user or grant/take instance admin. Returns key hashes to invalidate."""
    require_instance_admin(actor)
    row = await user_or_404(conn, username)
    if actor is not None and actor.user_id == row["id"] and (disabled or is_admin is False):
        raise FailedPrecondition("you may not disable yourself or drop your own admin rights; ask another admin")
    if (disabled or is_admin is False) and row["is_admin"] and await qu.admin_count(conn) <= 1:
        raise FailedPrecondition("this is the last active admin: make another admin first")
    await qu.set_flags(conn, row["id"], disabled=disabled, is_admin=is_admin)
    if disabled is not None:
        await _record(conn, "user.disable" if disabled else "user.enable", actor, username, address)
        if disabled:
            await qs.delete_user_sessions(conn, row["id"])
    if is_admin is not None:
        await _record(conn, "user.admin", actor, username, address, is_admin=is_admin)
    return await qk.user_key_hashes(conn, row["id"])


async def reset_password(
    conn: asyncpg.Connection, actor: Principal | None, username: str, password_hash: str, address: str = ""
) -> None:
    """Admin reset: set a new password and end every session of the user."""
    require_instance_admin(actor)
    row = await user_or_404(conn, username)
    if row["is_service"]:
        raise FailedPrecondition("service accounts have no password; they use API keys")
    await qu.set_password(conn, row["id"], password_hash)
    ended = await qs.delete_user_sessions(conn, row["id"])
    await _record(conn, "password.reset", actor, username, address, sessions_ended=ended)


def temporary_password() -> str:
    return secrets.token_urlsafe(12)


# ---- API keys ---------------------------------------------------------------------------------------
async def create_key(
    conn: asyncpg.Connection, actor: Principal | None, user_id: int, name: str, *, audit_event: bool = True,
    address: str = "",
) -> NewKey:
    if len(name) > KEY_NAME_MAX:
        raise InvalidArgument(f"a key name is at most {KEY_NAME_MAX} characters")
    api_key, prefix, key_hash = new_api_key()
    key_id = await qu.create_api_key(conn, user_id, prefix, key_hash, name=name)
    if audit_event:
        owner = await conn.fetchval("SELECT username FROM users WHERE id = $1", user_id)
        await _record(conn, "key.create", actor, owner, address, prefix=prefix, name=name)
    return NewKey(key_id, prefix, name, api_key)


async def revoke_key(
    conn: asyncpg.Connection, actor: Principal | None, key: asyncpg.Record, address: str = "", *,
    allowed: bool = False,
) -> bytes | None:
    """Revoke `key` (a row of queries.keys): its owner or an instance admin (or whoever the caller
    already `allowed`, e.g. a team admin for its service accounts). Returns the hash to drop."""
    if not allowed and actor is not None and not actor.is_admin and key["user_id"] != actor.user_id:
        raise NotFound("API key not found")
    key_hash = await qk.revoke(conn, key["id"])
    if key_hash is not None:
        await _record(conn, "key.revoke", actor, key["username"], address, prefix=key["prefix"], name=key["name"])
    return key_hash


# ---- invites and sign-up ----------------------------------------------------------------------------
async def _team_id(conn: asyncpg.Connection, actor: Principal | None, team: str, *, manage: bool) -> int:
    """The team's entity id, when `actor` may manage it (`manage`) or read it; `actor` None is the CLI
    (a local operator with the database credentials, allowed everything)."""
    if actor is None:
        row = await qt.team_by_name(conn, team)
        if row is None:
            raise NotFound(f"team {team!r} not found")
        return int(row["id"])
    ent = await (entity_for_manage if manage else entity_for_read)(conn, actor, team)
    if ent["kind"] != "team":
        raise NotFound(f"team {team!r} not found")
    return int(ent["id"])


async def may_invite_new_accounts(conn: asyncpg.Connection, *, open_default: bool, team_default: bool) -> bool:
    """Whether team admins (who are not instance admins) may invite new accounts: when sign-up is open
    (anyone may sign up anyway) or an instance admin allowed it (`team_admin_invites`)."""
    return await open_signup(conn, open_default) or await team_admin_invites(conn, team_default)


async def create_invite(
    conn: asyncpg.Connection, actor: Principal | None, ttl: timedelta, *, team: str | None = None,
    role: str | None = None, address: str = "", open_default: bool = False, team_default: bool = False,
) -> tuple[str, datetime]:
    """An invite token (shown once). Instance admins invite anyone; team admins invite into their team, and
    only while sign-up is open or an instance admin lets team admins invite (the sign-up policy holds)."""
    team_id = None
    if team:
        check_role(role or "member")
        team_id = await _team_id(conn, actor, team, manage=True)
        role = role or "member"
        if actor is not None and not actor.is_admin and not await may_invite_new_accounts(
                conn, open_default=open_default, team_default=team_default):
            raise PermissionDenied(_NO_TEAM_INVITES.replace("{team}", team))
    else:
        require_instance_admin(actor)
        if role:
            raise InvalidArgument("a role needs a team")
    token = secrets.token_urlsafe(24)
    expires = await qi.create_invite(conn, token_hash(token), actor.user_id if actor else None, team_id, role, ttl)
    await _record(conn, "invite.create", actor, team or "", address, team=team, role=role)
    return token, expires


async def invite_still_allowed(conn: asyncpg.Connection, invite: asyncpg.Record, *, open_default: bool,
                               team_default: bool) -> bool:
    """At sign-up: an invite counts only while its maker could still make it. One from an instance admin
    (or the CLI) stays good; one from a team admin needs the maker to still administer the team and team
    admins to still be allowed to invite. A disabled maker's invites are void."""
    if invite["created_by"] is None:
        return True  # the operator at the command line
    maker = await conn.fetchrow("SELECT is_admin, disabled FROM users WHERE id = $1", invite["created_by"])
    if maker is None or maker["disabled"]:
        return False
    if maker["is_admin"]:
        return True
    if invite["team_id"] is None:
        return False
    role = await conn.fetchval("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2",
                               invite["team_id"], invite["created_by"])
    return role == "admin" and await may_invite_new_accounts(conn, open_default=open_default,
                                                             team_default=team_default)


async def open_signup(conn: asyncpg.Connection, default: bool) -> bool:
    return bool(await qset.get_setting(conn, OPEN_SIGNUP, default))


async def team_admin_invites(conn: asyncpg.Connection, default: bool) -> bool:
    return bool(await qset.get_setting(conn, TEAM_ADMIN_INVITES, default))


async def set_team_admin_invites(conn: asyncpg.Connection, actor: Principal | None, value: bool,
                                 address: str = "") -> None:
    require_instance_admin(actor)
    await qset.put_setting(conn, TEAM_ADMIN_INVITES, bool(value), actor.user_id if actor else None)
    await _record(conn, "settings.change", actor, TEAM_ADMIN_INVITES, address, team_admin_invites=bool(value))


async def set_open_signup(conn: asyncpg.Connection, actor: Principal | None, value: bool, address: str = "") -> None:
    require_instance_admin(actor)
    await qset.put_setting(conn, OPEN_SIGNUP, bool(value), actor.user_id if actor else None)
    await _record(conn, "settings.change", actor, OPEN_SIGNUP, address, open_signup=bool(value))


# ---- teams ------------------------------------------------------------------------------------------
async def create_team(conn: asyncpg.Connection, actor: Principal | None, name: str, *, owner: str | None = None,
                      address: str = "") -> int:
    """A team; its creator (or `owner`, from the CLI) becomes its first admin."""
    check_username(name)
    if actor is not None and actor.is_service:
        raise PermissionDenied("service accounts may not create teams")
    if await qu.entity_exists(conn, name):
        raise AlreadyExists(f"the name {name!r} is taken")
    try:
        async with conn.transaction():
            team_id = await qt.create_team(conn, name)
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(f"the name {name!r} is taken") from None
    first_admin = actor.user_id if actor is not None else None
    if owner:
        first_admin = int((await user_or_404(conn, owner))["id"])
    if first_admin is not None:
        await qt.set_member(conn, team_id, first_admin, "admin")
    await _record(conn, "team.create", actor, name, address, owner=owner)
    return team_id


async def set_member(conn: asyncpg.Connection, actor: Principal | None, team: str, username: str, role: str,
                     address: str = "") -> str | None:
    """Add a member or change its role (team admins, instance admins). Returns the previous role."""
    check_role(role)
    team_id = await _team_id(conn, actor, team, manage=True)
    user = await user_or_404(conn, username)
    await qt.lock_team(conn, team_id)
    old = await qt.set_member(conn, team_id, user["id"], role)
    if old == "admin" and role != "admin" and await qt.admin_count(conn, team_id) == 0:
        raise FailedPrecondition(f"{username!r} is the last admin of {team!r}: make another admin first")
    if old != role:
        await _record(conn, "member.add" if old is None else "member.role", actor, f"{team}/{username}", address,
                      role=role, was=old)
    return old


async def remove_member(conn: asyncpg.Connection, actor: Principal | None, team: str, username: str,
                        address: str = "") -> None:
    team_id = await _team_id(conn, actor, team, manage=True)
    user = await user_or_404(conn, username)
    await qt.lock_team(conn, team_id)
    old = await qt.remove_member(conn, team_id, user["id"])
    if old is None:
        raise NotFound(f"{username!r} is not a member of {team!r}")
    if old == "admin" and await qt.admin_count(conn, team_id) == 0:
        raise FailedPrecondition(f"{username!r} is the last admin of {team!r}: make another admin first")
    await _record(conn, "member.remove", actor, f"{team}/{username}", address, was=old)


async def members(conn: asyncpg.Connection, actor: Principal | None, team: str) -> list[asyncpg.Record]:
    """Members of a team: readable by its members (any role) and instance admins."""
    return await qt.members(conn, await _team_id(conn, actor, team, manage=False))


async def create_service_account(
    conn: asyncpg.Connection, actor: Principal | None, team: str, username: str, role: str = "member",
    address: str = "",
) -> NewKey:
    """A password-less user of `team` (for CI) with the given role and a first key."""
    check_role(role)
    check_username(username)
    team_id = await _team_id(conn, actor, team, manage=True)
    if await qu.entity_exists(conn, username):
        raise AlreadyExists(f"the name {username!r} is taken")
    try:
        async with conn.transaction():
            user_id = await qu.create_user(conn, username, None, is_admin=False)
            await conn.execute("UPDATE users SET is_service = true, service_team_id = $2 WHERE id = $1",
                               user_id, team_id)
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(f"the name {username!r} is taken") from None
    await qt.set_member(conn, team_id, user_id, role)
    key = await create_key(conn, None, user_id, "service account key", audit_event=False)
    await _record(conn, "service_account.create", actor, f"{team}/{username}", address, role=role,
                  prefix=key.prefix)
    return key


async def service_account_for_manage(conn: asyncpg.Connection, actor: Principal | None, team: str,
                                     name: str) -> asyncpg.Record:
    """The service account `name` of `team` (a user row) when `actor` may manage the team."""
    team_id = await _team_id(conn, actor, team, manage=True)
    row = await qu.user_by_name(conn, name)
    if row is None or not row["is_service"] or row["service_team_id"] != team_id:
        raise NotFound(f"service account {name!r} of {team!r} not found")
    return row
