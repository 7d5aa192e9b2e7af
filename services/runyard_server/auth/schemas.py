"""Request and response bodies of the auth service (also what the OpenAPI spec shows)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Credentials(BaseModel):
    username: str = Field(examples=["ada"])
    password: str = Field(examples=["correct horse battery staple"])


class SignupOut(BaseModel):
    username: str
    api_key: str = Field(description="shown once; only its hash is stored")


class ViewerOut(BaseModel):
    username: str
    entity: str
    is_admin: bool


class ErrorOut(BaseModel):
    """Every error: a message for a person and a stable code (docs/api.md)."""

    detail: str
    code: str = Field(examples=["not_found", "invalid_argument", "unauthenticated", "permission_denied"])


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in [(400, "a value breaks a rule"), (401, "no or bad credentials"),
                         (403, "not allowed (or missing CSRF token)"), (404, "absent, or hidden from you"),
                         (422, "malformed request")]
}
