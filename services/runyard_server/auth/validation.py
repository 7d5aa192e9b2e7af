"""Username and password rules, with messages a person can act on."""

from __future__ import annotations

from ..common.errors import InvalidArgument
from ..common.limits import PASSWORD_MAX, PASSWORD_MIN
from ..common.names import ENTITY_NAME_RE, RESERVED_ENTITY_NAMES

USERNAME_RE = ENTITY_NAME_RE
MIN_PASSWORD = PASSWORD_MIN
MAX_PASSWORD = PASSWORD_MAX


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise InvalidArgument(
            "username must be 1-64 characters: lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    if username in RESERVED_ENTITY_NAMES:
        raise InvalidArgument(f"the name {username!r} is reserved (its URLs belong to the server: "
                              f"{', '.join(sorted(RESERVED_ENTITY_NAMES))}); choose another")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidArgument(f"password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidArgument(f"password must be at most {MAX_PASSWORD} characters")
    return password
