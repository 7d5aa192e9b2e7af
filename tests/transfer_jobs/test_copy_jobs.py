"""Copy jobs ("Copy to instance..."; issue 16): remote instances registered by an admin (keys encrypted,
never returned), server-side copies of a project or of some runs run by `runyard-server transfer-worker`,
compared field by field on the remote; a second copy moves nothing; a worker killed midway is replaced
and the copy completes exactly once; a remote key without write access fails clearly, the remote unchanged."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.sdk.test_transfer import artifact_view, snapshot

from .conftest import PROJECT, Remote, WorkerProc, call, finished, make_runs, wait_job

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]


def _user(stack: Any, admin_key: str, base: str, name: str) -> str:
    r = call(base, admin_key, "POST", "/api/v1/admin/users", json={"username": name})
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


def test_the_registry_checks_the_remote_and_never_shows_its_key(stack: Any, admin_key: str, remote: Remote) -> None:
    a = stack.base_url
    # a URL where nothing answers, a URL that is not Runyard, a wrong key: each refused with a clear reason
    r = call(a, admin_key, "POST", "/api/v1/admin/remotes", json={"name": "nowhere", "url": "http://127.0.0.1:9",
                                                                   "api_key": remote.api_key})
    assert r.status_code == 409 and "cannot reach http://127.0.0.1:9" in r.json()["detail"], r.text
    r = call(a, admin_key, "POST", "/api/v1/admin/remotes", json={"name": "notry", "url": remote.base_url + "/nope",
                                                                   "api_key": remote.api_key})
    assert r.status_code == 409 and "does not look like a Runyard server" in r.json()["detail"], r.text
    r = call(a, admin_key, "POST", "/api/v1/admin/remotes", json={"name": "badkey", "url": remote.base_url,
                                                                   "api_key": "ry-000000000000_nope"})
    assert r.status_code == 409 and "refused the API key" in r.json()["detail"], r.text
    r = call(a, admin_key, "POST", "/api/v1/admin/remotes", json={"name": "Bad Name", "url": remote.base_url,
                                                                   "api_key": remote.api_key})
    assert r.status_code == 400 and "name must be" in r.json()["detail"], r.text

    r = call(a, admin_key, "POST", "/api/v1/admin/remotes", json={"name": "registry-test", "url": remote.base_url + "/",
                                                                   "api_key": remote.api_key})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["url"] == remote.base_url and made["remote_user"] == "admin" and made["check_ok"] is True
    assert made["key_hint"] == f"{remote.api_key[:7]}…{remote.api_key[-4:]}"
    listed = call(a, admin_key, "GET", "/api/v1/admin/remotes")
    assert listed.status_code == 200 and "registry-test" in [x["name"] for x in listed.json()["remotes"]]
    secret = remote.api_key[7:-4]
    assert secret not in r.text and secret not in listed.text
    again = call(a, admin_key, "POST", "/api/v1/admin/remotes/registry-test/check")
    assert again.status_code == 200 and again.json()["check_ok"] is True and secret not in again.text
    (row,) = stack.fetch("SELECT key_box, key_hint FROM remote_instances WHERE name = 'registry-test'")
    box = bytes(row["key_box"])
    assert remote.api_key.encode() not in box and secret.encode() not in box and len(box) > len(remote.api_key)
    # not an admin: 403 on every remote route, and no job of theirs to see
    other = _user(stack, admin_key, a, "copy-outsider")
    for method, path in (("GET", "/api/v1/admin/remotes"), ("POST", "/api/v1/admin/remotes"),
                         ("POST", "/api/v1/admin/remotes/registry-test/check"),
                         ("DELETE", "/api/v1/admin/remotes/registry-test")):
        body = {"name": "x", "url": "http://x", "api_key": "x"} if method == "POST" else None
        assert call(a, other, method, path, json=body).status_code == 403, (method, path)
    assert call(a, other, "GET", "/api/v1/transfers").json() == {"jobs": []}
    assert call(a, other, "GET", f"/api/v1/transfers/admin/{PROJECT}").status_code == 404
    assert call(a, admin_key, "DELETE", "/api/v1/admin/remotes/registry-test").status_code == 204
    assert "registry-test" not in call(a, admin_key, "GET", "/api/v1/admin/remotes").text
    events = {(e["event"], e["target"]) for e in call(a, admin_key, "GET", "/api/v1/admin/audit").json()["events"]}
    assert {("remote.add", "registry-test"), ("remote.remove", "registry-test")} <= events


def test_a_job_copies_the_project_and_a_second_copy_moves_nothing(
    stack: Any, admin_key: str, remote: Remote, registered: str, source_runs: list[str], worker: WorkerProc,
) -> None:
    a, b, kb = stack.base_url, remote.base_url, remote.api_key
    r = call(a, admin_key, "POST", f"/api/v1/transfers/admin/{PROJECT}", json={"remote": registered})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] == "queued" and [x["run_id"] for x in job["runs"]] == source_runs
    job = wait_job(stack, admin_key, "admin", PROJECT, job["id"], finished, worker)
    assert job["state"] == "succeeded", (job, worker.log())
    assert [x["status"] for x in job["runs"]] == ["copied"] * 3 and job["runs_done"] == 3
    assert all(x["records_sent"] == x["records_total"] > 60 for x in job["runs"]), job["runs"]
    assert job["artifacts_created"] == 1 and job["summary"]
    for run_id in source_runs:
        sa = snapshot(a, admin_key, "admin", PROJECT, run_id)
        sb = snapshot(b, kb, "admin", PROJECT, run_id)
        for part in sa:
            assert sb[part] == sa[part], (run_id, part)
        assert sb["history"]["columns"]["loss"][7] == "NaN" and sb["run"]["summary"]["nan"] == "NaN"
    assert artifact_view(b, kb, "admin", PROJECT) == artifact_view(a, admin_key, "admin", PROJECT)
    # the key the copy read A with was made for this job, belongs to its starter and is revoked
    keys = stack.fetch("SELECT k.revoked_at, u.username FROM api_keys k JOIN users u ON u.id = k.user_id "
                       "WHERE k.name = $1", f"copy job {job['id']} (revoked when it ends)")
    assert len(keys) == 1 and keys[0]["revoked_at"] is not None and keys[0]["username"] == "admin"

    before = remote.fetch("SELECT run_id, last_seq, updated_at, output_lines FROM runs ORDER BY run_id")
    r = call(a, admin_key, "POST", f"/api/v1/transfers/admin/{PROJECT}",
             json={"remote": registered, "run_ids": [source_runs[1]]})
    assert r.status_code == 201, r.text
    again = wait_job(stack, admin_key, "admin", PROJECT, r.json()["id"], finished, worker)
    assert again["state"] == "succeeded" and [x["status"] for x in again["runs"]] == ["up to date"], again
    assert remote.fetch("SELECT run_id, last_seq, updated_at, output_lines FROM runs ORDER BY run_id") == before
    listed = call(a, admin_key, "GET", f"/api/v1/transfers/admin/{PROJECT}").json()["jobs"]
    assert [j["id"] for j in listed][:2] == [again["id"], job["id"]]


def test_a_killed_worker_is_replaced_and_the_copy_completes_exactly_once(
    stack: Any, admin_key: str, remote: Remote, registered: str, worker: WorkerProc,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = "copyjobs-kill"
    runs = make_runs(stack, admin_key, tmp_path_factory.mktemp("kill-src"), project, 4000)
    r = call(stack.base_url, admin_key, "POST", f"/api/v1/transfers/admin/{project}", json={"remote": registered})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    job = wait_job(stack, admin_key, "admin", project, job_id,
                   lambda j: finished(j) or any(x["status"] in ("sending", "copied") for x in j["runs"]), worker)
    assert job["state"] == "running", job
    worker.kill()
    stuck = call(stack.base_url, admin_key, "GET", f"/api/v1/transfers/admin/{project}/{job_id}").json()
    assert stuck["state"] == "running" and stuck["runs_done"] < 3, stuck
    worker.start()
    job = wait_job(stack, admin_key, "admin", project, job_id, finished, worker)
    assert job["state"] == "succeeded" and job["attempts"] == 2, (job, worker.log())
    assert {x["status"] for x in job["runs"]} <= {"copied", "resumed", "up to date"}, job["runs"]
    for run_id in runs:
        sa = snapshot(stack.base_url, admin_key, "admin", project, run_id)
        sb = snapshot(remote.base_url, remote.api_key, "admin", project, run_id)
        assert sb["history"] == sa["history"] and sb["run"] == sa["run"] and sb["files"] == sa["files"], run_id
    counts = remote.fetch("SELECT r.run_id, r.last_seq FROM runs r JOIN projects p ON p.id = r.project_id "
                          "WHERE p.name = $1 ORDER BY r.run_id", project)
    total = {x["run_id"]: x["records_total"] for x in job["runs"]}
    assert {c["run_id"]: c["last_seq"] for c in counts} == {k: total[k] for k in sorted(total)}


def test_a_remote_key_without_write_access_fails_clearly_and_changes_nothing(
    stack: Any, admin_key: str, remote: Remote, source_runs: list[str], worker: WorkerProc,
) -> None:
    viewer = _user(stack, remote.api_key, remote.base_url, "only-reads")
    r = call(stack.base_url, admin_key, "POST", "/api/v1/admin/remotes",
             json={"name": "remote-readonly", "url": remote.base_url, "api_key": viewer})
    assert r.status_code == 201 and r.json()["remote_user"] == "only-reads", r.text
    before = remote.fetch("SELECT count(*) AS n FROM runs")
    r = call(stack.base_url, admin_key, "POST", f"/api/v1/transfers/admin/{PROJECT}",
             json={"remote": "remote-readonly", "run_ids": source_runs[:2], "to_project": "never-written"})
    assert r.status_code == 201, r.text
    job = wait_job(stack, admin_key, "admin", PROJECT, r.json()["id"], finished, worker)
    assert job["state"] == "failed", job
    assert "does not let this key (only-reads) write to entity 'admin'" in job["message"], job
    assert all(x["status"] == "failed" and "does not let this key" in x["detail"] for x in job["runs"]), job["runs"]
    assert remote.fetch("SELECT count(*) AS n FROM runs") == before
    assert remote.fetch("SELECT id FROM projects WHERE name = 'never-written'") == []


def test_a_queued_job_is_cancelled_at_once(stack: Any, admin_key: str, registered: str, source_runs: list[str],
                                           worker: WorkerProc) -> None:
    r = call(stack.base_url, admin_key, "POST", f"/api/v1/transfers/admin/{PROJECT}",
             json={"remote": registered, "run_ids": ["no-such-run"]})
    assert r.status_code == 404 and "no-such-run" in r.json()["detail"], r.text
    r = call(stack.base_url, admin_key, "POST", f"/api/v1/transfers/admin/{PROJECT}", json={"remote": "nope"})
    assert r.status_code == 400 and "no remote instance named 'nope'" in r.json()["detail"], r.text
    worker.stop()  # nobody claims it: the cancel finds it queued
    try:
        r = call(stack.base_url, admin_key, "POST", f"/api/v1/transfers/admin/{PROJECT}",
                 json={"remote": registered, "run_ids": source_runs[:1], "to_project": "cancelled-copy"})
        assert r.status_code == 201 and r.json()["state"] == "queued", r.text
        job_id = r.json()["id"]
        c = call(stack.base_url, admin_key, "POST", f"/api/v1/transfers/admin/{PROJECT}/{job_id}/cancel")
        assert c.status_code == 200 and c.json()["state"] == "cancelled" and c.json()["finished_at"], c.text
        again = call(stack.base_url, admin_key, "POST", f"/api/v1/transfers/admin/{PROJECT}/{job_id}/cancel")
        assert again.status_code == 409 and "has already cancelled" in again.json()["detail"], again.text
    finally:
        worker.start()
    time.sleep(1.0)  # a worker that looks now leaves it alone
    job = call(stack.base_url, admin_key, "GET", f"/api/v1/transfers/admin/{PROJECT}/{job_id}").json()
    assert job["state"] == "cancelled" and job["attempts"] == 0, job
