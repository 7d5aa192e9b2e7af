"""`sync_tensorboard=True` with a real torch SummaryWriter: history equals what the event files hold, bit
for bit, at the writers' own steps; image, histogram and text arrive; the event files are run files."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard.artifacts import list_run_files

from .conftest import SyncedRun, event_files

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _written(folder: Path) -> dict[str, dict[int, float]]:
    """Scalars as TensorBoard's own reader sees them in the local event files: {tag: {step: value}}, the
    last value of a repeated step winning (as Runyard stores it)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, dict[int, float]] = {}
    for path in event_files(folder):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        prefix = path.parent.relative_to(folder).as_posix()
        for tag in acc.Tags()["scalars"]:
            key = tag if prefix == "." else f"{prefix}/{tag}"
            for ev in acc.Scalars(tag):
                out.setdefault(key, {})[ev.step] = ev.value
    return out


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_scalars_are_stored_at_their_steps_bit_for_bit(synced_run: SyncedRun, sdk_env: dict[str, str]) -> None:
    written = _written(synced_run.logdir)
    assert set(written) == {"loss", "acc/top1", "val/loss"}
    assert sorted(written["loss"]) == [0, 1, 2, 3, 5, 7, 9, 50, 51, 1000]
    assert sorted(written["val/loss"]) == [3, 10, 20, 30]
    api = runyard.Api(sdk_env["RUNYARD_BASE_URL"], sdk_env["RUNYARD_API_KEY"])
    run = api.run(synced_run.path)
    for key, points in written.items():
        stored = {int(r["_step"]): r[key] for r in run.scan_history(keys=[key]) if r.get(key) is not None}
        assert sorted(stored) == sorted(points), key
        for step, value in points.items():
            assert _bits(stored[step]) == _bits(value), (key, step, stored[step], value)
    # the values are the float32 numbers the writer put in the file (torch writes simple_value float32)
    import math

    import numpy as np

    assert _bits(written["loss"][1000]) == _bits(float(np.float32(math.exp(-1000 / 7.0) + 1e-9 * 1000)))
    # the script's own log() was not moved by the TensorBoard steps (it went to step 0)
    own = [r for r in run.scan_history(keys=["own_metric"]) if r.get("own_metric") is not None]
    assert [(r["_step"], r["own_metric"]) for r in own] == [(0, 1.5)]


def test_image_histogram_and_text_arrive(synced_run: SyncedRun, sdk_env: dict[str, str]) -> None:
    api = runyard.Api(sdk_env["RUNYARD_BASE_URL"], sdk_env["RUNYARD_API_KEY"])
    run = api.run(synced_run.path)
    rows = {int(r["_step"]): r for r in run.scan_history(keys=["sample", "weights"])}
    image = rows[9]["sample"]
    assert image["_type"] == "image-file" and (image["width"], image["height"]) == (24, 16)
    hist = rows[9]["weights"]
    assert hist["_type"] == "histogram"
    assert sum(hist["values"]) == 1000 and len(hist["bins"]) == len(hist["values"]) + 1
    assert hist["bins"] == sorted(hist["bins"])
    base, key = sdk_env["RUNYARD_BASE_URL"], sdk_env["RUNYARD_API_KEY"]
    files = {f["path"] for f in list_run_files(base, key, *synced_run.path.split("/"), recursive=True)["files"]}
    assert image["path"] in files
    import httpx

    out = httpx.get(f"{base}/api/v1/runs/{synced_run.path}/output", headers={"Authorization": f"Bearer {key}"},
                    timeout=30)
    assert out.status_code == 200, out.text
    assert "[tensorboard] notes/text_summary @ step 9: epoch one done" in out.text


def test_event_files_are_run_files(synced_run: SyncedRun, sdk_env: dict[str, str]) -> None:
    base, key = sdk_env["RUNYARD_BASE_URL"], sdk_env["RUNYARD_API_KEY"]
    listing = list_run_files(base, key, *synced_run.path.split("/"), prefix="tensorboard/", recursive=True)
    remote = {f["path"]: f["sha256"] for f in listing["files"]}
    local = {("tensorboard/" + p.relative_to(synced_run.logdir).as_posix()): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in event_files(synced_run.logdir)}
    assert len(local) == 2  # the root writer's file and val/'s
    assert remote == local  # every event file, complete (the writers were flushed at finish)


def _scalar_rows(run: Any, key: str) -> list[int]:
    return [int(r["_step"]) for r in run.scan_history(keys=[key]) if r.get(key) is not None]


XSCRIPT = '''
import sys
import numpy as np
import runyard
from tensorboardX import SummaryWriter

run = runyard.init(project="tb-sync", id=sys.argv[2], sync_tensorboard=True)
w = SummaryWriter(sys.argv[1])
for s in (4, 2, 8):
    w.add_scalar("x/loss", s / 3.0, s)
w.add_histogram("h", np.linspace(0, 1, 50), 8)
run.finish()
print("RUN_DIR", run.folder)
'''


def test_tensorboardx_offline_then_runyard_sync(sdk_env: dict[str, str], tmp_path: Path) -> None:
    """tensorboardX's writer in an offline run: nothing reaches the server until `runyard sync`, which
    uploads the rows and the event file."""
    import os
    import subprocess
    import sys

    import numpy as np

    from .conftest import run_script

    env = {**sdk_env, "RUNYARD_DIR": str(tmp_path), "RUNYARD_MODE": "offline"}
    proc = run_script(XSCRIPT, [str(tmp_path / "xlogs"), "tbxoffline"], env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = next(line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("RUN_DIR"))
    api = runyard.Api(sdk_env["RUNYARD_BASE_URL"], sdk_env["RUNYARD_API_KEY"])
    with pytest.raises(runyard.errors.RunyardError):
        api.run("admin/tb-sync/tbxoffline").load()
    full = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    full.update(sdk_env)
    sync = subprocess.run([sys.executable, "-m", "runyard.cli", "sync", run_dir], env=full, capture_output=True,
                          text=True, timeout=120)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    run = api.run("admin/tb-sync/tbxoffline")
    loss = {r["_step"]: r["x/loss"] for r in run.scan_history(keys=["x/loss"]) if r.get("x/loss") is not None}
    assert {k: _bits(v) for k, v in loss.items()} == {s: _bits(float(np.float32(s / 3.0))) for s in (2, 4, 8)}
    hist = next(r["h"] for r in run.scan_history(keys=["h"]) if r.get("h"))
    assert sum(hist["values"]) == 50
    names = [f.name for f in run.files()]
    assert any(n.startswith("tensorboard/events.out.tfevents.") for n in names), names
