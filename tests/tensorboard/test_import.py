"""`runyard import tensorboard LOGDIR --project P`: one run per subfolder, the right keys and values;
a second import adds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import runyard

from .conftest import run_script

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = "tb-import"

# alpha: torch's SummaryWriter in a Keras-like layout (train/ and validation/) plus a top-level writer;
# beta: tensorboardX with an image; gamma: tensorboardX with a histogram and text. stray/: no event files.
TREE = textwrap.dedent('''
    import sys
    import numpy as np
    from torch.utils.tensorboard import SummaryWriter
    from tensorboardX import SummaryWriter as XWriter

    root = sys.argv[1]
    with SummaryWriter(root + "/alpha") as top, SummaryWriter(root + "/alpha/train") as tr, \\
            SummaryWriter(root + "/alpha/validation") as va:
        for s in (0, 2, 4, 6):
            tr.add_scalar("epoch_loss", 1.0 / (s + 1), s)
            va.add_scalar("epoch_loss", 2.0 / (s + 1), s)
        top.add_scalar("lr", 0.25, 0)
    with XWriter(root + "/beta") as w:
        for s in (10, 20, 15):
            w.add_scalar("loss", s / 100.0, s)
        w.add_image("digit", np.eye(8, dtype=np.float32)[None], 20)
    with XWriter(root + "/gamma") as w:
        w.add_histogram("w", np.arange(100, dtype=np.float64), 3)
        w.add_text("note", "hello", 3)
        w.add_scalar("acc", 0.5, 3)
    import os
    os.makedirs(root + "/stray", exist_ok=True)
    open(root + "/stray/readme.txt", "w").write("not a run")
''')


def _import(logdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "runyard.cli", "import", "tensorboard", str(logdir),
                           "--project", PROJECT], env=full, capture_output=True, text=True, timeout=300)


def test_import_creates_runs_and_a_second_import_adds_nothing(tb_server: Any, sdk_env: dict[str, str],
                                                              tmp_path: Path) -> None:
    logdir = tmp_path / "runs"
    made = run_script(TREE, [str(logdir)], sdk_env, tmp_path)
    assert made.returncode == 0, made.stderr

    first = _import(logdir, sdk_env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "importing 3 runs" in first.stdout
    assert "[1/3] alpha" in first.stdout and "[3/3] gamma" in first.stdout  # progress while it works
    assert "done: 3 runs: 3 imported, 0 completed, 0 already imported, 0 failed" in first.stdout

    api = runyard.Api(sdk_env["RUNYARD_BASE_URL"], sdk_env["RUNYARD_API_KEY"])
    runs = {r.name: r for r in api.runs(f"admin/{PROJECT}")}
    assert set(runs) == {"alpha", "beta", "gamma"}
    for r in runs.values():
        assert r.state == "finished" and "tensorboard-import" in r.tags

    alpha = api.run(runs["alpha"].path)
    rows = list(alpha.scan_history(keys=["train/epoch_loss", "validation/epoch_loss", "lr"]))
    train = {r["_step"]: r["train/epoch_loss"] for r in rows if r.get("train/epoch_loss") is not None}
    val = {r["_step"]: r["validation/epoch_loss"] for r in rows if r.get("validation/epoch_loss") is not None}
    import numpy as np

    assert train == {s: float(np.float32(1.0 / (s + 1))) for s in (0, 2, 4, 6)}
    assert val == {s: float(np.float32(2.0 / (s + 1))) for s in (0, 2, 4, 6)}
    assert [r["lr"] for r in rows if r.get("lr") is not None] == [0.25]

    beta = api.run(runs["beta"].path)
    loss = {r["_step"]: r["loss"] for r in beta.scan_history(keys=["loss"]) if r.get("loss") is not None}
    assert loss == {10: float(np.float32(0.1)), 15: float(np.float32(0.15)), 20: float(np.float32(0.2))}
    digit = next(r["digit"] for r in beta.scan_history(keys=["digit"]) if r.get("digit"))
    assert digit["_type"] == "image-file" and (digit["width"], digit["height"]) == (8, 8)

    gamma = api.run(runs["gamma"].path)
    hist = next(r["w"] for r in gamma.scan_history(keys=["w"]) if r.get("w"))
    assert sum(hist["values"]) == 100
    files = {f.name for f in gamma.files()}
    assert any(n.startswith("tensorboard/events.out.tfevents.") for n in files), files
    assert any(n.startswith("tensorboard/train/") for n in (f.name for f in alpha.files()))

    before = tb_server.fetch(
        "SELECT r.run_id, r.last_seq, r.next_step, (SELECT count(*) FROM run_files f WHERE f.run_id = r.id) AS files "
        "FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = $1 ORDER BY r.run_id", PROJECT)
    second = _import(logdir, sdk_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "done: 3 runs: 0 imported, 0 completed, 3 already imported, 0 failed" in second.stdout
    after = tb_server.fetch(
        "SELECT r.run_id, r.last_seq, r.next_step, (SELECT count(*) FROM run_files f WHERE f.run_id = r.id) AS files "
        "FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = $1 ORDER BY r.run_id", PROJECT)
    assert after == before and len(after) == 3

    # event files that changed since are not mixed into the runs imported from their earlier state
    with open(next((logdir / "beta").glob("*tfevents*")), "ab") as fh:
        fh.write(b"\0" * 16)
    third = _import(logdir, sdk_env)
    assert third.returncode == 1, third.stdout + third.stderr
    assert "was imported from other event files" in third.stdout
    assert "done: 3 runs: 0 imported, 0 completed, 2 already imported, 1 failed" in third.stdout
    assert tb_server.fetch(
        "SELECT r.run_id, r.last_seq, r.next_step, (SELECT count(*) FROM run_files f WHERE f.run_id = r.id) AS files "
        "FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = $1 ORDER BY r.run_id", PROJECT) == before


def test_import_of_a_folder_without_event_files_says_so(sdk_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    proc = _import(tmp_path / "empty", sdk_env)
    assert proc.returncode == 2
    assert "no TensorBoard event files" in proc.stderr
