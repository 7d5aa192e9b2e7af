"""Issue 7's demo: examples/digits_keras.ipynb runs in a real kernel against the real services, and the run
page shows its charts while it trains, the example images with predicted and true labels, the notebook and
the session history rendered. Screenshots: tests/ui/screenshots/5x-digits-*.png."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from . import harness

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("keras")
pytest.importorskip("sklearn")
pytestmark = [pytest.mark.ui, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin"
PASSWORD = "ui-password-1"


def _shot(page: Any, name: str) -> None:
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / f"{name}.png"), full_page=True)


def test_digits_notebook_run_page(page: Any, ui_server: Any, tmp_path: Path) -> None:
    harness.ensure_admin(ui_server.base_url, ADMIN, PASSWORD)
    key = harness.create_api_key(ui_server.dsn, ADMIN)
    nb_path = tmp_path / "digits_keras.ipynb"
    source = (ROOT / "examples/digits_keras.ipynb").read_text()
    nb_path.write_text(source.replace("epochs = 3", "epochs = 12"))  # long enough to watch it live
    nb = nbformat.read(nb_path, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(RUNYARD_BASE_URL=ui_server.base_url, RUNYARD_API_KEY=key, RUNYARD_DIR=str(tmp_path),
               RUNYARD_CONFIG_DIR=str(tmp_path / "config"), RUNYARD_SYSTEM_INTERVAL="1",
               KERAS_BACKEND="torch", JPY_SESSION_NAME=str(nb_path))
    resp = page.context.request.post(ui_server.base_url + "/api/v1/auth/login",
                                     data={"username": ADMIN, "password": PASSWORD})
    assert resp.ok
    errors: list[BaseException] = []

    def execute() -> None:
        old = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(env)
            client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                             resources={"metadata": {"path": str(tmp_path)}})
            client.execute()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            os.environ.clear()
            os.environ.update(old)

    with harness.ingest(ui_server.service_env, ui_server.dsn, ui_server.ingest_port, ui_server.logs_dir):
        worker = threading.Thread(target=execute)
        worker.start()
        # while it trains: the project shows the run as running and its charts draw
        run_id = None
        deadline = time.monotonic() + 120
        while run_id is None and time.monotonic() < deadline and worker.is_alive():
            r = page.context.request.get(f"{ui_server.base_url}/api/v1/projects/{ADMIN}/digits/runs")
            if r.ok and r.json()["runs"]:
                run_id = r.json()["runs"][0]["id"]
            else:
                time.sleep(0.5)
        assert run_id, errors
        page.goto(f"{ui_server.base_url}/{ADMIN}/digits")
        page.wait_for_selector(f".rt-row[data-run-id='{run_id}']", timeout=30_000)
        page.goto(f"{ui_server.base_url}/{ADMIN}/digits/runs/{run_id}?tab=charts")
        page.locator("[data-testid=chart-card][data-metric=loss] .chart-canvas[data-drawn]").wait_for(timeout=120_000)
        live = page.locator(".run-head [data-state]").first.get_attribute("data-state")
        _shot(page, "50-digits-charts-live")
        worker.join(600)
        assert not worker.is_alive() and not errors, errors
    assert live == "running"  # the charts were drawn while the run was still training

    page.goto(f"{ui_server.base_url}/{ADMIN}/digits/runs/{run_id}?tab=charts")
    page.wait_for_selector(".run-head [data-state=finished]", timeout=30_000)
    for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
        page.locator(f"[data-testid=chart-card][data-metric={metric}] .chart-canvas[data-drawn]").wait_for(timeout=30_000)
    _shot(page, "51-digits-charts")

    page.goto(f"{ui_server.base_url}/{ADMIN}/digits/runs/{run_id}?tab=media")
    panel = page.wait_for_selector("[data-testid=media-panel][data-key=examples]", timeout=30_000)
    captions = [c.inner_text() for c in panel.query_selector_all("[data-testid=media-image] figcaption")]
    assert captions and all(c.startswith("pred: ") and " / true: " in c for c in captions), captions
    harness.wait_js(page,
        "[...document.querySelectorAll('[data-key=examples] [data-testid=media-image] img')]"
        ".every(i => i.complete && i.naturalWidth === 8)", timeout=30_000)
    _shot(page, "52-digits-media")

    for path, expected in (("code/digits_keras.ipynb", "RunyardCallback"),
                           ("code/_session_history.ipynb", "dense_units = 64")):
        page.goto(f"{ui_server.base_url}/{ADMIN}/digits/runs/{run_id}?tab=files&file={path}")
        notebook = page.wait_for_selector("[data-testid=notebook]", timeout=30_000)
        assert expected in notebook.inner_text()
        _shot(page, "53-digits-notebook" if "digits" in path else "54-digits-session-history")
