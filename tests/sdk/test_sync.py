"""Server away for the whole run, offline runs, and `runyard sync` against the real stack: every point
stored once, a second sync changes nothing, a sync into another project (or instance) sends everything."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.cli import main as cli

from .conftest import history_rows, only_run_dir, wal_records

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

STEPS = 2000
SCRIPT = '''
import numpy as np, runyard
run = runyard.init(project="sync-away", config={"lr": 0.1}, tags=["away"])
run.define_metric("loss", summary="min")
for i in range(STEPS):
    run.log({"loss": 1.0 / (i + 1), "i": i})
run.log({"img": runyard.Image(np.zeros((8, 8)))})
run.summary["final"] = "yes"
run.save(__file__, policy="now")
print("ID", run.id, flush=True)
'''.replace("STEPS", str(STEPS))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _points(server: Any, run_id: str, project: str = "sync-away") -> dict[str, int]:
    rows = server.fetch(
        """SELECT k.key, sum(c.n)::bigint AS n FROM history_chunks c
           JOIN history_keys k ON k.run_id = c.run_id AND k.key_id = c.key_id
           JOIN runs r ON r.id = c.run_id JOIN projects p ON p.id = r.project_id
           WHERE r.run_id = $1 AND p.name = $2 GROUP BY k.key""",
        run_id, project,
    )
    return {r["key"]: r["n"] for r in rows}


def test_server_unreachable_for_the_whole_run_then_sync(
    full_server: Any, sdk_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**os.environ, **sdk_env, "RUNYARD_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
           "RUNYARD_FINISH_TIMEOUT": "30"}
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert took < 40, took  # finish() waits a bounded time when the server was never reached
    run_id = proc.stdout.split("ID", 1)[1].split()[0]
    run_dir = only_run_dir(tmp_path)
    assert f"runyard sync {run_dir}" in proc.stderr
    assert "waiting for the server to confirm" in proc.stderr  # the progress line while finish() waits
    assert proc.stderr.count("WARNING cannot reach") == 1, proc.stderr
    assert len(history_rows(wal_records(run_dir))) == STEPS + 1  # and the image row

    capsys.readouterr()
    assert cli(["sync", str(tmp_path)]) == 0  # the folder holding runyard/
    out = capsys.readouterr().out
    assert "records sent" in out and "files uploaded" in out, out
    points = _points(full_server, run_id)
    assert points == {"loss": STEPS, "i": STEPS, "_timestamp": STEPS + 1}
    api = runyard.Api()
    r = api.run(f"admin/sync-away/{run_id}")
    assert r.state == "finished" and r.config["lr"] == 0.1 and r.tags == ["away"]
    assert r.summary["loss"] == {"min": pytest.approx(1.0 / STEPS)} and r.summary["final"] == "yes"
    assert [row["i"] for row in r.scan_history(keys=["i"])] == list(range(STEPS))
    names = {f.name for f in r.files()}
    assert {"train.py", "output.log", "requirements.txt", "metadata.json"} <= names, names
    assert any(n.startswith("media/images/img_") for n in names)
    def snapshot(x: Any) -> Any:
        return (x.state, x.summary, x.config, x.tags, x.get("finished_at"), x.get("exit_code"),
                sorted((f.name, f.sha256, f.updated_at) for f in x.files()))

    before = snapshot(r)

    assert cli(["sync", str(run_dir)]) == 0  # again: nothing changes
    out = capsys.readouterr().out
    assert "no new records" in out and "files up to date" in out, out
    assert _points(full_server, run_id) == points
    r2 = api.run(f"admin/sync-away/{run_id}")
    assert snapshot(r2) == before

    # into another target (here another project of the same instance; --host would name another instance)
    assert cli(["sync", str(run_dir), "--project", "sync-copy", "--host", sdk_env["RUNYARD_BASE_URL"]]) == 0
    copy = api.run(f"admin/sync-copy/{run_id}")
    assert copy.state == "finished" and _points(full_server, run_id) == points  # the original is untouched
    assert _points(full_server, run_id, "sync-copy") == points
    assert len(list(copy.scan_history(keys=["i"]))) == STEPS
    sync_state = json.loads((run_dir / "sync.json").read_text())
    assert sync_state[sdk_env["RUNYARD_BASE_URL"]]["project"] == "sync-copy"


def test_offline_run_then_sync_and_status(sdk_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    run = runyard.init(project="sync-offline", mode="offline", config={"lr": 0.1},
                       settings={"system_interval": 0.2})
    run.config.update({"lr": 0.2}, allow_val_change=True)
    for i in range(100):
        run.log({"x": i})
    run.summary["done"] = True
    time.sleep(0.5)
    run.finish()
    assert run.finish_result is not None and run.finish_result.outcome == "offline"
    capsys.readouterr()
    assert cli(["status"]) == 0
    out = capsys.readouterr().out
    assert f"host: {sdk_env['RUNYARD_BASE_URL']}" in out and "user: admin" in out
    assert run.folder.name in out and "not synced" in out
    assert cli(["sync"]) == 0  # RUNYARD_DIR
    assert cli(["status"]) == 0
    out = capsys.readouterr().out
    assert "all synced" in out, out
    assert cli(["sync"]) == 0  # a second sync does not bring the initial config back
    r = runyard.Api().run(f"admin/sync-offline/{run.id}")
    assert r.state == "finished" and r.summary["done"] is True and r.summary["x"] == 99
    assert r.config == {"lr": 0.2}
    assert any(k.startswith("system/") for k in r.history_keys)  # system metrics came along
    sysdf = r.history(stream="system", pandas=False)
    assert sysdf and any(k.startswith("system/cpu") for k in sysdf[0])


def test_sync_to_a_server_without_history_blocks_stops_clearly_and_goes_on_later(
    sdk_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An offline run's log holds history blocks. Synced to a server that does not take them (an older one:
    its RunOpened names no features), sync sends what comes before the first block, stops with a message
    that says why and what to do, and exits non-zero; against a server that takes them, the same command
    goes on from there and everything arrives."""
    from runyard import _session

    run = runyard.init(project="sync-old-server", mode="offline", dir=tmp_path,
                       settings={"system_metrics": False, "console": "off"})
    for i in range(500):
        run.log({"x": float(i), "y": -i})
    run.finish()
    real_opened = _session.StreamSession.opened

    def old_server(self: Any, timeout: float = 30.0) -> Any:
        opened = real_opened(self, timeout)
        del opened.features[:]
        return opened

    monkeypatch.setattr(_session.StreamSession, "opened", old_server)
    capsys.readouterr()
    assert cli(["sync", str(run.folder)]) == 1
    err = capsys.readouterr().err
    assert "is older than this SDK and cannot store the history blocks" in err and "runyard sync" in err, err
    monkeypatch.setattr(_session.StreamSession, "opened", real_opened)
    assert cli(["sync", str(run.folder)]) == 0
    r = runyard.Api().run(f"admin/sync-old-server/{run.id}")
    assert [row["x"] for row in r.scan_history(keys=["x"])] == [float(i) for i in range(500)]
    assert r.state == "finished"


