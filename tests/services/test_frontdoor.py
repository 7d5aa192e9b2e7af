"""Auth and query behind the session's front door (a real `runyard-server frontdoor` subprocess)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME


def test_front_door_routes_auth_and_query(stack: Any, admin_key: str) -> None:
    base = stack.base_url
    info = httpx.get(base + "/api/v1/server-info").json()
    assert info["needs_setup"] is False and info["ingest_address"] == stack.ingest_address
    headers = {"Authorization": f"Bearer {admin_key}"}
    assert httpx.get(base + "/api/v1/viewer", headers=headers).json() == {
        "username": ADMIN_USERNAME, "entity": ADMIN_USERNAME, "is_admin": True}
    assert httpx.get(base + "/api/v1/projects", headers=headers).status_code == 200
    assert httpx.post(base + "/api/v1/auth/signup", json={"username": "late", "password": "x" * 12}).status_code == 403

    with httpx.Client(base_url=base) as browser:
        assert browser.post("/api/v1/auth/login",
                            json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}).status_code == 200
        assert browser.get("/api/v1/viewer").json()["username"] == ADMIN_USERNAME
        assert browser.get("/api/v1/projects").status_code == 200
        csrf = browser.cookies["runyard_csrf"]
        assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert browser.get("/api/v1/projects").status_code == 401


def test_front_door_routes_teams_entities_and_admin_to_auth(stack: Any, admin_key: str) -> None:
    base = stack.start_http()
    headers = {"Authorization": f"Bearer {admin_key}"}
    team = "fd-team"
    created = httpx.post(base + "/api/v1/teams", json={"name": team}, headers=headers)
    assert created.status_code in (200, 201), created.text
    names = [e["name"] for e in httpx.get(base + "/api/v1/entities", headers=headers).json()["entities"]]
    assert ADMIN_USERNAME in names and team in names
    members = httpx.get(f"{base}/api/v1/teams/{team}/members", headers=headers)
    assert members.status_code == 200
    assert httpx.get(base + "/api/v1/admin/audit", headers=headers).status_code == 200
