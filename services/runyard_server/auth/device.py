"""The device cookie: "this browser signed in to this account before", so login throttling spares it.

After a successful password login the browser gets `runyard_device` = `<user id>.<issued>.<mac>`, where
the mac is an HMAC-SHA256 keyed with the account's stored password hash (a secret only the server holds;
nothing else is stored). It proves a past success for that account until it expires (90 days) or the
password changes (the key changes, so every device cookie of the account dies with the old password).
It grants nothing but skipping the per-account wait of login throttling (auth/ratelimit.py); the password
is still needed. HttpOnly, SameSite=Strict, sent only to the login path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from fastapi import Request, Response

DEVICE_COOKIE = "runyard_device"
DEVICE_PATH = "/api/v1/auth/login"
DEVICE_TTL_S = 90 * 86400

__all__ = ["DEVICE_COOKIE", "device_for", "issue", "set_device_cookie", "valid"]


def _mac(password_hash: str, user_id: int, issued: int) -> str:
    msg = f"runyard-device:{user_id}:{issued}".encode()
    digest = hmac.new(password_hash.encode(), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(user_id: int, password_hash: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"{user_id}.{issued}.{_mac(password_hash, user_id, issued)}"


def valid(token: str, user_id: int, password_hash: str | None, now: float | None = None) -> bool:
    """True when `token` was issued to this account under its current password and has not expired."""
    if not password_hash or not token or len(token) > 200:
        return False
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return False
    uid, issued = int(parts[0]), int(parts[1])
    current = now if now is not None else time.time()
    if uid != user_id or not (current - DEVICE_TTL_S <= issued <= current + 60):
        return False
    return hmac.compare_digest(parts[2], _mac(password_hash, user_id, issued))


def device_for(request: Request, user_id: int | None, password_hash: str | None) -> str | None:
    """The request's device cookie when it is valid for this account, else None."""
    token = request.cookies.get(DEVICE_COOKIE, "")
    if user_id is None or not valid(token, user_id, password_hash):
        return None
    return token


def set_device_cookie(response: Response, request: Request, user_id: int, password_hash: str) -> None:
    settings = getattr(request.app.state, "settings", None)
    secure = request.url.scheme == "https" or bool(getattr(settings, "secure_cookies", False))
    response.set_cookie(DEVICE_COOKIE, issue(user_id, password_hash), max_age=DEVICE_TTL_S, path=DEVICE_PATH,
                        httponly=True, samesite="strict", secure=secure)