def test_sync_errors_are_clear(sdk_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["sync", str(tmp_path / "nothing-here")]) == 2
    assert "no run folder" in capsys.readouterr().err
    run = runyard.init(project="sync-bad", mode="offline", dir=tmp_path, settings={"system_metrics": False})
    run.log({"x": 1})
    run.finish()
    assert cli(["sync", str(run.folder), "--api-key", "ry_wrong_0000"]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "1 of 1 runs could not be synced" in err


def test_offline_resume_goes_on_from_the_local_step_and_syncs(sdk_env: dict[str, str], tmp_path: Path) -> None:
    quiet = {"system_metrics": False, "console": "off", "capture_requirements": False}
    first = runyard.init(project="sync-resume", id="offline-twice", mode="offline", settings=quiet)
    for i in range(5):
        first.log({"x": i})
    first.finish()
    second = runyard.init(project="sync-resume", id="offline-twice", mode="offline", resume="allow", settings=quiet)
    assert second.step == 5
    for i in range(5, 8):
        second.log({"x": i})
    second.finish()
    assert cli(["sync", str(tmp_path)]) == 0  # both folders, oldest first
    r = runyard.Api().run("admin/sync-resume/offline-twice")
    assert [(row["_step"], row["x"]) for row in r.scan_history(keys=["x"])] == [(i, i) for i in range(8)]
