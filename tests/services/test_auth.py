"""Auth service: first-run sign-up, API keys, viewer, browser sessions with CSRF."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from runyard_server.common.security import hash_api_key, key_prefix_of
from runyard_server.common.verifier import token_hash

from .harness import METRICS_AUTH, Services

PASSWORD = "correct horse battery"


def signup(svc: Services, username: str = "ada", password: str = PASSWORD, **kw: Any) -> httpx.Response:
    return httpx.post(f"{svc.auth_url}/api/v1/auth/signup", json={"username": username, "password": password},
                      **kw)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def set_cookies(resp: httpx.Response) -> dict[str, str]:
    """cookie name -> its full Set-Cookie header (lower-cased attributes)."""
    out = {}
    for header in resp.headers.get_list("set-cookie"):
        out[header.split("=", 1)[0]] = header.lower()
    return out


@pytest.fixture(scope="module")
def admin(services: Services) -> dict[str, Any]:
    info = httpx.get(f"{services.query_url}/api/v1/server-info").json()
    assert info["needs_setup"] is True
    resp = signup(services)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_first_signup_creates_admin_entity_and_hashed_key(services: Services, admin: dict[str, Any]) -> None:
    assert admin["username"] == "ada"
    key = admin["api_key"]
    assert re.fullmatch(r"ry-[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key), key
    users = services.sql("SELECT username, is_admin, password_hash FROM users")
    assert [(u["username"], u["is_admin"]) for u in users] == [("ada", True)]
    assert users[0]["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in users[0]["password_hash"]
    entities = services.sql("SELECT name, kind FROM entities")
    assert [(e["name"], e["kind"]) for e in entities] == [("ada", "user")]
    keys = services.sql("SELECT prefix, key_hash FROM api_keys")
    assert len(keys) == 1 and bytes(keys[0]["key_hash"]) == hash_api_key(key)
    assert key_prefix_of(key) == keys[0]["prefix"] == key[3:15]
    info = httpx.get(f"{services.query_url}/api/v1/server-info").json()
    assert info["needs_setup"] is False


def test_second_signup_is_refused(services: Services, admin: dict[str, Any]) -> None:
    resp = signup(services, "bob")
    assert resp.status_code == 403
    body = resp.json()
    assert body["code"] == "permission_denied"
    assert "sign-up is closed" in body["detail"]
    assert [u["username"] for u in services.sql("SELECT username FROM users")] == ["ada"]


@pytest.mark.parametrize("username", ["", "Ada", "with space", "-dash-first", "x" * 65, "ünï"])
def test_signup_rejects_bad_usernames(services: Services, username: str) -> None:
    resp = signup(services, username)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "invalid_argument"
    assert "username must be 1-64 characters" in resp.json()["detail"]


def test_signup_rejects_short_password_and_malformed_bodies(services: Services) -> None:
    resp = signup(services, "newbie", "short")
    assert resp.status_code == 400
    assert resp.json() == {"detail": "password must be at least 8 characters", "code": "invalid_argument"}
    resp = httpx.post(f"{services.auth_url}/api/v1/auth/signup", json={"username": "newbie"})
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_argument"
    assert "password" in resp.json()["detail"]


def test_concurrent_first_signups_make_exactly_one_admin(fresh_services: Services) -> None:
    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(
                client.post(f"{fresh_services.auth_url}/api/v1/auth/signup",
                            json={"username": f"user{i}", "password": PASSWORD})
                for i in range(8)
            ))

    responses = asyncio.run(race())
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [403] * 7, [r.text for r in responses]
    rows = fresh_services.sql("SELECT username, is_admin FROM users")
    assert len(rows) == 1 and rows[0]["is_admin"]
    assert len(fresh_services.sql("SELECT 1 FROM api_keys")) == 1


def test_viewer_with_good_bad_and_no_key(services: Services, admin: dict[str, Any]) -> None:
    url = f"{services.auth_url}/api/v1/viewer"
    resp = httpx.get(url, headers=bearer(admin["api_key"]))
    assert resp.status_code == 200
    assert resp.json() == {"username": "ada", "entity": "ada", "is_admin": True}

    prefix = key_prefix_of(admin["api_key"])
    for bad in (f"ry-{prefix}_wrong-secret", f"ry_{prefix}_wrong-secret", "ry-000000000000_nope", "garbage"):
        resp = httpx.get(url, headers=bearer(bad))
        assert resp.status_code == 401, bad
        assert resp.json()["code"] == "unauthenticated"
        assert resp.headers["www-authenticate"] == "Bearer"

    resp = httpx.get(url)
    assert resp.status_code == 401
    assert "not signed in" in resp.json()["detail"]
    resp = httpx.get(url, headers={"Authorization": "Basic YWRhOnB3"})
    assert resp.status_code == 401
    assert "Bearer" in resp.json()["detail"]

    services.sql("UPDATE api_keys SET revoked_at = now()")
    try:
        resp = httpx.get(url, headers=bearer(admin["api_key"]))
        assert resp.status_code == 401 and "revoked" in resp.json()["detail"]
    finally:
        services.sql("UPDATE api_keys SET revoked_at = NULL")


def test_login_errors_do_not_reveal_which_part_was_wrong(services: Services, admin: dict[str, Any]) -> None:
    url = f"{services.auth_url}/api/v1/auth/login"
    wrong_password = httpx.post(url, json={"username": "ada", "password": "not the password"})
    wrong_user = httpx.post(url, json={"username": "nobody", "password": PASSWORD})
    assert wrong_password.status_code == wrong_user.status_code == 401
    assert wrong_password.json() == wrong_user.json() == {
        "detail": "wrong username or password", "code": "unauthenticated"}
    assert not set_cookies(wrong_password) and not set_cookies(wrong_user)


def test_login_session_cookie_csrf_and_logout(services: Services, admin: dict[str, Any]) -> None:
    with httpx.Client(base_url=services.auth_url) as browser:
        resp = browser.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"username": "ada", "entity": "ada", "is_admin": True}
        cookies = set_cookies(resp)
        session, csrf_cookie = cookies["runyard_session"], cookies["runyard_csrf"]
        assert "httponly" in session and "samesite=lax" in session and "path=/" in session
        assert "max-age=1209600" in session  # 14 days
        assert "httponly" not in csrf_cookie and "samesite=lax" in csrf_cookie
        token = browser.cookies["runyard_session"]
        csrf = browser.cookies["runyard_csrf"]
        rows = services.sql("SELECT expires_at - created_at AS ttl FROM sessions WHERE token_hash = $1",
                            token_hash(token))
        assert len(rows) == 1 and rows[0]["ttl"].days == 14  # stored hashed, 14 days

        # safe requests need only the cookie, and the query service accepts it too
        assert browser.get("/api/v1/viewer").json()["username"] == "ada"
        assert httpx.get(f"{services.query_url}/api/v1/projects",
                         cookies={"runyard_session": token}).status_code == 200

        # state-changing requests with the cookie need the CSRF header, equal to cookie and session
        resp = browser.post("/api/v1/auth/logout")
        assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
        assert "X-CSRF-Token" in resp.json()["detail"]
        resp = browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "forged"})
        assert resp.status_code == 403
        # a planted cookie that matches a forged header still fails: the token is bound to the session
        resp = httpx.post(f"{services.auth_url}/api/v1/auth/logout", headers={"X-CSRF-Token": "forged"},
                          cookies={"runyard_session": token, "runyard_csrf": "forged"})
        assert resp.status_code == 403
        live = "SELECT 1 FROM sessions WHERE token_hash = $1"
        assert len(services.sql(live, token_hash(token))) == 1

        resp = browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert resp.status_code == 204
        assert "runyard_session" not in browser.cookies
        assert services.sql(live, token_hash(token)) == []
        resp = httpx.get(f"{services.auth_url}/api/v1/viewer", cookies={"runyard_session": token})
        assert resp.status_code == 401
        # logging out again (no live session) just clears cookies
        assert browser.post("/api/v1/auth/logout").status_code == 204


def test_bearer_requests_need_no_csrf_and_expired_sessions_fail(services: Services, admin: dict[str, Any]) -> None:
    resp = httpx.post(f"{services.auth_url}/api/v1/auth/logout", headers=bearer(admin["api_key"]))
    assert resp.status_code == 204
    login = httpx.post(f"{services.auth_url}/api/v1/auth/login", json={"username": "ADA ", "password": PASSWORD})
    assert login.status_code == 200
    token = login.cookies["runyard_session"]
    services.sql("UPDATE sessions SET expires_at = now() - interval '1 second'")
    resp = httpx.get(f"{services.auth_url}/api/v1/viewer", cookies={"runyard_session": token})
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]


def test_health_ready_metrics_and_openapi(services: Services, admin: dict[str, Any]) -> None:
    base = services.auth_url
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/metrics").status_code == 401  # behind RUNYARD_METRICS_TOKEN
    text = httpx.get(f"{base}/metrics", headers=METRICS_AUTH).text
    assert 'runyard_auth_requests_total{route="/api/v1/viewer",status="200"}' in text
    assert "runyard_auth_logins_total" in text
    spec = httpx.get(f"{base}/api/v1/auth/openapi.json").json()
    assert "/api/v1/auth/signup" in spec["paths"]
