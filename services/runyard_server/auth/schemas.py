"""Request and response bodies of the auth service (also what the OpenAPI spec shows)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..common.limits import (
    EMAIL_MAX,
    ENTITY_NAME_MAX,
    INVITE_TOKEN_MAX,
    KEY_NAME_MAX,
    LOGIN_FIELD_MAX,
)
from ..http.schemas import error_responses

Role = Literal["admin", "member", "viewer"]


class Credentials(BaseModel):
    username: str = Field(examples=["ada"], max_length=LOGIN_FIELD_MAX)
    password: str = Field(examples=["correct horse battery staple"], max_length=LOGIN_FIELD_MAX)


class SignupIn(Credentials):
    invite: str | None = Field(default=None, max_length=INVITE_TOKEN_MAX, description="invite token (after the first admin)")


class SignupOut(BaseModel):
    username: str
    api_key: str = Field(description="shown once; only its hash is stored")


class ViewerOut(BaseModel):
    username: str
    entity: str
    is_admin: bool


class KeyIn(BaseModel):
    name: str = Field(default="", max_length=KEY_NAME_MAX, examples=["laptop"])


class KeyOut(BaseModel):
    id: int
    prefix: str
    name: str
    created_at: str
    last_used_at: str | None


class KeyList(BaseModel):
    keys: list[KeyOut]


class NewKeyOut(BaseModel):
    id: int
    prefix: str
    name: str
    api_key: str = Field(description="shown once; only its hash is stored")


class InviteIn(BaseModel):
    team: str | None = Field(default=None, max_length=ENTITY_NAME_MAX, description="team the new user joins")
    role: Role | None = Field(default=None, description="role in `team` (default member)")


class InviteOut(BaseModel):
    token: str = Field(description="shown once; pass it as `invite` to sign-up")
    expires_at: str


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=LOGIN_FIELD_MAX)
    new_password: str = Field(max_length=LOGIN_FIELD_MAX)


class PasswordResetIn(BaseModel):
    password: str | None = Field(default=None, max_length=LOGIN_FIELD_MAX, description="empty: a temporary one is made")


class PasswordResetOut(BaseModel):
    username: str
    password: str = Field(description="the new password (shown once)")


class TeamIn(BaseModel):
    name: str = Field(max_length=ENTITY_NAME_MAX, examples=["vision"])


class TeamOut(BaseModel):
    name: str
    role: str


class MemberIn(BaseModel):
    username: str = Field(max_length=ENTITY_NAME_MAX)
    role: Role


class MemberOut(BaseModel):
    username: str
    role: str
    is_service: bool
    added_at: str


class MemberList(BaseModel):
    members: list[MemberOut]


class ServiceAccountIn(BaseModel):
    name: str = Field(max_length=ENTITY_NAME_MAX, description="its username", examples=["vision-ci"])
    role: Role = "member"


class EntityOut(BaseModel):
    name: str
    kind: Literal["user", "team"]
    role: str = Field(description="owner (own entity or instance admin), admin, member or viewer")
    can_write: bool
    can_manage: bool


class EntityList(BaseModel):
    entities: list[EntityOut]


class AdminUserIn(BaseModel):
    username: str = Field(max_length=ENTITY_NAME_MAX)
    password: str | None = Field(default=None, max_length=LOGIN_FIELD_MAX, description="empty: API key only")
    email: str | None = Field(default=None, max_length=EMAIL_MAX, description="maps single sign-on (OIDC) to this user")
    is_admin: bool = False


class AdminUserPatch(BaseModel):
    disabled: bool | None = None
    is_admin: bool | None = None


class UserOut(BaseModel):
    username: str
    email: str | None
    is_admin: bool
    disabled: bool
    is_service: bool
    service_team: str | None
    created_at: str


class UserList(BaseModel):
    users: list[UserOut]


class InstanceSettings(BaseModel):
    open_signup: bool = Field(description="anyone may sign up without an invite")
    team_admin_invites: bool = Field(description="team admins may invite new accounts into their teams while "
                                                 "sign-up is closed")


class InstanceSettingsPatch(BaseModel):
    open_signup: bool | None = None
    team_admin_invites: bool | None = None


class AuditEvent(BaseModel):
    id: int
    at: str
    event: str
    actor: str
    target: str
    address: str
    detail: dict[str, object]


class AuditPage(BaseModel):
    events: list[AuditEvent]
    next_before: int | None = Field(description="pass as `before` for the next (older) page; null at the end")


class OidcInfo(BaseModel):
    enabled: bool
    login_url: str | None


ERROR_RESPONSES = error_responses(400, 401, 403, 404, 409, 422, 429)
