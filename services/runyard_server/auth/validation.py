"""Username and password rules, with messages a person can act on."""

from __future__ import annotations

import re

from ..common.errors import InvalidArgument

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise InvalidArgument(
            "username must be 1-64 characters: lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidArgument(f"password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidArgument(f"password must be at most {MAX_PASSWORD} characters")
    return password
