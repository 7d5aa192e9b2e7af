"""Forwarded headers are believed only from configured proxies (RUNYARD_TRUSTED_PROXIES; default none):
a client on the same machine cannot forge its address to dodge the per-address login limit or to write
someone else's address into the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runyard_server.common.netaddr import client_from_forwarded, parse_networks
from runyard_server.common.settings import SettingsError, load_settings
from tests.services.harness import Services, running_services

pytestmark = [pytest.mark.local]

PW = "a-long-password-1"


def login(svc: Services, username: str, password: str, xff: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": xff} if xff else {}
    return httpx.post(f"{svc.auth_url}/api/v1/auth/login", json={"username": username, "password": password},
                      headers=headers, timeout=30)


def audit_addresses(svc: Services, username: str) -> list[str]:
    rows = svc.sql("SELECT address FROM audit_log WHERE actor = $1 ORDER BY id", username)
    return [r["address"] for r in rows]


def signup_root(svc: Services) -> None:
    r = httpx.post(f"{svc.auth_url}/api/v1/auth/signup", json={"username": "root", "password": PW})
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def direct(stack: Any) -> Iterator[Services]:
    """No trusted proxies (the default); an in-process limiter so the session's Redis is not shared."""
    with running_services(stack.database_url, redis_url="", login_rate_per_address=3) as svc:
        signup_root(svc)
        yield svc


@pytest.fixture(scope="module")
def proxied(stack: Any) -> Iterator[Services]:
    """Behind a reverse proxy on 127.0.0.1 (and a second hop inside 10.0.0.0/8)."""
    with running_services(stack.database_url, redis_url="", login_rate_per_address=3,
                          trusted_proxies="127.0.0.1, 10.0.0.0/8") as svc:
        signup_root(svc)
        yield svc


def test_forged_forwarded_for_is_ignored_without_trusted_proxies(direct: Services) -> None:
    codes = [login(direct, "root", "wrong-password", xff=f"203.0.113.{i}").status_code for i in range(3)]
    assert codes == [401] * 3
    # a fourth "address" is the same client: the per-address limit holds, even for the right password
    r = login(direct, "root", PW, xff="198.51.100.77")
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert set(audit_addresses(direct, "root")) <= {"127.0.0.1", ""}
    assert not [a for a in audit_addresses(direct, "root") if a.startswith(("203.", "198."))]


def test_trusted_proxy_forwards_the_real_client(proxied: Services) -> None:
    # the proxy (127.0.0.1) appended the client 192.0.2.10; whatever the client wrote before it is ignored
    assert login(proxied, "root", PW, xff="6.6.6.6, 192.0.2.10").status_code == 200
    assert audit_addresses(proxied, "root")[-1] == "192.0.2.10"
    # two trusted hops (an ingress pod in 10/8 behind the edge proxy): the first untrusted one is the client
    assert login(proxied, "root", PW, xff="192.0.2.11, 10.1.2.3").status_code == 200
    assert audit_addresses(proxied, "root")[-1] == "192.0.2.11"
    # per-address limits follow the forwarded address: one client is stopped, another is not
    codes = [login(proxied, "root", "nope-nope", xff="9.9.9.9, 192.0.2.20").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert login(proxied, "root", PW, xff="192.0.2.21").status_code == 200


def test_forwarded_for_parsing() -> None:
    trusted = parse_networks("127.0.0.1, 10.0.0.0/8, ::1")
    assert client_from_forwarded("127.0.0.1", ["1.1.1.1, 2.2.2.2"], trusted) == "2.2.2.2"
    assert client_from_forwarded("127.0.0.1", ["1.1.1.1", "10.0.0.5"], trusted) == "1.1.1.1"  # two header lines
    assert client_from_forwarded("192.0.2.1", ["1.1.1.1"], trusted) == "192.0.2.1"  # peer not a proxy
    assert client_from_forwarded("127.0.0.1", ["garbage, 3.3.3.3"], trusted) == "3.3.3.3"
    assert client_from_forwarded("::ffff:127.0.0.1", ["4.4.4.4:5555"], trusted) == "4.4.4.4"
    assert client_from_forwarded("127.0.0.1", ["[2001:db8::1]:443"], trusted) == "2001:db8::1"
    assert client_from_forwarded("127.0.0.1", [], parse_networks("")) == "127.0.0.1"


def test_a_bad_proxy_list_stops_the_service() -> None:
    with pytest.raises(SettingsError, match=r"RUNYARD_TRUSTED_PROXIES.*'10\.0\.0\.0/33'"):
        load_settings(database_url="postgresql://u:p@db/x", trusted_proxies="127.0.0.1, 10.0.0.0/33")
