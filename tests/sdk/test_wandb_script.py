"""A W&B-style script runs unchanged after `import runyard as wandb`, against the real stack, and what it
logged reads back through `Api()`: history, summary, config, media files, console output, code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runyard

from .conftest import only_run_dir

pytestmark = [pytest.mark.e2e, pytest.mark.local, pytest.mark.slow]

SCRIPT = '''
import argparse
import numpy as np
import runyard as wandb

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

wandb.init(project="wandb-compat", config=args, tags=["compat"], notes="a W&B script")
wandb.config.update({"batch_size": 32})
wandb.define_metric("epoch")
wandb.define_metric("val/*", step_metric="epoch", summary="max")
wandb.define_metric("loss", summary="min")
for epoch in range(wandb.config.epochs):
    for i in range(10):
        wandb.log({"loss": 1.0 / (1 + epoch * 10 + i), "lr": wandb.config.lr})
    img = np.linspace(0, 1, 64).reshape(8, 8)
    wandb.log({"epoch": epoch, "val/acc": 0.5 + 0.1 * epoch,
               "examples": [wandb.Image(img, caption=f"epoch {epoch}")]})
    print(f"epoch {epoch} done")
table = wandb.Table(columns=["id", "pred"], data=[[1, 3], [2, 5]])
wandb.log({"preds": table, "hist": wandb.Histogram(np.arange(100))})
wandb.summary["best_epoch"] = 2
wandb.run.summary.update({"note": "done"})
print("PATH", wandb.run.path, wandb.run.url)
wandb.finish()
'''


def test_wandb_script_runs_unchanged_and_reads_back(sdk_env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = dict(os.environ, **sdk_env)
    proc = subprocess.run([sys.executable, str(script), "--lr", "0.001"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("PATH "))
    _, path, url = line.split()
    entity, project, run_id = path.split("/")
    assert url == f"{sdk_env['RUNYARD_BASE_URL']}/{entity}/{project}/runs/{run_id}"
    assert "everything is saved" in proc.stderr, proc.stderr

    api = runyard.Api()
    r = api.run(path)
    assert r.state == "finished" and r.tags == ["compat"] and r.notes == "a W&B script"
    assert r.config["lr"] == 0.001 and r.config["epochs"] == 3 and r.config["batch_size"] == 32
    assert r.config["_runyard"]["metrics"]["val/*"] == {"step_metric": "epoch", "summary": ["max"]}
    assert r.summary["loss"] == {"min": pytest.approx(1.0 / 30)}
    assert r.summary["val/acc"] == {"max": pytest.approx(0.7)}
    assert r.summary["best_epoch"] == 2 and r.summary["note"] == "done"
    assert r.summary["examples"][0]["_type"] == "image-file"

    rows = list(r.scan_history(keys=["loss"]))
    assert len(rows) == 30
    val = list(r.scan_history(keys=["val/acc", "epoch"]))
    assert [(row["epoch"], row["val/acc"]) for row in val] == [(0, 0.5), (1, 0.6), (2, pytest.approx(0.7))]
    hist = r.history(keys=["loss", "lr"], pandas=False)
    assert len(hist) == 30 and set(hist[0]) == {"_step", "_runtime", "_timestamp", "loss", "lr"}
    try:
        import pandas  # noqa: F401

        df = r.history(keys=["loss"])
        assert list(df.columns) == ["_step", "_runtime", "_timestamp", "loss"] and len(df) == 30
    except ImportError:
        pass
    examples = [row for row in r.scan_history(keys=["examples"])]
    assert len(examples) == 3 and examples[0]["examples"][0]["caption"] == "epoch 0"
    preds = next(iter(r.scan_history(keys=["preds"])))["preds"]
    assert preds["_type"] == "table-file" and preds["nrows"] == 2

    names = {f.name: f for f in r.files()}
    for expected in ("output.log", "requirements.txt", "metadata.json", "code/train.py",
                     examples[0]["examples"][0]["path"], preds["path"]):
        assert expected in names, (expected, sorted(names))
    out_dir = tmp_path / "download"
    log_path = names["output.log"].download(root=out_dir)
    assert "epoch 2 done" in log_path.read_text()
    meta = json.loads(names["metadata.json"].download(root=out_dir).read_text())
    assert meta["python"] and meta["program"].endswith("train.py") and meta["args"] == ["--lr", "0.001"]
    table = json.loads(names[preds["path"]].download(root=out_dir).read_text())
    assert table["data"] == [[1, 3], [2, 5]]
    with pytest.raises(runyard.UsageError):
        names["output.log"].download(root=out_dir)
    assert names["output.log"].download(root=out_dir, replace=True) == log_path
    run_dir = only_run_dir(tmp_path)
    assert (run_dir / "files" / "code" / "train.py").read_text() == script.read_text()
    assert any(x.id == run_id for x in api.runs(f"{entity}/{project}", filters={"tag": "compat"}))
