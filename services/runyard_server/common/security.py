"""Secrets: API keys (random, stored as SHA-256) and passwords (argon2id)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
KEY_PREFIX = "ry"
_PREFIX_LEN = 12  # hex characters of the lookup prefix


def new_api_key() -> tuple[str, str, bytes]:
    """A new key: (full key shown once, lookup prefix, hash to store).

    Keys look like `ry-<12 hex prefix>_<43 url-safe characters>`. The dash after `ry` makes the key an
    "on-prem" key for the `wandb` client (`<prefix>-<40+ word characters>`), so `wandb login --host`
    accepts it unchanged. Keys issued before (`ry_<prefix>_<secret>`) keep working (`split_api_key`).
    """
    prefix = secrets.token_hex(_PREFIX_LEN // 2)
    secret = secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}-{prefix}_{secret}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def split_api_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key (`ry-<prefix>_<secret>`, or the older
    `ry_<prefix>_<secret>`), else None."""
    head = f"{KEY_PREFIX}-", f"{KEY_PREFIX}_"
    if not key.startswith(head):
        return None
    prefix, sep, secret = key[len(KEY_PREFIX) + 1:].partition("_")
    if len(prefix) != _PREFIX_LEN or not sep or not secret:
        return None
    return prefix


def key_prefix_of(text: str) -> str:
    """The lookup prefix named by `text`: a whole key (either form), `ry-<prefix>`, or the bare prefix."""
    for head in (f"{KEY_PREFIX}-", f"{KEY_PREFIX}_"):
        if text.startswith(head):
            text = text[len(head):]
            break
    return text.split("_", 1)[0]


def api_key_matches(key: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_hash)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Constant work whether or not the user exists (a dummy hash is checked when there is none)."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
