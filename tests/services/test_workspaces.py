"""Saved workspace layouts (per project and user) and shared read-only views: who may read and write them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runyard_server.common.security import new_api_key

from .harness import Services

PASSWORD = "correct horse battery"


class World:
    def __init__(self, svc: Services, keys: dict[str, str]) -> None:
        self.svc, self.keys = svc, keys

    def call(self, method: str, path: str, who: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.svc.query_url}/api/v1/projects/{path}", json=body,
                             headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=30)


def _user(svc: Services, name: str) -> str:
    key, prefix, digest = new_api_key()
    uid = svc.sql("INSERT INTO users (username, password_hash) VALUES ($1, NULL) RETURNING id", name)[0]["id"]
    svc.sql("INSERT INTO entities (name, kind, user_id) VALUES ($1, 'user', $2)", name, uid)
    svc.sql("INSERT INTO api_keys (user_id, prefix, key_hash) VALUES ($1, $2, $3)", uid, prefix, digest)
    return key


@pytest.fixture(scope="module")
def world(services: Services) -> World:
    resp = httpx.post(f"{services.auth_url}/api/v1/auth/signup", json={"username": "ada", "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    keys = {"ada": resp.json()["api_key"], "vic": _user(services, "vic"), "eve": _user(services, "eve")}
    team = services.sql("INSERT INTO entities (name, kind) VALUES ('lab', 'team') RETURNING id")[0]["id"]
    for name, role in (("ada", "admin"), ("vic", "viewer")):
        uid = services.sql("SELECT id FROM users WHERE username = $1", name)[0]["id"]
        services.sql("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3)", team, uid, role)
    services.sql("INSERT INTO projects (entity_id, name) VALUES ($1, 'cnn')", team)
    return World(services, keys)


def test_each_user_keeps_its_own_layout(world: World) -> None:
    assert world.call("GET", "lab/cnn/workspace", "ada").json() == {"layout": None, "updated_at": None}
    mine = {"version": 1, "sections": [{"name": "Charts", "panels": ["line:loss"]}], "sizes": {"line:loss": [2, 1]}}
    resp = world.call("PUT", "lab/cnn/workspace", "ada", {"layout": mine})
    assert resp.status_code == 200 and resp.json()["layout"] == mine and resp.json()["updated_at"].endswith("Z")
    assert world.call("GET", "lab/cnn/workspace", "ada").json()["layout"] == mine
    # a viewer arranges its own workspace without touching anyone else's
    theirs = {"version": 1, "sections": []}
    assert world.call("PUT", "lab/cnn/workspace", "vic", {"layout": theirs}).status_code == 200
    assert world.call("GET", "lab/cnn/workspace", "ada").json()["layout"] == mine
    assert world.call("GET", "lab/cnn/workspace", "vic").json()["layout"] == theirs
    assert world.call("DELETE", "lab/cnn/workspace", "vic").status_code == 204
    assert world.call("GET", "lab/cnn/workspace", "vic").json()["layout"] is None
    # someone who cannot read the project: 404 for all of it, like a project that does not exist
    for method, body in (("GET", None), ("PUT", {"layout": mine}), ("DELETE", None)):
        assert world.call(method, "lab/cnn/workspace", "eve", body).status_code == 404
    assert world.call("GET", "lab/nope/workspace", "ada").status_code == 404


def test_layout_limits(world: World) -> None:
    big = {"blob": "x" * (256 * 1024)}
    resp = world.call("PUT", "lab/cnn/workspace", "ada", {"layout": big})
    assert resp.status_code == 413 and "at most 262,144" in resp.json()["detail"]
    assert world.call("PUT", "lab/cnn/workspace", "ada", {"layout": [1, 2]}).status_code == 422


def test_shared_view_is_a_read_only_snapshot(world: World) -> None:
    layout = {"version": 1, "sections": [{"name": "val", "panels": ["line:val/acc"]}]}
    resp = world.call("POST", "lab/cnn/views", "ada", {"layout": layout, "query": "sort=-summary.acc&top=20"})
    assert resp.status_code == 201, resp.text
    view = resp.json()
    assert view["created_by"] == "ada" and view["query"] == "sort=-summary.acc&top=20" and len(view["id"]) >= 12
    # the viewer opens it; eve cannot; another project does not have it
    got = world.call("GET", f"lab/cnn/views/{view['id']}", "vic")
    assert got.status_code == 200 and got.json() == view
    assert world.call("GET", f"lab/cnn/views/{view['id']}", "eve").status_code == 404
    assert world.call("GET", "lab/cnn/views/nope", "ada").status_code == 404
