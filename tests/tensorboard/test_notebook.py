"""sync_tensorboard inside a real Jupyter kernel: a writer made in one cell, scalars logged in later cells
(the watcher reads them between cells), everything on the server after run.finish()."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runyard

jupyter_client = pytest.importorskip("jupyter_client")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture()
def kernel(tmp_path: Path, sdk_env: dict[str, str]) -> Iterator[Any]:
    env = {**sdk_env, "RUNYARD_DIR": str(tmp_path)}
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def cell(kc: Any, code: str) -> None:
    reply = kc.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]


def test_tensorboard_sync_in_a_notebook(kernel: Any, sdk_env: dict[str, str], tmp_path: Path) -> None:
    import numpy as np

    cell(kernel, "import runyard\nrun = runyard.init(project='tb-nb', id='tbnotebook', sync_tensorboard=True)")
    cell(kernel, f"from tensorboardX import SummaryWriter\nw = SummaryWriter({str(tmp_path / 'logs')!r})")
    cell(kernel, "for s in range(5):\n    w.add_scalar('loss', 1.0 / (s + 1), s)\nw.flush()")
    time.sleep(2.5)  # the watcher reads between cells, while the kernel waits for the next one
    cell(kernel, "seen = dict(run._tensorboard.summary())\nassert seen and all(v > 0 for v in seen.values()), seen")
    cell(kernel, "w.add_scalar('loss', 0.01, 100)\nrun.finish()")
    api = runyard.Api(sdk_env["RUNYARD_BASE_URL"], sdk_env["RUNYARD_API_KEY"])
    r = api.run("admin/tb-nb/tbnotebook")
    loss = {row["_step"]: row["loss"] for row in r.scan_history(keys=["loss"]) if row.get("loss") is not None}
    assert loss == {**{s: float(np.float32(1.0 / (s + 1))) for s in range(5)}, 100: float(np.float32(0.01))}
    assert any(f.name.startswith("tensorboard/events.out.tfevents.") for f in r.files())
