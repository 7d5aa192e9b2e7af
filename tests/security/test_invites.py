"""Closed sign-up holds: only admins decide who may invite new accounts (issue: any user could create a
team, invite into it, and so create accounts while the admin had closed sign-up)."""

from __future__ import annotations

import httpx

from .conftest import PASSWORD, Population


def signup(p: Population, username: str, invite: str | None = None) -> httpx.Response:
    body = {"username": username, "password": PASSWORD, **({"invite": invite} if invite else {})}
    return httpx.post(f"{p.world.auth_url}/api/v1/auth/signup", json=body, timeout=30)


def settings(p: Population, **values: bool) -> dict[str, bool]:
    r = p.call("root", "PATCH", "/api/v1/admin/settings", service="auth", json=values)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def invite(p: Population, who: str, team: str | None) -> httpx.Response:
    return p.call(who, "POST", "/api/v1/auth/invites", service="auth", json={"team": team} if team else {})


def test_a_team_of_ones_own_is_no_way_around_closed_signup(population: Population) -> None:
    p = population
    assert settings(p) == {"open_signup": False, "team_admin_invites": False}
    r = p.call("outsider", "POST", "/api/v1/teams", service="auth", json={"name": "backdoor"})
    assert r.status_code == 201  # anyone may make a team ...
    r = invite(p, "outsider", "backdoor")
    assert r.status_code == 403 and "team admins may not invite new accounts" in r.json()["detail"]  # ... not accounts
    assert invite(p, "outsider", None).status_code == 403
    # existing accounts can still be added to the team
    r = p.call("outsider", "POST", "/api/v1/teams/backdoor/members", service="auth",
               json={"username": "tviewer", "role": "viewer"})
    assert r.status_code == 200
    assert signup(p, "sneaky").status_code == 403


def test_admins_decide_and_revoking_the_right_voids_open_invites(population: Population) -> None:
    p = population
    try:
        assert settings(p, team_admin_invites=True)["team_admin_invites"] is True
        first, second = (invite(p, "tadmin", "vision") for _ in range(2))
        assert first.status_code == second.status_code == 201
        assert signup(p, "invited-one", first.json()["token"]).status_code == 201
        settings(p, team_admin_invites=False)
        r = signup(p, "invited-two", second.json()["token"])  # made while allowed, used after: refused
        assert r.status_code == 403 and "no longer valid" in r.json()["detail"]
    finally:
        settings(p, team_admin_invites=False)
    members = p.call("tadmin", "GET", "/api/v1/teams/vision/members", service="auth").json()["members"]
    assert "invited-one" in {m["username"] for m in members} and "invited-two" not in {m["username"] for m in members}


def test_a_team_admin_who_loses_the_team_loses_its_invites(population: Population) -> None:
    p = population
    r = p.call("aadmin", "POST", "/api/v1/teams", service="auth", json={"name": "shortlived"})
    assert r.status_code == 201
    assert p.call("aadmin", "POST", "/api/v1/teams/shortlived/members", service="auth",
                  json={"username": "tmember", "role": "admin"}).status_code == 200
    try:
        settings(p, team_admin_invites=True)
        token = invite(p, "aadmin", "shortlived").json()["token"]
        assert p.call("tmember", "POST", "/api/v1/teams/shortlived/members", service="auth",
                      json={"username": "aadmin", "role": "viewer"}).status_code == 200
        assert signup(p, "late-invitee", token).status_code == 403
    finally:
        settings(p, team_admin_invites=False)


def test_open_signup_and_instance_admins(population: Population) -> None:
    p = population
    r = invite(p, "root", "vision")  # instance admins always invite, into any team
    assert r.status_code == 201 and signup(p, "admins-pick", r.json()["token"]).status_code == 201
    try:
        settings(p, open_signup=True)  # anyone may sign up: a team invite grants nothing more
        assert invite(p, "tadmin", "vision").status_code == 201
    finally:
        settings(p, open_signup=False)
    assert p.call("tadmin", "PATCH", "/api/v1/admin/settings", service="auth",
                  json={"team_admin_invites": True}).status_code == 403
