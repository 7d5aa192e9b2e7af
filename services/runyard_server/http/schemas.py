"""What every HTTP service's OpenAPI document shares: the error body, and the JSON value type."""

from __future__ import annotations

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

# Any JSON value (config, summary, metadata), as a named recursive schema: generated clients get a real
# type (`null | boolean | number | string | JsonValue[] | {[k: string]: JsonValue}`) instead of `unknown`.
JsonValue = TypeAliasType(
    "JsonValue", "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
)


class ErrorOut(BaseModel):
    """Every error: a message for a person and a stable code (docs/api.md)."""

    detail: str
    code: str = Field(examples=["not_found", "invalid_argument", "unauthenticated", "permission_denied"])


_TEXT = {
    400: "a value breaks a rule",
    401: "no or bad credentials",
    403: "not allowed (or missing CSRF token)",
    404: "absent, or hidden from you",
    409: "taken, or the state does not allow it",
    413: "too large",
    422: "malformed request",
    429: "rate limited (see Retry-After)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """`responses=` for a router: the given statuses, each answered with `ErrorOut`."""
    return {s: {"model": ErrorOut, "description": _TEXT[s]} for s in statuses}
