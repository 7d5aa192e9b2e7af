"""Role x action x project visibility, through every door: query REST, gRPC ingest, artifact presigned URLs,
and the auth service's team management. One instance (tests/services/world.py) holds:

    root                  instance admin
    team `vision`         tadmin (admin), tmember (member), tviewer (viewer), vision-ci (service account, member)
        vision/priv       private        vision/pub   internal
    team `audio`          aadmin (admin)
        audio/secret      private
    outsider              a signed-up user in no team

Expected (docs/auth.md): readers of a project = instance admins, members of its entity of any role, and for
internal projects every signed-in user. Others get 404, exactly like a project that does not exist.
Writers = owner, team admin, member (service accounts by role); a viewer's write is 403; a non-member's 404
(by project, as the artifact service checks: 403 when the project is internal, since it is readable).
Managers (project settings, members) = team admins and instance admins; members and viewers 403.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from .world import World, running_world

pytestmark = [pytest.mark.local]

VISION = ["tadmin", "tmember", "tviewer", "vision-ci"]
ACTORS = ["root", *VISION, "outsider"]
WRITERS = {"root", "tadmin", "tmember", "vision-ci"}
MANAGERS = {"root", "tadmin"}


@pytest.fixture(scope="module")
def world(stack: Any) -> Iterator[World]:
    with running_world(stack) as w:
        w.signup_root()
        for name in ("tadmin", "tmember", "tviewer", "outsider", "aadmin"):
            w.user(name)
        w.team("vision", "tadmin", {"tmember": "member", "tviewer": "viewer"})
        w.service_account("vision", "vision-ci", by="tadmin")
        w.team("audio", "aadmin", {})
        runs: dict[str, str] = {}
        for entity, project, owner in (("vision", "priv", "tadmin"), ("vision", "pub", "tadmin"),
                                       ("audio", "secret", "aadmin")):
            code, rid = w.open_run(owner, entity, project)
            assert code is None, rid
            runs[f"{entity}/{project}"] = rid
        r = w.call("tadmin", "PATCH", "/api/v1/projects/vision/pub", service="query", json={"visibility": "internal"})
        assert r.status_code == 200 and r.json()["visibility"] == "internal", r.text
        w.runs = runs  # type: ignore[attr-defined]
        # one file in each project's run, uploaded by a writer
        for path, owner in (("vision/priv", "tadmin"), ("vision/pub", "tadmin"), ("audio/secret", "aadmin")):
            _upload(w, owner, path, runs[path], b"hello from " + path.encode())
        yield w


def _upload(w: World, who: str, path: str, run_id: str, data: bytes) -> None:
    import tempfile
    from pathlib import Path

    import runyard.artifacts as ra

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "notes.txt"
        f.write_bytes(data)
        entity, project = path.split("/")
        assert w.artifact_url is not None
        ra.upload_run_files(w.artifact_url, w.keys[who], entity, project, run_id, {"notes.txt": f})


def _readers(project: str) -> set[str]:
    if project == "vision/pub":
        return set(ACTORS)
    if project == "vision/priv":
        return {"root", *VISION}
    return {"root"}  # audio/secret: none of the vision people, not the outsider


PROJECTS = ["vision/priv", "vision/pub", "audio/secret"]


# ---- read through the query service ---------------------------------------------------------------------
@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("actor", ACTORS)
def test_read_project_runs_and_history(world: World, actor: str, project: str) -> None:
    rid = world.runs[project]  # type: ignore[attr-defined]
    expected = 200 if actor in _readers(project) else 404
    for path in (f"/api/v1/projects/{project}", f"/api/v1/projects/{project}/runs", f"/api/v1/runs/{project}/{rid}",
                 f"/api/v1/runs/{project}/{rid}/history", f"/api/v1/runs/{project}/{rid}/history/full"):
        r = world.call(actor, "GET", path, service="query")
        assert r.status_code == expected, (actor, path, r.text)
        if expected == 404:
            # the same answer as for a project that does not exist: no existence leak
            missing = world.call(actor, "GET", path.replace(project, project + "-nope", 1), service="query")
            assert missing.status_code == 404 and r.json()["code"] == missing.json()["code"] == "not_found"
            assert rid not in r.text


@pytest.mark.parametrize("actor", ACTORS)
def test_project_lists_hold_exactly_the_readable_projects(world: World, actor: str) -> None:
    r = world.call(actor, "GET", "/api/v1/projects", service="query")
    assert r.status_code == 200
    seen = {f"{p['entity']}/{p['name']}" for p in r.json()["projects"]} & set(PROJECTS)
    assert seen == {p for p in PROJECTS if actor in _readers(p)}, actor


# ---- write through gRPC ingest ------------------------------------------------------------------------
@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("actor", ACTORS)
def test_ingest_write(world: World, actor: str, project: str) -> None:
    entity, name = project.split("/")
    code, detail = world.open_run(actor, entity, name)
    in_entity = actor == "root" or (entity == "vision" and actor in VISION)
    if actor in WRITERS and in_entity:
        assert code is None, (actor, project, detail)
    elif actor == "tviewer" and entity == "vision":
        assert code == grpc.StatusCode.PERMISSION_DENIED, (code, detail)
        assert "viewer" in detail
    else:
        assert code == grpc.StatusCode.NOT_FOUND, (actor, project, code, detail)
        # an unknown project of the same entity, and an unknown entity, answer alike
        code2, detail2 = world.open_run(actor, entity, "no-such-project")
        assert (code2, detail2) == (code, detail)
        code3, _ = world.open_run(actor, "no-such-entity", name)
        assert code3 == grpc.StatusCode.NOT_FOUND


def test_service_account_writes_to_its_team_by_default(world: World) -> None:
    code, rid = world.open_run("vision-ci", "", "ci-runs")
    assert code is None
    r = world.call("tviewer", "GET", f"/api/v1/runs/vision/ci-runs/{rid}", service="query")
    assert r.status_code == 200 and r.json()["created_by"] == "vision-ci"
    assert world.call("vision-ci", "GET", "/api/v1/viewer").json()["entity"] == "vision"


# ---- presigned URLs through the artifact service ----------------------------------------------------
@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("actor", ACTORS)
def test_presigned_get_only_for_readers(world: World, actor: str, project: str) -> None:
    rid = world.runs[project]  # type: ignore[attr-defined]
    r = world.call(actor, "GET", f"/api/v1/runs/{project}/{rid}/files/notes.txt", service="artifact")
    if actor in _readers(project):
        assert r.status_code == 200, r.text
        url = r.json()["url"]
        import httpx

        assert httpx.get(url, timeout=30).content == b"hello from " + project.encode()
    else:
        assert r.status_code == 404, r.text
        assert "url" not in r.json() and "X-Amz" not in r.text
        r = world.call(actor, "GET", f"/api/v1/runs/{project}/{rid}/files/notes.txt?redirect=true",
                       service="artifact", follow_redirects=False)
        assert r.status_code == 404 and "location" not in r.headers


@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("actor", ACTORS)
def test_presigned_put_only_for_writers(world: World, actor: str, project: str) -> None:
    entity = project.split("/")[0]
    rid = world.runs[project]  # type: ignore[attr-defined]
    data = secrets.token_bytes(64)
    body = {"files": [{"path": f"up-{actor}.bin", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                       "md5": hashlib.md5(data).hexdigest()}]}
    r = world.call(actor, "POST", f"/api/v1/runs/{project}/{rid}/files/uploads", service="artifact", json=body)
    in_entity = actor == "root" or (entity == "vision" and actor in VISION)
    if actor in WRITERS and in_entity:
        assert r.status_code == 200, r.text
        assert "X-Amz-Signature" in r.text or "Signature=" in r.text  # a presigned PUT was issued
    else:
        # a reader without a write role (a viewer, anyone on an internal project) is told 403; for everyone
        # else the project does not exist (404)
        expected = 403 if actor in _readers(project) else 404
        assert r.status_code == expected, (actor, project, r.text)
        assert "X-Amz" not in r.text and "Signature" not in r.text


# ---- managing: project settings and members -------------------------------------------------------
@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("actor", ACTORS)
def test_project_settings_only_for_admins(world: World, actor: str, project: str) -> None:
    r = world.call(actor, "PATCH", f"/api/v1/projects/{project}", service="query",
                   json={"description": f"set by {actor}"})
    is_manager = actor == "root" or (project.startswith("vision/") and actor == "tadmin")
    if is_manager:
        assert r.status_code == 200 and r.json()["description"] == f"set by {actor}", r.text
    elif actor in _readers(project):
        assert r.status_code == 403 and r.json()["code"] == "permission_denied", (actor, r.text)
    else:
        assert r.status_code == 404, (actor, r.text)


@pytest.mark.parametrize("team", ["vision", "audio"])
@pytest.mark.parametrize("actor", ACTORS)
def test_members_managed_by_team_admins_and_read_by_members(world: World, actor: str, team: str) -> None:
    in_team = actor == "root" or (team == "vision" and actor in VISION)
    r = world.call(actor, "GET", f"/api/v1/teams/{team}/members")
    assert r.status_code == (200 if in_team else 404), (actor, r.text)
    r = world.call(actor, "POST", f"/api/v1/teams/{team}/members", json={"username": "outsider", "role": "viewer"})
    if actor == "root" or (team == "vision" and actor == "tadmin"):
        assert r.status_code == 200, r.text
        assert world.call(actor, "DELETE", f"/api/v1/teams/{team}/members/outsider").status_code == 204
    else:
        assert r.status_code == (403 if in_team else 404), (actor, r.text)
    assert world.call("root", "GET", f"/api/v1/teams/{team}/members").json()["members"]
    names = {m["username"] for m in world.call("root", "GET", f"/api/v1/teams/{team}/members").json()["members"]}
    assert "outsider" not in names


def test_role_changes_take_effect_at_once_and_are_audited(world: World) -> None:
    assert world.open_run("tviewer", "vision", "priv")[0] == grpc.StatusCode.PERMISSION_DENIED
    r = world.call("tadmin", "POST", "/api/v1/teams/vision/members", json={"username": "tviewer", "role": "member"})
    assert r.status_code == 200
    try:
        assert world.open_run("tviewer", "vision", "priv")[0] is None
    finally:
        world.call("tadmin", "POST", "/api/v1/teams/vision/members", json={"username": "tviewer", "role": "viewer"})
    assert world.open_run("tviewer", "vision", "priv")[0] == grpc.StatusCode.PERMISSION_DENIED
    events = world.call("root", "GET", "/api/v1/admin/audit?event=member").json()["events"]
    roles = [(e["event"], e["target"], e["detail"]["role"]) for e in events if e["target"] == "vision/tviewer"]
    assert roles[:2] == [("member.role", "vision/tviewer", "viewer"), ("member.role", "vision/tviewer", "member")]


def test_last_team_admin_cannot_leave_or_be_demoted(world: World) -> None:
    r = world.call("tadmin", "POST", "/api/v1/teams/vision/members", json={"username": "tadmin", "role": "member"})
    assert r.status_code == 409 and "last admin" in r.json()["detail"]
    r = world.call("tadmin", "DELETE", "/api/v1/teams/vision/members/tadmin")
    assert r.status_code == 409
    assert world.call("tadmin", "GET", "/api/v1/teams/vision/members").status_code == 200


def test_entities_lists_own_user_and_teams_with_roles(world: World) -> None:
    got = world.call("tviewer", "GET", "/api/v1/entities").json()["entities"]
    assert got == [
        {"name": "tviewer", "kind": "user", "role": "owner", "can_write": True, "can_manage": True},
        {"name": "vision", "kind": "team", "role": "viewer", "can_write": False, "can_manage": False},
    ]
    got = {e["name"]: e["role"] for e in world.call("tadmin", "GET", "/api/v1/entities").json()["entities"]}
    assert got == {"tadmin": "owner", "vision": "admin"}
    got = {e["name"]: e["can_manage"] for e in world.call("root", "GET", "/api/v1/entities").json()["entities"]}
    assert got == {"root": True, "audio": True, "vision": True}


def test_viewer_and_outsider_cannot_make_service_accounts_or_invites(world: World) -> None:
    for actor, code in (("tmember", 403), ("tviewer", 403), ("outsider", 404)):
        r = world.call(actor, "POST", "/api/v1/teams/vision/service-accounts", json={"name": f"x-{actor}"})
        assert r.status_code == code, (actor, r.text)
        r = world.call(actor, "POST", "/api/v1/auth/invites", json={"team": "vision", "role": "member"})
        assert r.status_code == code, (actor, r.text)
        assert world.call(actor, "POST", "/api/v1/auth/invites", json={}).status_code == 403


def test_team_admins_rotate_service_account_keys(world: World) -> None:
    base = "/api/v1/teams/vision/service-accounts/vision-ci/keys"
    for actor, code in (("tmember", 403), ("tviewer", 403), ("outsider", 404), ("vision-ci", 403)):
        assert world.call(actor, "GET", base).status_code == code, actor
        assert world.call(actor, "POST", base, json={"name": "x"}).status_code == code, actor
    assert world.call("aadmin", "GET", "/api/v1/teams/audio/service-accounts/vision-ci/keys").status_code == 404
    new = world.call("tadmin", "POST", base, json={"name": "rotated"})
    assert new.status_code == 201
    key = new.json()
    assert [k["name"] for k in world.call("tadmin", "GET", base).json()["keys"]] == ["service account key", "rotated"]
    world.keys["vision-ci-2"] = key["api_key"]
    assert world.open_run("vision-ci-2", "vision", "priv")[0] is None
    assert world.call("tmember", "DELETE", f"{base}/{key['id']}").status_code == 403
    assert world.call("tadmin", "DELETE", f"{base}/{key['id']}").status_code == 204
    assert world.open_run("vision-ci-2", "vision", "priv")[0] == grpc.StatusCode.UNAUTHENTICATED
    assert world.call("tadmin", "DELETE", f"{base}/{key['id']}").status_code == 404
    assert world.open_run("vision-ci", "vision", "priv")[0] is None  # the first key still works


def test_a_revoked_key_stops_in_every_service_within_5_s(world: World) -> None:
    """Warm the key cache of auth, query and artifact, revoke through REST, and time every refusal."""
    import time

    import httpx

    made = world.call("tmember", "POST", "/api/v1/auth/keys", json={"name": "everywhere"}).json()
    world.keys["everywhere"] = made["api_key"]
    rid = world.runs["vision/priv"]  # type: ignore[attr-defined]
    urls = {f"{world.auth_url}/api/v1/viewer", f"{world.query_url}/api/v1/projects/vision/priv",
            f"{world.artifact_url}/api/v1/runs/vision/priv/{rid}/files"}
    headers = {"Authorization": f"Bearer {made['api_key']}"}
    for url in urls:
        assert httpx.get(url, headers=headers).status_code == 200, url
    assert world.open_run("everywhere", "vision", "priv")[0] is None
    assert world.call("tmember", "DELETE", f"/api/v1/auth/keys/{made['id']}").status_code == 204
    start = time.monotonic()
    pending = set(urls)
    while pending and time.monotonic() - start < 5:
        pending = {u for u in pending if httpx.get(u, headers=headers).status_code != 401}
        time.sleep(0.05)
    assert not pending, pending
    code, detail = world.open_run("everywhere", "vision", "priv")
    assert code == grpc.StatusCode.UNAUTHENTICATED and "revoked" in detail
