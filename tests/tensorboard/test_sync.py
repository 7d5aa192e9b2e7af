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
