"""Browser hardening headers on every response of every HTTP service, and the API docs without a CDN."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.services.harness import running_services

from .conftest import Population

pytestmark = [pytest.mark.local]

COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY",
          "cross-origin-opener-policy": "same-origin", "cross-origin-resource-policy": "same-origin"}
DOCS = {"query": ("/api/v1/docs", "/api/v1/openapi.json"), "auth": ("/api/v1/auth/docs", "/api/v1/auth/openapi.json"),
        "artifact": ("/api/v1/artifacts/_docs", "/api/v1/artifacts/_openapi.json")}


def csp(resp: httpx.Response) -> dict[str, str]:
    policy = resp.headers["content-security-policy"]
    return {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2] for d in policy.split(";") if d.strip()}


def base(p: Population, service: str) -> str:
    return {"query": p.world.query_url, "auth": p.world.auth_url, "artifact": p.world.artifact_url}[service] or ""


@pytest.mark.parametrize("service", ["query", "auth", "artifact"])
def test_api_responses_carry_the_headers(population: Population, service: str) -> None:
    paths = {"query": "/api/v1/projects", "auth": "/api/v1/viewer", "artifact": "/api/v1/artifacts/vision/pub"}
    for who, path in (("tmember", paths[service]), (None, paths[service]), ("tmember", "/api/v1/nothing-here")):
        r = population.call(who, "GET", path, service=service)
        assert r.status_code in (200, 401, 404), r.text
        for name, value in COMMON.items():
            assert r.headers.get(name) == value, (service, path, name, dict(r.headers))
        policy = csp(r)
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'", policy
        assert "strict-transport-security" not in r.headers  # plain http, no trusted proxy said https


@pytest.mark.parametrize("service", ["query", "auth", "artifact"])
def test_docs_page_is_strict_and_self_contained(population: Population, service: str) -> None:
    docs, spec = DOCS[service]
    root = base(population, service)
    r = httpx.get(root + docs)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    policy = csp(r)
    assert policy["script-src"] == "'self'", policy  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    html = r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "something loaded from another host"
    assert f'data-openapi-url="{spec}"' in html
    for asset in re.findall(r'(?:src|href)="([^"]+/assets/[^"]+)"', html):
        a = httpx.get(root + asset)
        assert a.status_code == 200 and len(a.content) > 100, asset
        assert a.headers["content-type"].startswith(("text/javascript", "text/css")), asset
    assert httpx.get(root + docs + "/assets/..%2F..%2Fsettings.py").status_code == 404
    assert httpx.get(root + spec).json()["info"]["title"].startswith("Runyard")


def test_frame_ancestors_setting_and_hsts_behind_a_trusted_proxy(stack: Any) -> None:
    with running_services(stack.database_url, csp_frame_ancestors="'self' https://wiki.example.com",
                          trusted_proxies="127.0.0.1/32") as svc:
        r = httpx.get(svc.query_url + "/api/v1/docs")
        assert csp(r)["frame-ancestors"] == "'self' https://wiki.example.com"
        assert "x-frame-options" not in r.headers  # it cannot express a list; CSP rules
        assert "strict-transport-security" not in r.headers
        r = httpx.get(svc.query_url + "/api/v1/docs", headers={"X-Forwarded-Proto": "https"})
        assert r.headers["strict-transport-security"].startswith("max-age=")


def test_a_client_cannot_claim_https_without_a_trusted_proxy(population: Population) -> None:
    r = httpx.post(population.world.auth_url + "/api/v1/auth/login", headers={"X-Forwarded-Proto": "https"},
                   json={"username": "tmember", "password": "a-long-password-1"})
    assert r.status_code == 200
    assert "strict-transport-security" not in r.headers
    # the cookies follow the real scheme: not marked Secure on plain http (RUNYARD_SECURE_COOKIES forces it)
    cookies = r.headers.get_list("set-cookie")
    assert cookies and all("secure" not in [a.strip().lower() for a in c.split(";")] for c in cookies)
