"""Accounts: invites, open sign-up, admin-made users, API keys (list, create, revoke within 5 s),
password change and admin reset, session expiry, login rate limits, audit log, and the admin CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runyard_server.common.security import key_prefix_of

from .world import ROOT_PASSWORD, World, bearer, running_world

pytestmark = [pytest.mark.local]

PW = "a-good-password"


@pytest.fixture(scope="module")
def world(stack: Any) -> Iterator[World]:
    with running_world(stack, artifact=False, login_rate_per_user=4, login_rate_per_address=40,
                       login_rate_window_s=60) as w:
        w.signup_root()
        yield w


def signup(w: World, username: str, password: str = PW, invite: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"username": username, "password": password}
    if invite is not None:
        body["invite"] = invite
    return httpx.post(f"{w.auth_url}/api/v1/auth/signup", json=body, timeout=30)


def login(w: World, username: str, password: str, client: httpx.Client | None = None) -> httpx.Response:
    c = client or httpx
    return c.post(f"{w.auth_url}/api/v1/auth/login", json={"username": username, "password": password})  # type: ignore[attr-defined, no-any-return]


# ---- sign-up ----------------------------------------------------------------------------------------------
def test_signup_needs_an_invite_after_the_first_admin(world: World) -> None:
    r = signup(world, "walkin")
    assert r.status_code == 403 and "invite" in r.json()["detail"]
    r = signup(world, "walkin", invite="not-a-real-invite")
    assert r.status_code == 403 and "invite is not valid" in r.json()["detail"]

    r = world.call("root", "POST", "/api/v1/auth/invites", json={})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    r = signup(world, "invited", invite=token)
    assert r.status_code == 201, r.text
    assert r.json()["username"] == "invited" and r.json()["api_key"].startswith("ry-")
    assert httpx.get(f"{world.auth_url}/api/v1/viewer", headers=bearer(r.json()["api_key"])).json()["is_admin"] is False
    # single use
    assert signup(world, "invited2", invite=token).status_code == 403
    # expired invites do not work
    token2 = world.call("root", "POST", "/api/v1/auth/invites", json={}).json()["token"]
    world.sql("UPDATE invites SET expires_at = now() - interval '1 second' WHERE used_at IS NULL")
    assert signup(world, "late", invite=token2).status_code == 403


def test_team_invite_joins_the_team_with_its_role(world: World) -> None:
    world.user("lead")
    world.team("nlp", "lead", {})
    # sign-up is closed: team admins invite new accounts only once an instance admin lets them
    r = world.call("root", "PATCH", "/api/v1/admin/settings", json={"team_admin_invites": True})
    assert r.status_code == 200 and r.json()["team_admin_invites"] is True
    try:
        r = world.call("lead", "POST", "/api/v1/auth/invites", json={"team": "nlp", "role": "viewer"})
        assert r.status_code == 201, r.text
        r = signup(world, "newcomer", invite=r.json()["token"])
        assert r.status_code == 201
    finally:
        world.call("root", "PATCH", "/api/v1/admin/settings", json={"team_admin_invites": False})
    members = world.call("lead", "GET", "/api/v1/teams/nlp/members").json()["members"]
    assert {m["username"]: m["role"] for m in members} == {"lead": "admin", "newcomer": "viewer"}


def test_open_signup_switch(world: World) -> None:
    assert world.call("root", "GET", "/api/v1/admin/settings").json() == {"open_signup": False,
                                                                          "team_admin_invites": False}
    world.user("plain")
    assert world.call("plain", "GET", "/api/v1/admin/settings").status_code == 403
    assert world.call("plain", "PATCH", "/api/v1/admin/settings", json={"open_signup": True}).status_code == 403
    r = world.call("root", "PATCH", "/api/v1/admin/settings", json={"open_signup": True})
    assert r.json() == {"open_signup": True, "team_admin_invites": False}
    try:
        assert signup(world, "opendoor").status_code == 201
    finally:
        world.call("root", "PATCH", "/api/v1/admin/settings", json={"open_signup": False})
    assert signup(world, "closeddoor").status_code == 403


def test_admin_made_users(world: World) -> None:
    r = world.call("root", "POST", "/api/v1/admin/users", json={"username": "keyonly"})
    assert r.status_code == 201
    assert world.call("root", "POST", "/api/v1/admin/users", json={"username": "keyonly"}).status_code == 409
    world.keys["keyonly"] = r.json()["api_key"]
    assert world.call("keyonly", "POST", "/api/v1/admin/users", json={"username": "sneaky"}).status_code == 403
    users = {u["username"]: u for u in world.call("root", "GET", "/api/v1/admin/users").json()["users"]}
    assert users["keyonly"]["is_admin"] is False and users["root"]["is_admin"] is True


def test_names_whose_urls_belong_to_the_server_are_refused_for_users_and_teams(world: World) -> None:
    # a team called "files" would own /files/<project>/..., which the W&B protocol answers, not the UI
    for path, body in (("/api/v1/admin/users", {"username": "tensorboard"}), ("/api/v1/teams", {"name": "files"}),
                       ("/api/v1/admin/users", {"username": "api"})):
        r = world.call("root", "POST", path, json=body)
        assert r.status_code == 400, r.text
        assert "is reserved" in r.json()["detail"] and "choose another" in r.json()["detail"]
    names = {e["name"] for e in world.sql("SELECT name FROM entities")}
    assert not names & {"tensorboard", "files", "api"}


# ---- API keys ----------------------------------------------------------------------------------------------
def test_keys_create_list_revoke(world: World) -> None:
    world.user("kate")
    r = world.call("kate", "POST", "/api/v1/auth/keys", json={"name": "laptop"})
    assert r.status_code == 201
    new = r.json()
    assert new["name"] == "laptop" and key_prefix_of(new["api_key"]) == new["prefix"]
    listed = world.call("kate", "GET", "/api/v1/auth/keys").json()["keys"]
    assert [k["name"] for k in listed] == ["first key", "laptop"]
    assert all("api_key" not in k for k in listed)
    assert listed[0]["last_used_at"] is not None  # the first key was just used for this call
    assert listed[1]["last_used_at"] is None
    httpx.get(f"{world.auth_url}/api/v1/viewer", headers=bearer(new["api_key"]))
    listed = world.call("kate", "GET", "/api/v1/auth/keys").json()["keys"]
    assert listed[1]["last_used_at"] is not None

    # another user cannot revoke (nor see) kate's key
    world.user("mallory")
    assert world.call("mallory", "DELETE", f"/api/v1/auth/keys/{new['id']}").status_code == 404
    assert world.call("kate", "DELETE", f"/api/v1/auth/keys/{new['id']}").status_code == 204
    assert world.call("kate", "DELETE", f"/api/v1/auth/keys/{new['id']}").status_code == 404
    assert [k["name"] for k in world.call("kate", "GET", "/api/v1/auth/keys").json()["keys"]] == ["first key"]
    r = httpx.get(f"{world.auth_url}/api/v1/viewer", headers=bearer(new["api_key"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    events = [(e["event"], e["detail"].get("prefix")) for e in
              world.call("root", "GET", "/api/v1/admin/audit?event=key").json()["events"]]
    assert ("key.revoke", new["prefix"]) in events and ("key.create", new["prefix"]) in events


def test_revoked_key_stops_everywhere_within_5_seconds_despite_the_cache(world: World) -> None:
    """Warm the Redis key cache in both HTTP services, revoke through REST, and time the refusal."""
    world.user("cached")
    new = world.call("cached", "POST", "/api/v1/auth/keys", json={"name": "ci"}).json()
    key = new["api_key"]
    for url in (f"{world.auth_url}/api/v1/viewer", f"{world.query_url}/api/v1/projects"):
        assert httpx.get(url, headers=bearer(key)).status_code == 200
    assert world.call("cached", "DELETE", f"/api/v1/auth/keys/{new['id']}").status_code == 204
    revoked = time.monotonic()
    pending = {f"{world.auth_url}/api/v1/viewer", f"{world.query_url}/api/v1/projects"}
    while pending and time.monotonic() - revoked < 5:
        pending = {u for u in pending if httpx.get(u, headers=bearer(key)).status_code != 401}
        time.sleep(0.05)
    assert not pending, f"still accepted after 5 s: {pending}"


def test_cache_entry_is_bounded_even_without_invalidation(world: World) -> None:
    """Revoked straight in PostgreSQL (no invalidation message): the cache TTL still ends it within 5 s."""
    world.user("direct")
    key = world.keys["direct"]
    url = f"{world.query_url}/api/v1/projects"
    assert httpx.get(url, headers=bearer(key)).status_code == 200
    world.sql("UPDATE api_keys k SET revoked_at = now() FROM users u WHERE u.id = k.user_id AND u.username = 'direct'")
    start = time.monotonic()
    while httpx.get(url, headers=bearer(key)).status_code == 200:
        assert time.monotonic() - start < 5
        time.sleep(0.1)


def test_disabling_a_user_stops_its_keys_and_sessions(world: World) -> None:
    world.user("leaver", password=PW)
    key = world.keys["leaver"]
    with httpx.Client() as browser:
        assert login(world, "leaver", PW, browser).status_code == 200
        assert browser.get(f"{world.query_url}/api/v1/projects").status_code == 200
        assert httpx.get(f"{world.query_url}/api/v1/projects", headers=bearer(key)).status_code == 200
        r = world.call("root", "PATCH", "/api/v1/admin/users/leaver", json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert httpx.get(f"{world.query_url}/api/v1/projects", headers=bearer(key)).status_code == 401
        assert browser.get(f"{world.query_url}/api/v1/projects").status_code == 401
    r = login(world, "leaver", PW)
    assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    world.call("root", "PATCH", "/api/v1/admin/users/leaver", json={"disabled": False})
    assert httpx.get(f"{world.query_url}/api/v1/projects", headers=bearer(key)).status_code == 200


def test_admins_cannot_lock_themselves_out(world: World) -> None:
    r = world.call("root", "PATCH", "/api/v1/admin/users/root", json={"is_admin": False})
    assert r.status_code == 409 and "yourself" in r.json()["detail"]
    r = world.call("root", "PATCH", "/api/v1/admin/users/root", json={"disabled": True})
    assert r.status_code == 409
    # nor can the CLI remove the last active admin
    p = _cli(world, "revoke-admin", "root")
    assert p.returncode == 1 and "last active admin" in p.stderr


# ---- passwords and sessions ------------------------------------------------------------------------------
def test_password_change_ends_other_sessions(world: World) -> None:
    world.user("pat", password=PW)
    with httpx.Client() as a, httpx.Client() as b:
        assert login(world, "pat", PW, a).status_code == 200
        assert login(world, "pat", PW, b).status_code == 200
        csrf = a.cookies["runyard_csrf"]
        url = f"{world.auth_url}/api/v1/auth/password"
        r = a.post(url, json={"current_password": "wrong-password", "new_password": "another-pass-1"},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403
        r = a.post(url, json={"current_password": PW, "new_password": "short"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 400
        r = a.post(url, json={"current_password": PW, "new_password": "another-pass-1"})
        assert r.status_code == 403  # CSRF header missing
        r = a.post(url, json={"current_password": PW, "new_password": "another-pass-1"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 204, r.text
        assert a.get(f"{world.auth_url}/api/v1/viewer").status_code == 200   # this session lives on
        assert b.get(f"{world.auth_url}/api/v1/viewer").status_code == 401   # the other one ended
    assert login(world, "pat", PW).status_code == 401
    assert login(world, "pat", "another-pass-1").status_code == 200
    # a service account has no password to change
    world.team("ops", "pat", {})
    world.service_account("ops", "ops-bot", by="pat")
    r = world.call("ops-bot", "POST", "/api/v1/auth/password", json={"current_password": "x" * 8,
                                                                       "new_password": "y" * 8})
    assert r.status_code == 409


def test_admin_password_reset(world: World) -> None:
    world.user("forgetful", password=PW)
    with httpx.Client() as browser:
        assert login(world, "forgetful", PW, browser).status_code == 200
        assert world.call("forgetful", "POST", "/api/v1/admin/users/forgetful/password-reset").status_code == 403
        r = world.call("root", "POST", "/api/v1/admin/users/forgetful/password-reset")
        assert r.status_code == 200
        temp = r.json()["password"]
        assert len(temp) >= 12
        assert browser.get(f"{world.auth_url}/api/v1/viewer").status_code == 401  # sessions ended
    assert login(world, "forgetful", PW).status_code == 401
    assert login(world, "forgetful", temp).status_code == 200
    r = world.call("root", "POST", "/api/v1/admin/users/forgetful/password-reset", json={"password": "chosen-one-1"})
    assert r.json() == {"username": "forgetful", "password": "chosen-one-1"}
    assert login(world, "forgetful", "chosen-one-1").status_code == 200
    assert world.call("root", "POST", "/api/v1/admin/users/nobody/password-reset").status_code == 404


def test_expired_sessions_are_refused(world: World) -> None:
    world.user("sleepy", password=PW)
    with httpx.Client() as browser:
        assert login(world, "sleepy", PW, browser).status_code == 200
        assert browser.get(f"{world.query_url}/api/v1/projects").status_code == 200
        world.sql("UPDATE sessions s SET expires_at = now() - interval '1 second' FROM users u "
                  "WHERE u.id = s.user_id AND u.username = 'sleepy'")
        for url in (f"{world.query_url}/api/v1/projects", f"{world.auth_url}/api/v1/viewer"):
            r = browser.get(url)
            assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_session_cookies_follow_the_ttl_setting(world: World) -> None:
    world.user("ttl", password=PW)
    r = login(world, "ttl", PW)
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("runyard_session="))
    assert f"max-age={world.settings.session_ttl_s}" in cookie.lower()
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


# ---- abuse ----------------------------------------------------------------------------------------------
def test_login_is_slowed_per_user_without_revealing_accounts(world: World) -> None:
    world.user("target", password=PW)
    for name in ("target", "ghost-user"):  # an existing and a missing account behave the same
        codes = [login(world, name, "wrong-password").status_code for _ in range(4)]
        assert codes == [401] * 4  # RUNYARD_LOGIN_RATE_PER_USER=4 free tries
        # then one try per slot (1 s, 2 s, 4 s, ...): hammering meets a 429 within a few tries
        for _ in range(6):
            r = login(world, name, "wrong-password")
            if r.status_code == 429:
                break
            assert r.status_code == 401
        assert r.status_code == 429 and r.json()["code"] == "rate_limited", r.text
        assert 1 <= int(r.headers["retry-after"]) <= world.settings.login_max_delay_s
    r = login(world, "target", PW)  # a browser that never signed in waits for the slot like anyone
    assert r.status_code in (200, 429)
    events = world.call("root", "GET", "/api/v1/admin/audit?event=login&limit=50").json()["events"]
    kinds = {(e["event"], e["target"]) for e in events}
    assert {("login.failure", "target"), ("login.rate_limited", "target"), ("login.failure", "ghost-user")} <= kinds
    # however many refusals of `target`, one audit event: a flood of attempts cannot fill the log
    assert sum(1 for e in events if (e["event"], e["target"]) == ("login.rate_limited", "target")) == 1


def test_login_is_rate_limited_per_address(stack: Any) -> None:
    import redis

    with running_world(stack, artifact=False, login_rate_per_user=100, login_rate_per_address=5) as w:
        r = redis.Redis.from_url(stack.redis_url)
        # the session's Redis is shared by every module
        r.delete("runyard:ratelimit:login:addr:127.0.0.1", "runyard:ratelimit:login:addr:127.0.0.1:refused")
        try:
            w.signup_root()
            assert login(w, "root", ROOT_PASSWORD).status_code == 200  # successes do not count
            codes = [login(w, f"user{i}", "wrong-password").status_code for i in range(6)]
            assert codes == [401] * 5 + [429]
            assert login(w, "root", ROOT_PASSWORD).status_code == 429
            events = w.call("root", "GET", "/api/v1/admin/audit?event=login.rate_limited").json()["events"]
            assert [e["detail"] for e in events] == [{"by": "address"}]  # once per window, not per attempt
        finally:
            r.delete("runyard:ratelimit:login:addr:127.0.0.1", "runyard:ratelimit:login:addr:127.0.0.1:refused")
            r.close()


def test_successful_login_resets_the_user_counter(world: World) -> None:
    world.user("typo", password=PW)
    for _ in range(3):
        assert login(world, "typo", "wrong-password").status_code == 401
    assert login(world, "typo", PW).status_code == 200
    for _ in range(3):
        assert login(world, "typo", "wrong-password").status_code == 401


def test_audit_log_is_for_admins_and_pages(world: World) -> None:
    world.user("nosy")
    assert world.call("nosy", "GET", "/api/v1/admin/audit").status_code == 403
    first = world.call("root", "GET", "/api/v1/admin/audit?limit=2").json()
    assert len(first["events"]) == 2 and first["next_before"] == first["events"][-1]["id"]
    second = world.call("root", "GET", f"/api/v1/admin/audit?limit=2&before={first['next_before']}").json()
    assert second["events"][0]["id"] < first["events"][-1]["id"]
    assert {"id", "at", "event", "actor", "target", "address", "detail"} == set(first["events"][0])


# ---- headless administration: the CLI -----------------------------------------------------------------
def _cli(w: World, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(RUNYARD_DATABASE_URL=w.dsn, RUNYARD_REDIS_URL=w.settings.redis_url)
    return subprocess.run([sys.executable, "-m", "runyard_server.cli", "admin", "--json", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_admin_cli_covers_the_rest_actions(world: World) -> None:
    import json

    def ok(*args: str, stdin: str | None = None) -> Any:
        p = _cli(world, *args, stdin=stdin)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return json.loads(p.stdout)

    made = ok("create-user", "cli-user", "--password-stdin", stdin="cli-password-1\n")
    key = made["api_key"]
    assert httpx.get(f"{world.auth_url}/api/v1/viewer", headers=bearer(key)).json()["username"] == "cli-user"
    assert login(world, "cli-user", "cli-password-1").status_code == 200
    ok("create-team", "cli-team", "--owner", "cli-user")
    ok("add-member", "cli-team", "root", "--role", "viewer")
    assert {m["username"]: m["role"] for m in ok("list-members", "cli-team")} == {"cli-user": "admin",
                                                                                   "root": "viewer"}
    ok("remove-member", "cli-team", "root")
    sa = ok("create-service-account", "cli-team", "cli-bot")
    assert httpx.get(f"{world.auth_url}/api/v1/viewer", headers=bearer(sa["api_key"])).json()["entity"] == "cli-team"
    token = ok("invite", "--team", "cli-team", "--role", "member")["token"]
    assert signup(world, "cli-invited", invite=token).status_code == 201
    extra = ok("create-key", "cli-user", "--name", "extra")
    assert [k["name"] for k in ok("list-keys", "cli-user")] == ["first key", "extra"]
    assert httpx.get(f"{world.query_url}/api/v1/projects", headers=bearer(extra["api_key"])).status_code == 200
    ok("revoke-key", extra["prefix"])
    assert httpx.get(f"{world.query_url}/api/v1/projects", headers=bearer(extra["api_key"])).status_code == 401
    reset = ok("reset-password", "cli-user")
    assert login(world, "cli-user", reset["password"]).status_code == 200
    assert ok("open-signup", "on") == {"open_signup": True}
    assert ok("open-signup", "off") == {"open_signup": False}
    ok("disable-user", "cli-user")
    assert httpx.get(f"{world.auth_url}/api/v1/viewer", headers=bearer(key)).status_code == 401
    ok("enable-user", "cli-user")
    ok("grant-admin", "cli-user")
    assert httpx.get(f"{world.auth_url}/api/v1/viewer", headers=bearer(key)).json()["is_admin"] is True
    ok("revoke-admin", "cli-user")
    assert any(u["username"] == "cli-user" for u in ok("list-users"))
    events = ok("audit", "--limit", "100")
    assert {"user.create", "team.create", "member.add", "key.revoke", "password.reset", "user.disable",
            "settings.change", "service_account.create"} <= {e["event"] for e in events}
    assert all(e["actor"] == "cli" for e in events if e["event"] == "team.create" and e["target"] == "cli-team")

    p = _cli(world, "add-member", "no-such-team", "root")
    assert p.returncode == 1 and "not found" in p.stderr


def test_text_postgresql_cannot_store_is_a_400_not_a_500(world: World) -> None:
    """Found by schemathesis: NUL characters and lone surrogates reaching a query."""
    r = world.call("root", "POST", "/api/v1/auth/invites", json={"team": "a\u0000b", "role": "viewer"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument", r.text
    r = world.call("root", "POST", "/api/v1/auth/invites", content=b'{"team": "a\\ud800b"}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text  # pydantic refuses lone surrogates itself
    r = world.call("root", "GET", "/api/v1/projects/a%00b/p", service="query")
    assert r.status_code == 400, r.text
    r = world.call("root", "POST", "/api/v1/teams/x%00y/members", json={"username": "root", "role": "admin"})
    assert r.status_code == 400, r.text
