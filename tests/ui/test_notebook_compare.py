"""Issue 7's journey in a real Jupyter kernel: run cells, init(), change a value, rerun, init() again; the
second run's session history holds both versions of the cell in order, and the code comparer in the
browser shows the changed line between the two runs."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import pytest

from . import harness

jupyter_client = pytest.importorskip("jupyter_client")
pytestmark = [pytest.mark.ui, pytest.mark.slow]

ADMIN = "admin"
PASSWORD = "ui-password-1"
PROJECT = "nb-compare"
TRAIN_CELL = (
    "run = runyard.init(project='nb-compare', config={'dense_units': dense_units})\n"
    "run.log({'dense_units': dense_units})\n"
    "run.finish()\n"
    "run_ids.append(run.id)"
)


def _execute(kc: Any, code: str) -> None:
    reply = kc.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]


def _value(kc: Any, expr: str) -> Any:
    reply = kc.execute_interactive("", timeout=60, user_expressions={"v": f"__import__('json').dumps({expr})"},
                                   output_hook=lambda msg: None)
    return json.loads(ast.literal_eval(reply["content"]["user_expressions"]["v"]["data"]["text/plain"]))


def test_session_history_and_code_comparer_across_two_runs(page: Any, ui_server: Any, tmp_path: Path) -> None:
    harness.ensure_admin(ui_server.base_url, ADMIN, PASSWORD)
    key = harness.create_api_key(ui_server.dsn, ADMIN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(RUNYARD_BASE_URL=ui_server.base_url, RUNYARD_API_KEY=key, RUNYARD_DIR=str(tmp_path),
               RUNYARD_CONFIG_DIR=str(tmp_path / "config"), RUNYARD_SYSTEM_METRICS="false",
               RUNYARD_CAPTURE_REQUIREMENTS="false")
    with harness.ingest(ui_server.service_env, ui_server.dsn, ui_server.ingest_port, ui_server.logs_dir):
        km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
        try:
            _execute(kc, "import runyard\nrun_ids = []")
            _execute(kc, "dense_units = 64")
            _execute(kc, TRAIN_CELL)
            _execute(kc, "dense_units = 128")
            _execute(kc, TRAIN_CELL)
            first, second = _value(kc, "run_ids")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    import runyard

    api = runyard.Api(base_url=ui_server.base_url, api_key=key)
    history = api.run(f"{ADMIN}/{PROJECT}/{second}").file("code/_session_history.ipynb").download(root=tmp_path / "dl")
    sources = [c["source"] for c in json.loads(Path(history).read_text())["cells"]]
    assert sources.index("dense_units = 64") < sources.index("dense_units = 128")
    assert sources.count(TRAIN_CELL) == 2  # the cell run twice, with the changed value between
    counts = [c["execution_count"] for c in json.loads(Path(history).read_text())["cells"]]
    assert counts == list(range(1, len(counts) + 1))  # the running cell (calling finish) has its own number

    resp = page.context.request.post(ui_server.base_url + "/api/v1/auth/login",
                                     data={"username": ADMIN, "password": PASSWORD})
    assert resp.ok
    page.goto(f"{ui_server.base_url}/{ADMIN}/{PROJECT}/compare?a={first}&b={second}&file=code/_session_history.ipynb")
    page.wait_for_selector("[data-testid=file-diff][data-path='code/_session_history.ipynb']")
    rows = page.locator(".diff-row[data-kind=changed], .diff-row[data-kind=added]")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("dense_units = 128" in t for t in texts), texts
    assert not any("dense_units = 64" in t and "dense_units = 128" not in t for t in texts), texts
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / "40-notebook-compare.png"), full_page=True)
