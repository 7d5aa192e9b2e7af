"""The TensorBoard component through the front door: TensorBoard's own pages and data endpoints over the
run's event files, and the access check on every request."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import SyncedRun

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _csp(resp: httpx.Response) -> dict[str, str]:
    policy = resp.headers["content-security-policy"]
    return {d.strip().partition(" ")[0]: d.strip().partition(" ")[2] for d in policy.split(";") if d.strip()}


def _tb(run: SyncedRun) -> str:
    return f"/tensorboard/runs/{run.path}/"


def test_tensorboard_page_and_scalars_through_the_front_door(client: httpx.Client, synced_run: SyncedRun) -> None:
    base = _tb(synced_run)
    page = client.get(base)
    assert page.status_code == 200, page.text
    assert "<tf-tensorboard" in page.text or "tb-webapp" in page.text  # TensorBoard's own index.html
    policy = _csp(page)  # TensorBoard's page: framed by the UI only, nothing from another host
    assert policy["frame-ancestors"] == "'self'" and policy["object-src"] == "'none'", policy
    assert policy["script-src"] == "'self'" and "http" not in str(policy), policy  # no inline script, no eval
    assert policy["form-action"] == "'none'" and policy["default-src"] == "'self'", policy
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert page.headers["cross-origin-resource-policy"] == "same-origin"  # the services' hardening headers
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["x-content-type-options"] == "nosniff"
    data = client.get(base + "data/runs")
    assert _csp(data)["default-src"] == "'none'" and _csp(data)["frame-ancestors"] == "'none'"
    assert data.headers["x-frame-options"] == "DENY"
    assert client.get(base.rstrip("/"), follow_redirects=False).headers["location"].endswith(base)

    runs = client.get(base + "data/runs").json()
    assert sorted(runs) == [".", "val"]
    env = client.get(base + "data/environment").json()
    assert env["data_location"] == "runyard" and "/" not in env["data_location"]  # no server folders shown
    assert client.get(base + "data/logdir").json() == {"logdir": "runyard"}  # the writers' folders, as TensorBoard names them
    listing = client.get(base + "data/plugins_listing").json()
    assert listing["scalars"]["enabled"] and listing["images"]["enabled"] and listing["histograms"]["enabled"]
    tags = client.get(base + "data/plugin/scalars/tags").json()
    assert set(tags["."]) == {"loss", "acc/top1"} and set(tags["val"]) == {"loss"}

    # TensorBoard's frontend asks for series with a POST (and its XSRF header)
    resp = client.post(base + "data/plugin/scalars/scalars_multirun", data={"tag": "loss", "runs": [".", "val"]},
                       headers={"X-XSRF-Protected": "1"})
    assert resp.status_code == 200, resp.text
    series = resp.json()
    assert [p[1] for p in series["."]] == [0, 1, 2, 5, 9, 50, 51, 1000, 3, 7]  # wall, step, value in file order
    assert [p[1] for p in series["val"]] == [10, 20, 3, 30]
    # the newer frontend's /experiment/<id>/ prefix names the same view
    assert sorted(client.get(base + "experiment/defaultExperimentId/data/runs").json()) == [".", "val"]

    images = client.get(base + "data/plugin/images/images", params={"run": ".", "tag": "sample"}).json()
    assert len(images) == 1 and images[0]["step"] == 9
    blob = client.get(base + "data/plugin/images/individualImage?" + images[0]["query"])
    assert blob.status_code == 200 and blob.content[:8] == b"\x89PNG\r\n\x1a\n"
    hist = client.get(base + "data/plugin/histograms/histograms", params={"run": ".", "tag": "weights"}).json()
    assert hist and hist[0][1] == 9


def test_status_endpoint(client: httpx.Client, synced_run: SyncedRun) -> None:
    s = client.get(f"/tensorboard/status/{synced_run.path}").json()
    assert s["event_files"] == 2 and s["runs"][0]["run_id"] == synced_run.run_id and s["runs"][0]["bytes"] > 0
    assert s["path"] == f"/tensorboard/runs/{synced_run.path}/"


def test_project_view_of_several_runs(client: httpx.Client, synced_run: SyncedRun, sdk_env: dict[str, str],
                                      tmp_path: Any) -> None:
    from .conftest import SYNC_SCRIPT, run_script

    proc = run_script(SYNC_SCRIPT, [str(tmp_path / "logs"), "tbsync2"], {**sdk_env, "RUNYARD_DIR": str(tmp_path)},
                      tmp_path)
    assert proc.returncode == 0, proc.stderr
    base = f"/tensorboard/projects/admin/{synced_run.project}/{synced_run.run_id},tbsync2/"
    assert client.get(base).status_code == 200
    runs = client.get(base + "data/runs").json()
    names = {r["run_id"]: r["name"] for r in client.get(f"/tensorboard/status/admin/{synced_run.project}/"
                                                        f"{synced_run.run_id},tbsync2").json()["runs"]}
    expected = sorted(f"{names[i]}{suffix}" for i in (synced_run.run_id, "tbsync2") for suffix in ("", "/val"))
    assert sorted(r.replace("/.", "") for r in runs) == expected or sorted(runs) == expected


def test_access_is_checked_on_every_request(tb_server: Any, synced_run: SyncedRun, outsider_key: str) -> None:
    base = _tb(synced_run)
    paths = ["", "data/runs", "data/plugin/scalars/tags", "data/plugins_listing", "index.js",
             "data/plugin/images/images?run=.&tag=sample"]
    with httpx.Client(base_url=tb_server.base_url, headers={"Authorization": f"Bearer {outsider_key}"},
                      timeout=30) as outsider:
        for p in paths:
            r = outsider.get(base + p)
            assert r.status_code == 404, (p, r.status_code, r.text[:200])
            assert "tb-webapp" not in r.text
        r = outsider.post(base + "data/plugin/scalars/scalars_multirun", data={"tag": "loss", "runs": ["."]})
        assert r.status_code == 404
        assert outsider.get(base + "experiment/x/data/runs").status_code == 404
        assert outsider.get(f"/tensorboard/status/{synced_run.path}").status_code == 404
        # a run that does not exist answers the same
        assert outsider.get(f"/tensorboard/runs/admin/{synced_run.project}/nosuchrun/").status_code == 404
    with httpx.Client(base_url=tb_server.base_url, timeout=30) as anonymous:
        r = anonymous.get(base + "data/runs")
        assert r.status_code == 401
        assert anonymous.get(base).status_code == 401


def test_experiment_header_from_the_client_is_ignored(client: httpx.Client, synced_run: SyncedRun) -> None:
    """TensorBoard reads the experiment id from an environ key a client header could set; ours wins."""
    r = client.get(_tb(synced_run) + "data/runs", headers={"Tensorboard-Experiment-Id": "run:999999"})
    assert r.status_code == 200 and sorted(r.json()) == [".", "val"]


def test_run_without_event_files_explains_how_to_enable_sync(client: httpx.Client, sdk_env: dict[str, str],
                                                            tmp_path: Any) -> None:
    from .conftest import run_script

    code = "import runyard\nrun = runyard.init(project='tb-sync', id='plainrun')\nrun.log({'x': 1})\nrun.finish()\n"
    proc = run_script(code, [], {**sdk_env, "RUNYARD_DIR": str(tmp_path)}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = client.get("/tensorboard/runs/admin/tb-sync/plainrun/")
    assert page.status_code == 200 and "sync_tensorboard=True" in page.text
    assert client.get("/tensorboard/runs/admin/tb-sync/plainrun/data/runs").status_code == 404
    assert json.loads(client.get("/tensorboard/status/admin/tb-sync/plainrun").text)["event_files"] == 0
