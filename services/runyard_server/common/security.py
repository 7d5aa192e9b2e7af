"""Secrets: API keys (random, stored as SHA-256) and passwords (argon2id)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
KEY_PREFIX = "ry"


def new_api_key() -> tuple[str, str, bytes]:
    """A new key: (full key shown once, lookup prefix, hash to store)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}_{prefix}_{secret}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def split_api_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


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
