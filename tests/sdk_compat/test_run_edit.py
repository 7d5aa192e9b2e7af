"""The edit path for runs (`PATCH`/`DELETE /api/v1/runs/...`) and alerts: a run edited while a process is
still logging to it keeps every record of that process and every edit; who may edit, delete and raise
alerts (writers; viewers 403; others 404); the limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runyard
from tests.services.world import World, running_world

from .conftest import Rest

pytestmark = [pytest.mark.slow]

LIVE_SCRIPT = '''
import sys, time
import runyard as wandb
run = wandb.init(project="edit-live", config={"lr": 0.1}, tags=["live"])
print("PATH", run.path, flush=True)
for i in range(300):
    wandb.log({"loss": 1.0 / (i + 1)})
    time.sleep(0.01)
wandb.config.update({"from_process": 1})
wandb.summary["final"] = True
wandb.finish()
'''


def test_editing_a_live_run_loses_neither_its_records_nor_the_edits(
        online: dict[str, str], rest: Rest, server: Any, tmp_path: Path) -> None:
    script = tmp_path / "live.py"
    script.write_text(textwrap.dedent(LIVE_SCRIPT))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("PATH "), line + (proc.stderr.read() if proc.stderr else "")
        path = line.split()[1]
        api = runyard.Api()
        deadline = time.monotonic() + 60
        while api.run(path).state != "running" or not api.run(path).history_keys:
            assert time.monotonic() < deadline, "the live run never showed up"
            time.sleep(0.1)
        edits = 0
        while proc.poll() is None and edits < 6:
            r = api.run(path)
            assert r.state == "running"
            r.config[f"edit{edits}"] = edits
            r.summary["edited"] = edits
            r.tags.append(f"e{edits}")
            r.notes = f"edited {edits} times"
            r.update()
            edits += 1
            time.sleep(0.2)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert edits >= 2, "the process ended before the edits could overlap with it"
    assert "everything is saved" in err, err
    final = api.run(path)
    run_id = path.split("/")[2]
    assert len(rest.column(final, "loss")) == 300  # no record of the live process was dropped as a replay
    assert final.config["from_process"] == 1 and final.config["lr"] == 0.1
    assert all(final.config[f"edit{i}"] == i for i in range(edits))
    assert final.tags == ["live", *[f"e{i}" for i in range(edits)]] and final.notes == f"edited {edits - 1} times"
    assert final.summary["edited"] == edits - 1 and final.summary["final"] is True and final.summary["loss"] == 1 / 300
    assert final.state == "finished"
    run_file = json.loads(next((tmp_path / "runyard").glob(f"run-*-{run_id}/run.json")).read_text())
    stored = server.fetch("SELECT last_seq FROM runs WHERE run_id = $1", run_id)[0]["last_seq"]
    assert stored == run_file["last_seq"]  # the edits took no sequence numbers of the process


@pytest.fixture(scope="module")
def world(stack: Any) -> Iterator[World]:
    with running_world(stack, artifact=False) as w:
        w.signup_root()
        for name in ("ana", "ben", "cai", "dan"):
            w.user(name)
        w.team("lab", "ana", {"ben": "member", "cai": "viewer"})
        code, run_id = w.open_run("ana", "lab", "p", rows=3)
        assert code is None, run_id
        w.run_id = run_id  # type: ignore[attr-defined]
        yield w


def test_who_may_edit_delete_and_alert(world: World) -> None:
    rid = world.run_id  # type: ignore[attr-defined]
    path = f"/api/v1/runs/lab/p/{rid}"

    def patch(who: str, body: dict[str, Any], run_path: str = path) -> Any:
        return world.call(who, "PATCH", run_path, service="query", json=body)

    r = patch("ben", {"name": "by-member", "add_tags": ["a", "b"], "config": {"k": 1}, "summary": {"s": "x"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "by-member" and body["tags"] == ["a", "b"] and body["config"]["k"] == 1
    assert body["state"] == "running"  # an edit leaves the state alone
    r = patch("ana", {"remove_tags": ["a"], "config_remove": ["k"], "summary_remove": ["s"], "notes": ""})
    assert r.status_code == 200 and r.json()["tags"] == ["b"] and "k" not in r.json()["config"]
    assert patch("cai", {"notes": "viewer"}).status_code == 403
    assert patch("dan", {"notes": "stranger"}).status_code == 404
    assert patch("ana", {"notes": "x"}, "/api/v1/runs/lab/p/nope").status_code == 404
    last_seq = world.sql("SELECT last_seq FROM runs WHERE run_id = $1", rid)[0]["last_seq"]
    assert last_seq == 3  # the edits moved no sequence number

    for bad, why in (({}, "nothing to change"), ({"tags": ["x"], "add_tags": ["y"]}, "not both"),
                     ({"tags": ["x" * 129]}, "tag"), ({"config": {"k" * 300: 1}}, "key"),
                     ({"summary": {"big": "x" * 1_100_000}}, "limit"), ({"name": ""}, "name")):
        r = patch("ana", bad)
        assert r.status_code in (400, 422) and why in r.text, (bad, r.text)
    r = world.call("ana", "PATCH", path, service="query", content=b'{"summary": {"nan": NaN, "inf": -Infinity}}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["summary"]["nan"] == "NaN" and r.json()["summary"]["inf"] == "-Infinity"

    alerts = f"{path}/alerts"
    assert world.call("ben", "POST", alerts, service="query", json={"title": "t", "level": "WARN"}).status_code == 201
    assert world.call("cai", "POST", alerts, service="query", json={"title": "t"}).status_code == 403
    assert world.call("dan", "GET", alerts, service="query").status_code == 404
    assert world.call("ana", "POST", alerts, service="query", json={"title": "t", "level": "DEBUG"}).status_code == 422
    listed = world.call("cai", "GET", alerts, service="query").json()
    assert listed["total"] == 1 and listed["alerts"][0]["level"] == "WARN" and listed["alerts"][0]["created_by"] == "ben"

    assert world.call("cai", "DELETE", path, service="query").status_code == 403
    r = world.call("ana", "DELETE", path, service="query")
    assert r.status_code == 409 and "running" in r.text
    assert world.call("ben", "DELETE", path, service="query", params={"force": "true"}).status_code == 204
    assert world.call("ana", "GET", path, service="query").status_code == 404
    assert world.sql("SELECT count(*) AS n FROM run_alerts")[0]["n"] == 0  # went with the run


def test_alerts_from_the_sdk(online: dict[str, str], rest: Rest, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = runyard.init(project="alerts")
    run.log({"acc": 0.1})
    runyard.alert(title="Low accuracy", text="0.1 is below 0.3", level=runyard.AlertLevel.WARN, wait_duration=300)
    runyard.alert(title="Low accuracy", text="again, within wait_duration: not sent")
    runyard.alert(title="Done", text="finished", level="ERROR", wait_duration=0)
    with pytest.raises(ValueError, match="level"):
        runyard.alert(title="x", text="y", level="LOUD")
    run.finish()
    alerts = rest.get(f"/api/v1/runs/{run.entity}/{run.project}/{run.id}/alerts")["alerts"]
    assert [(a["title"], a["level"], a["step"]) for a in alerts] == [("Done", "ERROR", 1), ("Low accuracy", "WARN", 1)]
    assert runyard.Api().run(run.path).alerts()[1]["text"] == "0.1 is below 0.3"

    offline = runyard.init(project="alerts", mode="offline")
    runyard.alert(title="Offline", text="kept locally")
    offline.finish()
    kept = [json.loads(line) for line in (Path(offline.folder) / "alerts.jsonl").read_text().splitlines()]
    assert kept[0]["title"] == "Offline" and "not on the server" in capsys.readouterr().err
