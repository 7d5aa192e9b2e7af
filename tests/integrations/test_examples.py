"""The examples in examples/ run end to end against the real stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("keras")
pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]


def _env(online_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(online_env)
    return env


@pytest.fixture()
def online_env(online: Any, stack: Any, admin_key: str, tmp_path: Path) -> dict[str, str]:
    return {
        "RUNYARD_BASE_URL": stack.base_url, "RUNYARD_API_KEY": admin_key, "RUNYARD_DIR": str(tmp_path),
        "RUNYARD_CONFIG_DIR": str(tmp_path / "config"), "KERAS_BACKEND": "torch",
    }


def _latest(api: Any, project: str) -> Any:
    runs = list(api.runs(f"admin/{project}"))
    assert runs, f"no run in {project}"
    return runs[0]


def test_digits_notebook_runs_and_logs_charts_images_and_code(online: Any, online_env: dict[str, str], tmp_path: Path) -> None:
    nb_path = tmp_path / "digits_keras.ipynb"
    nb_path.write_text((ROOT / "examples/digits_keras.ipynb").read_text())
    nb = nbformat.read(nb_path, as_version=4)
    env = _env(online_env) | {"JPY_SESSION_NAME": str(nb_path)}  # what Jupyter Server sets for a kernel
    old = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)

    run = _latest(online, "digits")
    assert run.state == "finished" and run.config["dense_units"] == 64
    rows = list(run.scan_history())
    epochs = [r for r in rows if "val_accuracy" in r]
    assert len(epochs) == 3 and all(0 <= r["val_accuracy"] <= 1 for r in epochs)
    captions = [img["caption"] for img in epochs[-1]["examples"]]
    assert captions and all(c.startswith("pred: ") and " / true: " in c for c in captions)
    paths = {f.name for f in run.files()}
    assert "code/_session_history.ipynb" in paths and "code/digits_keras.ipynb" in paths
    assert any(p.startswith("media/images/examples_") for p in paths)


def test_pytorch_example_script_runs_with_watch(online: Any, online_env: dict[str, str]) -> None:
    pytest.importorskip("torch")
    subprocess.run(
        [sys.executable, str(ROOT / "examples/pytorch_digits.py"), "--epochs", "2", "--project", "digits-torch"],
        env=_env(online_env), check=True, timeout=300, capture_output=True,
    )
    run = _latest(online, "digits-torch")
    assert run.state == "finished" and run.config["epochs"] == 2
    rows = list(run.scan_history())
    assert len([r for r in rows if "val/accuracy" in r]) == 2
    assert any(r.get("gradients/0.weight", {}).get("_type") == "histogram" for r in rows)
    assert run.summary["best_val_accuracy"] > 0.5
    assert "code/examples/pytorch_digits.py" in {f.name for f in run.files()}  # path inside the repo
