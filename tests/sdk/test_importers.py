"""`runyard import mlflow|wandb` (issue 16): runs written by the real `mlflow` and `wandb` packages are
imported into the session stack through ingest and the artifact service; their histories must match
exactly what was logged, and a second import adds nothing."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard.cli import main as cli

from .conftest import run_script

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

MLFLOW_SCRIPT = '''
import math, os, sys
import mlflow
from mlflow import MlflowClient
mlflow.set_tracking_uri("file:" + sys.argv[1])
mlflow.set_experiment("churn")
client = MlflowClient()
T0 = 1_700_000_000_000
ids = []
with mlflow.start_run(run_name="baseline") as run:
    rid = run.info.run_id
    ids.append(rid)
    mlflow.log_params({"lr": 0.01, "layers": 3})
    mlflow.set_tags({"team": "growth", "stage": "dev"})
    mlflow.set_tag("mlflow.note.content", "first model")
    for step in (0, 1, 2, 5, 10):
        v = math.nan if step == 2 else 1.0 / (step + 1)
        client.log_metric(rid, "loss", v, timestamp=T0 + step * 1000, step=step)
        client.log_metric(rid, "acc", 0.5 + step / 100, timestamp=T0 + step * 1000 + 7, step=step)
    client.log_metric(rid, "val_loss", 0.25, timestamp=T0 + 99_000, step=10)
    open("model.txt", "w").write("weights")
    mlflow.log_artifact("model.txt", "model")
with mlflow.start_run(run_name="broken") as run:
    ids.append(run.info.run_id)
    mlflow.log_param("lr", 1.0)
    client.log_metric(run.info.run_id, "loss", math.inf, timestamp=T0, step=0)
    mlflow.end_run(status="FAILED")
print("IDS", " ".join(ids))
'''


def _get(stack: Any, key: str, path: str, **params: Any) -> Any:
    resp = httpx.get(stack.base_url + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    resp.raise_for_status()
    return resp.json()


def test_mlflow_file_store_is_imported_with_exact_histories_and_again_adds_nothing(
    full_server: Any, admin_key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    mlruns = tmp_path / "mlruns"
    proc = run_script(MLFLOW_SCRIPT.replace("sys.argv[1]", repr(str(mlruns))),
                      {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_DISABLE_TELEMETRY": "true"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    baseline, broken = proc.stdout.split("IDS ", 1)[1].split()
    args = ["import", "mlflow", str(mlruns), "--project", "from-mlflow", "--host", full_server.base_url,
            "--api-key", admin_key]
    capsys.readouterr()
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "imported: 2 runs (2 new" in out and "[2/2]" in out, out

    run = _get(full_server, admin_key, f"/api/v1/runs/admin/from-mlflow/{baseline}")
    assert run["name"] == "baseline" and run["state"] == "finished" and run["exit_code"] == 0
    assert run["config"]["lr"] == "0.01" and run["config"]["layers"] == "3"
    assert run["config"]["mlflow.tags"]["team"] == "growth"
    assert sorted(run["tags"]) == ["stage=dev", "team=growth"] and run["notes"] == "first model"
    assert run["group"] == "churn" and run["summary"]["val_loss"] == 0.25 and run["summary"]["loss"] == 1 / 11
    hist = _get(full_server, admin_key, f"/api/v1/runs/admin/from-mlflow/{baseline}/history/full",
                keys="loss,acc,val_loss,_timestamp")
    assert hist["steps"] == [0, 1, 2, 5, 10]
    cols = hist["columns"]
    assert cols["loss"] == [1.0, 0.5, "NaN", 1 / 6, 1 / 11]
    assert cols["acc"] == [0.5 + s / 100 for s in (0, 1, 2, 5, 10)]
    assert cols["val_loss"] == [None, None, None, None, 0.25]
    t0 = 1_700_000_000_000
    assert cols["_timestamp"] == [(t0 + s * 1000 + 7) / 1000 for s in (0, 1, 2, 5)] + [(t0 + 99_000) / 1000]
    files = _get(full_server, admin_key, f"/api/v1/runs/admin/from-mlflow/{baseline}/files", recursive="true")
    assert [f["path"] for f in files["files"]] == ["model/model.txt"]
    link = _get(full_server, admin_key, f"/api/v1/runs/admin/from-mlflow/{baseline}/files/model/model.txt")
    assert httpx.get(link["url"], timeout=30).content == b"weights"

    failed = _get(full_server, admin_key, f"/api/v1/runs/admin/from-mlflow/{broken}")
    assert failed["state"] == "failed" and failed["exit_code"] == 1
    hist = _get(full_server, admin_key, f"/api/v1/runs/admin/from-mlflow/{broken}/history/full", keys="loss")
    assert hist["columns"]["loss"] == ["Infinity"] and math.isinf(float(hist["columns"]["loss"][0]))

    before = full_server.fetch("SELECT r.run_id, r.last_seq, r.updated_at FROM runs r JOIN projects p "
                               "ON p.id = r.project_id WHERE p.name = 'from-mlflow' ORDER BY r.run_id")
    capsys.readouterr()
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "nothing to transfer" in out and "imported: 2 runs (0 new, 0 completed, 2 already there)" in out, out
    after = full_server.fetch("SELECT r.run_id, r.last_seq, r.updated_at FROM runs r JOIN projects p "
                              "ON p.id = r.project_id WHERE p.name = 'from-mlflow' ORDER BY r.run_id")
    assert after == before


def test_mlflow_import_names_a_missing_experiment(full_server: Any, admin_key: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    mlruns = tmp_path / "mlruns"
    mlruns.mkdir()
    assert cli(["import", "mlflow", str(mlruns), "--experiment", "nope", "--project", "x", "--host",
                full_server.base_url, "--api-key", admin_key]) == 2
    assert "no MLflow experiment named nope" in capsys.readouterr().err


WANDB_SCRIPT = '''
import math, sys
import wandb
run = wandb.init(project="orig", name="wb-run", config={"lr": 0.1, "opt": {"name": "adam"}}, tags=["x", "y"],
                 notes="from wandb", group="grp", job_type="train")
print("RUNID", run.id, flush=True)
for i in range(30):
    v = math.nan if i == 3 else (math.inf if i == 4 else i * 0.25)
    run.log({"loss": v, "acc": {"train": i / 30}})
run.log({"big": 1.0}, step=40)
print("hello from the run", flush=True)
print("a warning", file=sys.stderr, flush=True)
run.summary["best"] = 7
run.finish(exit_code=2)
'''


def test_wandb_offline_run_folder_is_imported_with_exact_histories_and_again_adds_nothing(
    full_server: Any, admin_key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(tmp_path),
           "WANDB_DISABLE_GIT": "true", "WANDB_CONSOLE": "wrap"}
    proc = run_script(WANDB_SCRIPT, env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split("RUNID ", 1)[1].split()[0]
    folder = tmp_path / "wandb"
    args = ["import", "wandb", str(folder), "--project", "from-wandb", "--host", full_server.base_url,
            "--api-key", admin_key]
    capsys.readouterr()
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "imported: 1 runs (1 new" in out, out

    run = _get(full_server, admin_key, f"/api/v1/runs/admin/from-wandb/{run_id}")
    assert (run["name"], run["state"], run["exit_code"]) == ("wb-run", "failed", 2)
    assert run["config"] == {"lr": 0.1, "opt": {"name": "adam"}}
    assert run["tags"] == ["x", "y"] and run["notes"] == "from wandb"
    assert (run["group"], run["job_type"]) == ("grp", "train") and run["summary"]["best"] == 7
    hist = _get(full_server, admin_key, f"/api/v1/runs/admin/from-wandb/{run_id}/history/full",
                keys="loss,acc/train,big,_timestamp")
    assert hist["steps"] == [*range(30), 40]
    cols = hist["columns"]
    want = [i * 0.25 for i in range(30)]
    want[3], want[4] = "NaN", "Infinity"  # type: ignore[call-overload]
    assert cols["loss"] == [*want, None]
    assert cols["acc/train"] == [*(i / 30 for i in range(30)), None] and cols["big"][-1] == 1.0
    ts = cols["_timestamp"]
    assert all(isinstance(x, float) for x in ts) and ts == sorted(ts) and ts[0] > 1.7e9
    assert any(k.startswith("system/") for k in run["history_keys"])  # the system metrics
    lines = _get(full_server, admin_key, f"/api/v1/runs/admin/from-wandb/{run_id}/output", limit=1000)["lines"]
    assert ("stdout", "hello from the run") in [(x["stream"], x["line"]) for x in lines]
    assert ("stderr", "a warning") in [(x["stream"], x["line"]) for x in lines]
    files = _get(full_server, admin_key, f"/api/v1/runs/admin/from-wandb/{run_id}/files", recursive="true")
    assert "output.log" in {f["path"] for f in files["files"]}

    (before,) = full_server.fetch("SELECT last_seq, updated_at FROM runs WHERE run_id = $1", run_id)
    capsys.readouterr()
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "nothing to transfer" in out and "1 already there" in out, out
    (after,) = full_server.fetch("SELECT last_seq, updated_at FROM runs WHERE run_id = $1", run_id)
    assert after == before
