"""Login throttling slows a password guesser down without locking the owner out (auth/ratelimit.py)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from runyard_server.auth import device
from tests.services.harness import Services, running_services

pytestmark = [pytest.mark.local]

PW = "the-owners-password"
FREE = 3


ROOT_KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def svc(stack: Any) -> Iterator[Services]:
    """Behind a trusted proxy, so each test attacks from addresses of its own (the counters live in the
    session's Redis, like in production)."""
    with running_services(stack.database_url, redis_url=stack.redis_url, trusted_proxies="127.0.0.1",
                          login_rate_per_user=FREE, login_max_delay_s=2, login_rate_per_address=1000) as s:
        r = httpx.post(f"{s.auth_url}/api/v1/auth/signup", json={"username": "root", "password": PW})
        assert r.status_code == 201
        ROOT_KEY["key"] = r.json()["api_key"]
        yield s


def new_user(svc: Services) -> str:
    name = "owner-" + secrets.token_hex(4)
    r = httpx.post(f"{svc.auth_url}/api/v1/admin/users", json={"username": name, "password": PW},
                   headers={"Authorization": f"Bearer {ROOT_KEY['key']}"})
    assert r.status_code == 201, r.text
    return name


def attempt(svc: Services, client: httpx.Client | None, username: str, password: str, address: str) -> httpx.Response:
    c: Any = client or httpx
    return c.post(f"{svc.auth_url}/api/v1/auth/login", json={"username": username, "password": password},
                  headers={"X-Forwarded-For": address}, timeout=30)


def hammer(svc: Services, username: str, address: str, tries: int = FREE + 4) -> list[int]:
    return [attempt(svc, None, username, "guess-" + secrets.token_hex(3), address).status_code for _ in range(tries)]


def test_the_owners_browser_is_never_slowed_down(svc: Services) -> None:
    user = new_user(svc)
    with httpx.Client() as owner:
        assert attempt(svc, owner, user, PW, "198.51.100.1").status_code == 200  # the browser gets its cookie
        cookie = next(c for c in owner.cookies.jar if c.name == device.DEVICE_COOKIE)
        assert cookie.path == device.DEVICE_PATH and cookie.has_nonstandard_attr("HttpOnly")
        codes = hammer(svc, user, "203.0.113.66")  # the attacker, from elsewhere
        assert codes[:FREE] == [401] * FREE and 429 in codes[FREE:], codes
        # while the account is throttled for everyone else, the owner's browser logs in at once
        r = attempt(svc, owner, user, PW, "198.51.100.1")
        assert r.status_code == 200, r.text
        # ... and the successful login gave the account its free tries back
        assert attempt(svc, None, user, "wrong-again", "203.0.113.66").status_code == 401


def test_a_new_browser_waits_but_is_never_locked_out(svc: Services) -> None:
    user = new_user(svc)
    codes = hammer(svc, user, "203.0.113.77")
    assert 429 in codes, codes
    r = attempt(svc, None, user, PW, "198.51.100.2")  # right password, unknown browser, during the wait
    if r.status_code == 429:
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= 2  # RUNYARD_LOGIN_MAX_DELAY_S
        assert "try again in" in r.json()["detail"]
        time.sleep(wait + 0.2)
        r = attempt(svc, None, user, PW, "198.51.100.2")
    assert r.status_code == 200, r.text


def test_parallel_guesses_cannot_slip_through_together(svc: Services) -> None:
    user = new_user(svc)
    start = time.monotonic()
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda i: attempt(svc, None, user, f"guess-{i}", f"203.0.113.{100 + i}").status_code,
                              range(24)))
    elapsed = time.monotonic() - start
    checked = codes.count(401)
    # the free tries, then at most one per slot (>= 1 s each) while the burst lasted; the rest waited
    assert checked <= FREE + 1 + int(elapsed), (codes, elapsed)
    assert codes.count(429) == 24 - checked and codes.count(429) >= 12, codes


def test_unknown_accounts_are_slowed_like_real_ones(svc: Services) -> None:
    real, ghost = new_user(svc), "ghost-" + secrets.token_hex(4)
    assert hammer(svc, real, "203.0.113.88")[:FREE + 1] == hammer(svc, ghost, "203.0.113.89")[:FREE + 1]


def test_device_cookies_die_with_the_password() -> None:
    token = device.issue(7, "$argon2id$v=19$old-hash")
    assert device.valid(token, 7, "$argon2id$v=19$old-hash")
    assert not device.valid(token, 7, "$argon2id$v=19$new-hash")  # the password changed
    assert not device.valid(token, 8, "$argon2id$v=19$old-hash")  # another account
    assert not device.valid(token.replace(".", ".9", 1), 7, "$argon2id$v=19$old-hash")  # tampered
    old = device.issue(7, "h", now=time.time() - device.DEVICE_TTL_S - 10)
    assert not device.valid(old, 7, "h")
