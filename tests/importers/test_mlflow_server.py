"""`runyard import mlflow --tracking-uri http://...` (issue 16): a real `mlflow server` (sqlite backend
store and a local artifact root in a temporary folder, a real port), runs logged to it by the real mlflow
client over HTTP, imported into the session stack and compared exactly; a second import adds nothing."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard.cli import main as cli

from .conftest import get, run_script

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow,
              pytest.mark.timeout(600)]  # real clients and servers start in these tests, on a shared machine

LOG = '''
import json, math, os, sys
import mlflow
from mlflow import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("churn")
client = MlflowClient()
T0 = 1_700_000_000_000
out = {}
with mlflow.start_run(run_name="baseline") as run:
    rid = run.info.run_id
    mlflow.log_params({"lr": 0.01, "layers": 3})
    mlflow.set_tags({"team": "growth", "stage": "dev"})
    mlflow.set_tag("mlflow.note.content", "first model")
    for step in (0, 1, 2, 5, 10):
        v = math.nan if step == 2 else (-math.inf if step == 5 else 1.0 / (step + 1))
        client.log_metric(rid, "loss", v, timestamp=T0 + step * 1000, step=step)
        client.log_metric(rid, "acc", 0.5 + step / 100, timestamp=T0 + step * 1000 + 7, step=step)
    client.log_metric(rid, "val_loss", 0.25, timestamp=T0 + 99_000, step=10)
    os.makedirs("out/deep", exist_ok=True)
    open("out/model.txt", "w").write("weights")
    open("out/deep/cfg.json", "w").write(json.dumps({"a": 1}))
    mlflow.log_artifacts("out", "model")
    out["baseline"] = rid
mlflow.set_experiment("other")
with mlflow.start_run(run_name="broken") as run:
    out["broken"] = run.info.run_id
    mlflow.log_param("lr", 1.0)
    client.log_metric(run.info.run_id, "loss", math.inf, timestamp=T0, step=0)
    mlflow.end_run(status="FAILED")
print("OUT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from runyard_server.local.processes import free_port

    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "NO_PROXY": "*"})
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "artifacts")],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (root / "server.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "mlflow server did not start: " + (root / "server.log").read_text()[-4000:]
            time.sleep(0.5)
        yield url
    finally:
        import signal

        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def test_mlflow_tracking_server_is_imported_exactly_and_again_adds_nothing(
    mlflow_server: str, full_server: Any, admin_key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code = LOG.replace("sys.argv[1]", repr(mlflow_server))
    proc = run_script(code, {"MLFLOW_DISABLE_TELEMETRY": "true", "NO_PROXY": "*"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ids = json.loads(proc.stdout.split("OUT ", 1)[1])
    base, key = full_server.base_url, admin_key
    args = ["import", "mlflow", "--tracking-uri", mlflow_server, "--project", "from-mlflow-server", "--host", base,
            "--api-key", key]
    capsys.readouterr()
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "[1/2]" in out and "imported: 2 runs (2 new, 0 completed, 0 already there)" in out, out
    assert "sent 12 points, 2 files" in out, out  # loss 5 + acc 5 + val_loss 1, and 1; two artifacts

    run = get(base, key, f"/api/v1/runs/admin/from-mlflow-server/{ids['baseline']}")
    assert (run["name"], run["state"], run["exit_code"], run["group"]) == ("baseline", "finished", 0, "churn")
    assert run["config"]["lr"] == "0.01" and run["config"]["layers"] == "3"
    assert run["config"]["mlflow.tags"]["team"] == "growth" and run["notes"] == "first model"
    assert sorted(run["tags"]) == ["stage=dev", "team=growth"]
    assert run["summary"] == {"acc": 0.6, "loss": 1 / 11, "val_loss": 0.25}
    hist = get(base, key, f"/api/v1/runs/admin/from-mlflow-server/{ids['baseline']}/history/full",
               keys="loss,acc,val_loss,_timestamp")
    t0 = 1_700_000_000_000
    assert hist["steps"] == [0, 1, 2, 5, 10]
    assert hist["columns"]["loss"] == [1.0, 0.5, "NaN", "-Infinity", 1 / 11]
    assert hist["columns"]["acc"] == [0.5 + s / 100 for s in (0, 1, 2, 5, 10)]
    assert hist["columns"]["val_loss"] == [None, None, None, None, 0.25]
    assert hist["columns"]["_timestamp"] == [(t0 + s * 1000 + 7) / 1000 for s in (0, 1, 2, 5)] + [(t0 + 99_000) / 1000]
    files = get(base, key, f"/api/v1/runs/admin/from-mlflow-server/{ids['baseline']}/files", recursive="true")
    assert sorted(f["path"] for f in files["files"]) == ["model/deep/cfg.json", "model/model.txt"]
    link = get(base, key, f"/api/v1/runs/admin/from-mlflow-server/{ids['baseline']}/files/model/model.txt")
    assert httpx.get(link["url"], timeout=30).content == b"weights"

    broken = get(base, key, f"/api/v1/runs/admin/from-mlflow-server/{ids['broken']}")
    assert (broken["state"], broken["exit_code"], broken["group"]) == ("failed", 1, "other")
    hist = get(base, key, f"/api/v1/runs/admin/from-mlflow-server/{ids['broken']}/history/full", keys="loss")
    assert hist["columns"]["loss"] == ["Infinity"] and math.isinf(float(hist["columns"]["loss"][0]))

    sql = ("SELECT r.run_id, r.last_seq, r.updated_at FROM runs r JOIN projects p ON p.id = r.project_id "
           "WHERE p.name = 'from-mlflow-server' ORDER BY r.run_id")
    before = full_server.fetch(sql)
    capsys.readouterr()
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "nothing to transfer" in out and \
        "imported: 2 runs (0 new, 0 completed, 2 already there); sent 0 points, 0 files" in out, out
    assert full_server.fetch(sql) == before

    capsys.readouterr()  # one experiment only, and the folder/URI mix-up is named
    assert cli(["import", "mlflow", "--tracking-uri", mlflow_server, "--experiment", "other", "--project",
                "only-other", "--host", base, "--api-key", key]) == 0
    assert "imported: 1 runs (1 new" in capsys.readouterr().out
    assert cli(["import", "mlflow", str(tmp_path), "--tracking-uri", mlflow_server, "--project", "x", "--host", base,
                "--api-key", key]) == 2
    assert "one of them" in capsys.readouterr().err
