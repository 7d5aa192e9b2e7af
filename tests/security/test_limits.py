"""Documented size limits on every user string and JSON document reaching the HTTP services."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from runyard_server.common import limits

from .conftest import Population

pytestmark = [pytest.mark.local]

DOC = Path(__file__).resolve().parents[2] / "docs" / "limits.md"


def test_every_limit_is_in_the_table_with_its_value() -> None:
    rows = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| (-?\d+) \|", DOC.read_text(), re.M))
    for name in limits.__all__:
        assert name in rows, f"docs/limits.md lacks {name}"
        assert int(rows[name]) == getattr(limits, name), f"docs/limits.md: {name} is {getattr(limits, name)}"
    assert set(rows) <= set(limits.__all__), set(rows) - set(limits.__all__)


def test_whole_requests_have_limits(population: Population) -> None:
    q, a = population.world.query_url, population.world.auth_url
    key = {"Authorization": f"Bearer {population.world.keys['tadmin']}"}
    big = b'{"description": "' + b"x" * limits.HTTP_BODY_MAX_BYTES + b'"}'
    r = httpx.patch(q + "/api/v1/projects/vision/priv", content=big, headers={**key, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "resource_exhausted" and "bytes" in r.json()["detail"]

    def chunks() -> object:  # no Content-Length: refused while it streams
        yield b'{"description": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    r = httpx.patch(q + "/api/v1/projects/vision/priv", content=chunks(),  # type: ignore[arg-type]
                    headers={**key, "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    r = httpx.post(a + "/api/v1/auth/login", content=b'{"username": "' + b"a" * limits.AUTH_BODY_MAX_BYTES + b'"}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = httpx.get(q + "/api/v1/projects/" + "a" * limits.HTTP_URL_PATH_MAX, headers=key)
    assert r.status_code == 414 and "path" in r.json()["detail"]
    r = httpx.get(q + "/api/v1/projects", params={"entity": "e" * limits.HTTP_QUERY_STRING_MAX}, headers=key)
    assert r.status_code == 414 and "query string" in r.json()["detail"]
    # the description itself (under the body limit)
    r = httpx.patch(q + "/api/v1/projects/vision/priv", headers=key,
                    json={"description": "d" * (limits.PROJECT_DESCRIPTION_MAX + 1)})
    assert r.status_code == 422 and "description" in r.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/api/v1/teams", {"name": "t" * (limits.ENTITY_NAME_MAX + 1)}, "name"),
    ("POST", "/api/v1/auth/keys", {"name": "k" * (limits.KEY_NAME_MAX + 1)}, "name"),
    ("POST", "/api/v1/auth/password", {"current_password": "x", "new_password": "n" * (limits.PASSWORD_MAX + 1)},
     "password"),
    ("POST", "/api/v1/auth/invites", {"team": "t" * (limits.ENTITY_NAME_MAX + 1)}, "team"),
])
def test_auth_strings_have_limits(population: Population, method: str, path: str, body: dict[str, str],
                                  field: str) -> None:
    r = population.call("tadmin", method, path, service="auth", json=body)
    assert r.status_code in (400, 403, 422), r.text
    if r.status_code != 403:
        assert field in r.json()["detail"], r.text


@pytest.mark.parametrize("param", ["order", "fields", "search", "tag", "group", "state"])
def test_query_text_parameters_have_limits(population: Population, param: str) -> None:
    r = population.call("tmember", "GET", "/api/v1/projects/vision/priv/runs",
                        params={param: "a" * (limits.QUERY_TEXT_MAX + 1)})
    assert r.status_code == 422 and param in r.json()["detail"], r.text
    r = population.call("tmember", "GET", "/api/v1/projects/vision/priv/runs",
                        params={"filter": "name = " + "a" * limits.FILTER_MAX})
    assert r.status_code == 422 and "filter" in r.json()["detail"]
