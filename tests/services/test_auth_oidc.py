"""OIDC single sign-on through Authlib against a small real provider (tests/support/oidc_provider.py)
served on a local port: discovery, authorize, token endpoint with RS256 id_tokens, JWKS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.oidc_provider import OidcProvider, running_provider

from .world import World, running_world

pytestmark = [pytest.mark.local]


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider() as p:
        yield p


@pytest.fixture(scope="module")
def world(stack: Any, provider: OidcProvider) -> Iterator[World]:
    with running_world(stack, artifact=False, oidc_issuer=provider.url, oidc_client_id=provider.client_id,
                       oidc_client_secret=provider.client_secret) as w:
        w.signup_root()
        yield w


@pytest.fixture(autouse=True)
def _reset(provider: OidcProvider) -> Iterator[None]:
    yield
    provider.sign_with_rogue_key = False
    provider.audience = None
    provider.nonce_override = None


def sso(w: World, browser: httpx.Client, next_path: str = "/projects") -> httpx.Response:
    """Walk the browser through login -> provider -> callback; returns the callback's answer."""
    r = browser.get(f"{w.auth_url}/api/v1/auth/oidc/login", params={"next": next_path})
    assert r.status_code == 302, r.text
    r = browser.get(r.headers["location"])  # the provider signs the configured identity in
    assert r.status_code in (302, 307), r.text
    callback = r.headers["location"]
    assert callback.startswith(f"{w.auth_url}/api/v1/auth/oidc/callback?")
    return browser.get(callback)


def test_info_says_it_is_on(world: World) -> None:
    r = httpx.get(f"{world.auth_url}/api/v1/auth/oidc")
    assert r.json() == {"enabled": True, "login_url": "/api/v1/auth/oidc/login"}


def test_known_email_signs_in_that_user(world: World, provider: OidcProvider) -> None:
    r = world.call("root", "POST", "/api/v1/admin/users", json={"username": "grace", "email": "Grace@Corp.example"})
    assert r.status_code == 201, r.text
    provider.next_identity("grace@corp.example")
    with httpx.Client() as browser:
        login = browser.get(f"{world.auth_url}/api/v1/auth/oidc/login", params={"next": "/projects"})
        query = parse_qs(urlsplit(login.headers["location"]).query)
        assert query["response_type"] == ["code"] and query["client_id"] == ["runyard"]
        assert "openid" in query["scope"][0] and query["state"][0] and query["nonce"][0]
        assert query["redirect_uri"] == [f"{world.auth_url}/api/v1/auth/oidc/callback"]
        r = browser.get(login.headers["location"])
        r = browser.get(r.headers["location"])
        assert r.status_code == 302 and r.headers["location"] == "/projects"
        cookies = " ".join(r.headers.get_list("set-cookie")).lower()
        assert "runyard_session=" in cookies and "httponly" in cookies
        me = browser.get(f"{world.auth_url}/api/v1/viewer")
        assert me.status_code == 200 and me.json()["username"] == "grace"
        # the session is a normal one: CSRF applies to state-changing calls
        assert browser.post(f"{world.auth_url}/api/v1/auth/keys", json={"name": "x"}).status_code == 403
    assert provider.token_requests[-1]["grant_type"] == "authorization_code"
    events = world.call("root", "GET", "/api/v1/admin/audit?event=login.success").json()["events"]
    assert events[0]["target"] == "grace" and events[0]["detail"] == {"via": "oidc"}


def test_new_email_creates_a_user(world: World, provider: OidcProvider) -> None:
    provider.next_identity("Ada.Lovelace+ml@corp.example")
    with httpx.Client() as browser:
        assert sso(world, browser).status_code == 302
        assert browser.get(f"{world.auth_url}/api/v1/viewer").json()["username"] == "ada.lovelace-ml"
    provider.next_identity("ada.lovelace+ml@corp.example")  # the same person again: the same user
    with httpx.Client() as browser:
        sso(world, browser)
        assert browser.get(f"{world.auth_url}/api/v1/viewer").json()["username"] == "ada.lovelace-ml"
    users = [u["username"] for u in world.call("root", "GET", "/api/v1/admin/users").json()["users"]]
    assert users.count("ada.lovelace-ml") == 1


@pytest.mark.parametrize("knob", ["rogue_key", "audience", "nonce"])
def test_forged_or_misdirected_id_tokens_are_refused(world: World, provider: OidcProvider, knob: str) -> None:
    provider.next_identity("grace@corp.example")
    if knob == "rogue_key":
        provider.sign_with_rogue_key = True
    elif knob == "audience":
        provider.audience = "another-client"
    else:
        provider.nonce_override = "replayed-nonce"
    with httpx.Client() as browser:
        r = sso(world, browser)
        assert r.status_code == 401, r.text
        assert "id_token is not valid" in r.json()["detail"]
        assert browser.get(f"{world.auth_url}/api/v1/viewer").status_code == 401


def test_state_must_match_the_browser_that_started(world: World, provider: OidcProvider) -> None:
    provider.next_identity("grace@corp.example")
    with httpx.Client() as attacker, httpx.Client() as victim:
        r = attacker.get(f"{world.auth_url}/api/v1/auth/oidc/login")
        callback = attacker.get(r.headers["location"]).headers["location"]
        victim.get(f"{world.auth_url}/api/v1/auth/oidc/login")  # the victim has a login of its own going
        r = victim.get(callback)  # login CSRF: the attacker's code in the victim's browser
        assert r.status_code == 401 and "state" in r.json()["detail"]
        r = httpx.get(callback)  # no cookie at all
        assert r.status_code == 401


def test_unverified_email_is_refused(world: World, provider: OidcProvider) -> None:
    provider.next_identity("grace@corp.example", email_verified=False)
    with httpx.Client() as browser:
        r = sso(world, browser)
        assert r.status_code == 401 and "not verified" in r.json()["detail"]


def test_open_redirects_are_not_followed(world: World, provider: OidcProvider) -> None:
    provider.next_identity("grace@corp.example")
    with httpx.Client() as browser:
        r = sso(world, browser, next_path="//evil.example/phish")
        assert r.status_code == 302 and r.headers["location"] == "/"


def test_without_auto_create_unknown_emails_are_refused(stack: Any, provider: OidcProvider) -> None:
    with running_world(stack, artifact=False, oidc_issuer=provider.url, oidc_client_id=provider.client_id,
                       oidc_client_secret=provider.client_secret, oidc_auto_create=False) as w:
        w.signup_root()
        provider.next_identity("stranger@corp.example")
        with httpx.Client() as browser:
            r = sso(w, browser)
            assert r.status_code == 403 and "no account" in r.json()["detail"]


def test_sso_off_by_default(stack: Any) -> None:
    with running_world(stack, artifact=False) as w:
        assert httpx.get(f"{w.auth_url}/api/v1/auth/oidc").json() == {"enabled": False, "login_url": None}
        assert httpx.get(f"{w.auth_url}/api/v1/auth/oidc/login").status_code == 404
