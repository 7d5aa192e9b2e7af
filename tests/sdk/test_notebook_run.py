"""A run inside a real Jupyter kernel: the session history is a run file updated while the run is live
(after cells, debounced) and at finish; the console of cells reaches output.log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")


@pytest.fixture()
def kernel(tmp_path: Path) -> Iterator[Any]:
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc: Any, code: str) -> dict[str, Any]:
    reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
    assert reply["content"]["status"] in ("ok", "error")
    return reply["content"]


def test_session_history_is_saved_live_and_at_finish(kernel: Any, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run(kernel, "import runyard")
    run(kernel, f"run = runyard.init(project='nb', mode='offline', dir={str(runs)!r}, "
                "settings={'system_metrics': False, 'files_interval': 0.2, 'capture_requirements': False})")
    run(kernel, "units = 64\nprint('dense', units)")
    history = next(runs.glob("runyard-runs/run-*")) / "files" / "code" / "_session_history.ipynb"
    deadline = time.monotonic() + 15
    sources: list[str] = []
    while time.monotonic() < deadline:
        if history.is_file():
            sources = [c["source"] for c in json.loads(history.read_text())["cells"]]
            if any("units = 64" in s for s in sources):
                break
        time.sleep(0.2)
    assert any("units = 64" in s for s in sources), sources  # written while the run is live
    run(kernel, "units = 128\nprint('dense', units)")
    run(kernel, "run.log({'units': units})")
    run(kernel, "run.finish()")
    notebook = json.loads(history.read_text())
    sources = [c["source"] for c in notebook["cells"]]
    assert sources.index("units = 64\nprint('dense', units)") < sources.index("units = 128\nprint('dense', units)")
    assert "run.log({'units': units})" in sources
    log = (history.parent.parent / "output.log").read_text()
    assert "dense 64" in log and "dense 128" in log
    meta = json.loads((history.parent.parent / "metadata.json").read_text())
    assert meta.get("notebook") is True


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.local
def test_kernel_shutdown_without_finish_drains_everything(sdk_env: dict[str, str], tmp_path: Path) -> None:
    """A notebook that never calls finish(): shutting the kernel down uploads the media logged last, the
    session history and the rest, and finishes the run."""
    import runyard

    paths: list[str] = []
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        run(kc, "import numpy as np, runyard")
        run(kc, "run = runyard.init(project='nb-exit', settings={'system_metrics': False, "
                "'capture_requirements': False})")
        run(kc, "for i in range(50):\n    run.log({'loss': 1 / (i + 1)})")
        run(kc, "t = runyard.Table(columns=['i', 'img'])\n"
                "for i in range(12):\n    t.add_data(i, runyard.Image(np.full((6, 6), i * 20, dtype=np.uint8)))\n"
                "run.log({'samples': t}, commit=False)\nrun.log({'loss': 0.0})")
        reply = kc.execute_interactive("print(run.path)", timeout=60,
                                       output_hook=lambda msg: paths.append(msg["content"].get("text", "")))
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)  # a graceful shutdown, as Jupyter's "Shut Down Kernel" does
    path = "".join(paths).strip()
    r = runyard.Api().run(path)
    names = [f.name for f in r.files()]
    assert len([n for n in names if n.startswith("media/images/samples_")]) == 12, names
    assert any(n.startswith("media/tables/samples_") for n in names), names
    assert "code/_session_history.ipynb" in names, names
    assert r.state == "finished" and r.summary["loss"] == 0.0
    assert [row["loss"] for row in r.scan_history(keys=["loss"])][-1] == 0.0

