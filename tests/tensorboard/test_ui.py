"""The TensorBoard tab in Debian's Chromium (Playwright): the run page embeds the real TensorBoard, whose
scalars dashboard lists the run's tags and draws a chart from its data endpoints (through the front door);
an unauthorised user gets 404 for the tab and the data endpoints. Screenshots: tests/ui/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.ui import harness

from .conftest import SyncedRun

pytestmark = [pytest.mark.ui, pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def ui_base(tb_server: Any, synced_run: SyncedRun) -> Iterator[str]:
    """A front door serving the built UI over the session stack's database and bucket."""
    dist = harness.ensure_dist()
    with harness.frontdoor(tb_server.service_env(), tb_server.database_url, dist, tb_server.logs_dir) as base:
        yield base


@pytest.fixture(scope="module")
def browser(ui_base: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = harness.launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()


def _page(browser: Any, base: str, username: str, password: str) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    # TensorBoard runs in the tab under its own Content-Security-Policy (routes.page_policy): anything the
    # browser refuses, in the UI or in TensorBoard's frame, is a bug
    page.csp_violations = []
    page.on("console", lambda m: page.csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    resp = context.request.post(base + "/api/v1/auth/login", data={"username": username, "password": password})
    assert resp.ok, resp.text()
    return page


def _shot(page: Any, name: str) -> None:
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / f"{name}.png"))


def test_tensorboard_tab_shows_the_scalars_of_the_run(browser: Any, ui_base: str, synced_run: SyncedRun) -> None:
    page = _page(browser, ui_base, ADMIN_USERNAME, ADMIN_PASSWORD)
    data: dict[str, Any] = {}

    failed: list[str] = []

    def on_response(resp: Any) -> None:
        if resp.status >= 400:
            failed.append(f"{resp.request.method} {resp.url} {resp.status} {resp.text()[:200]}")
        for name in ("data/plugin/scalars/tags", "data/plugin/scalars/scalars_multirun", "data/runs"):
            if resp.url.split("?")[0].endswith(name) and resp.status == 200:
                data[name] = resp.json()

    page.on("response", on_response)
    try:
        page.goto(f"{ui_base}/admin/{synced_run.project}/runs/{synced_run.run_id}?tab=tensorboard")
        frame_el = page.wait_for_selector("[data-testid=tensorboard-frame]", timeout=60_000)
        assert frame_el.get_attribute("src") == f"/tensorboard/runs/{synced_run.path}/"
        frame = frame_el.content_frame()
        frame.wait_for_load_state("load")
        frame.evaluate("() => { window.location.hash = 'scalars'; }")  # the scalars dashboard
        frame.wait_for_selector("text=acc/top1 >> visible=true", timeout=60_000)  # TensorBoard keeps hidden copies of tags
        frame.wait_for_function(
            "() => Array.from(document.querySelectorAll('canvas, svg path')).length > 0", timeout=60_000)
        page.wait_for_timeout(1500)  # let the line chart draw before the picture
        _shot(page, "tensorboard_tab")
        tags = data.get("data/plugin/scalars/tags")
        assert tags is not None, data.keys()
        assert set(tags["."]) == {"loss", "acc/top1"} and set(tags["val"]) == {"loss"}
        series = data.get("data/plugin/scalars/scalars_multirun")
        assert series, f"the chart's data did not come through the front door; failed: {failed}"
        assert any(len(points) >= 4 for points in series.values())
        assert not failed, failed  # every TensorBoard request of the page was answered
        assert not page.csp_violations, page.csp_violations
    finally:
        page.context.close()


def _check_dashboards(browser: Any, base: str, path: str, dashboards: dict[str, tuple[str, str]],
                      shots: set[str]) -> None:
    """Open the TensorBoard tab at `base + path` and show each dashboard (name -> (its data endpoint, what it
    draws)): each must ask its endpoint (200) and draw, with no CSP refusal and no page error."""
    page = _page(browser, base, ADMIN_USERNAME, ADMIN_PASSWORD)
    answered: dict[str, int] = {}
    page.on("response", lambda r: answered.__setitem__(r.url.split("?")[0].split("/data/plugin/", 1)[-1], r.status)
            if "/data/plugin/" in r.url else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(base + path)
        frame = page.wait_for_selector("[data-testid=tensorboard-frame]", timeout=60_000).content_frame()
        frame.wait_for_load_state("load")
        for name, (endpoint, shown) in dashboards.items():
            frame.evaluate(f"() => {{ window.location.hash = '{name}'; }}")
            frame.locator(f"{shown} >> visible=true").first.wait_for(timeout=60_000)
            for _ in range(120):  # the dashboard asks its data endpoint once it is shown
                if answered.get(endpoint):
                    break
                page.wait_for_timeout(250)
            assert answered.get(endpoint) == 200, (name, answered)
            page.wait_for_timeout(1_000)
            if name in shots:
                _shot(page, f"tensorboard_{name}")
        assert not page.csp_violations, page.csp_violations
        assert not errors, errors
    finally:
        page.context.close()


def test_every_dashboard_of_the_run_works_under_its_policy(browser: Any, ui_base: str, synced_run: SyncedRun) -> None:
    """Images, histograms, distributions, text and time series load their data and draw inside the tab with
    no Content-Security-Policy refusal (scripts from this origin only, no eval)."""
    dashboards = {"images": ("images/individualImage", "img[src*='individualImage']"),
                  "histograms": ("histograms/histograms", "text=weights"),
                  "distributions": ("distributions/distributions", "text=weights"),
                  "text": ("text/text", "text=epoch one done"),
                  "timeseries": ("timeseries/timeSeries", "text=acc/top1")}
    _check_dashboards(browser, ui_base, f"/admin/{synced_run.project}/runs/{synced_run.run_id}?tab=tensorboard",
                      dashboards, {"images"})


def test_unauthorised_user_gets_404_for_the_tab_and_the_data(browser: Any, ui_base: str, synced_run: SyncedRun,
                                                            outsider_key: str) -> None:
    page = _page(browser, ui_base, "tb-outsider", "outsider-pass-1")
    try:
        page.goto(f"{ui_base}/admin/{synced_run.project}/runs/{synced_run.run_id}?tab=tensorboard")
        page.wait_for_selector("[data-testid=error]", timeout=30_000)
        assert page.query_selector("[data-testid=tensorboard-frame]") is None
        base = f"{ui_base}/tensorboard/runs/{synced_run.path}/"
        for path in ("", "data/runs", "data/plugin/scalars/tags", "data/plugin/images/images?run=.&tag=sample"):
            resp = page.context.request.get(base + path)
            assert resp.status == 404, (path, resp.status)
        _shot(page, "tensorboard_tab_outsider")
    finally:
        page.context.close()


def test_run_without_event_files_shows_how_to_enable_sync(browser: Any, ui_base: str, sdk_env: dict[str, str],
                                                         tmp_path: Any) -> None:
    from .conftest import run_script

    code = "import runyard\nrun = runyard.init(project='tb-sync', id='plainui')\nrun.log({'x': 1})\nrun.finish()\n"
    assert run_script(code, [], {**sdk_env, "RUNYARD_DIR": str(tmp_path)}, tmp_path).returncode == 0
    page = _page(browser, ui_base, ADMIN_USERNAME, ADMIN_PASSWORD)
    try:
        page.goto(f"{ui_base}/admin/tb-sync/runs/plainui?tab=tensorboard")
        box = page.wait_for_selector("[data-testid=tensorboard-empty]", timeout=30_000)
        assert "sync_tensorboard=True" in box.inner_text()
        assert page.query_selector("[data-testid=tensorboard-frame]") is None
    finally:
        page.context.close()


def test_project_view_of_selected_runs(browser: Any, ui_base: str, synced_run: SyncedRun) -> None:
    page = _page(browser, ui_base, ADMIN_USERNAME, ADMIN_PASSWORD)
    try:
        page.goto(f"{ui_base}/admin/{synced_run.project}/tensorboard?runs={synced_run.run_id}")
        frame_el = page.wait_for_selector("[data-testid=tensorboard-frame]", timeout=60_000)
        assert frame_el.get_attribute("src") == f"/tensorboard/runs/{synced_run.path}/"
    finally:
        page.context.close()


# hyperparameters (a writer per trial), a PR curve and a model graph: the dashboards whose front ends are the
# most likely to need what the policy forbids (eval, inline workers)
PLUGINS_SCRIPT = '''
import sys
import numpy as np
import torch
import runyard
from torch.utils.tensorboard import SummaryWriter

logdir = sys.argv[1]
run = runyard.init(project="tb-sync", id="tbplugins", sync_tensorboard=True)
writer = SummaryWriter(logdir)
rng = np.random.default_rng(3)
writer.add_pr_curve("pr/val", rng.integers(0, 2, 200), rng.random(200), global_step=1)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
writer.add_graph(model, torch.zeros(1, 4))
for lr in (0.1, 0.01):
    writer.add_hparams({"lr": lr, "optimizer": "sgd"}, {"hparam/accuracy": 0.5 + lr})
run.finish()
'''


def test_hparams_pr_curve_and_graph_dashboards_work_under_the_policy(browser: Any, ui_base: str,
                                                                    sdk_env: dict[str, str], tmp_path: Any) -> None:
    from .conftest import run_script

    proc = run_script(PLUGINS_SCRIPT, [str(tmp_path / "logs")], {**sdk_env, "RUNYARD_DIR": str(tmp_path)}, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dashboards = {"pr_curves": ("pr_curves/pr_curves", "text=pr/val"),
                  "hparams": ("hparams/session_groups", "text=optimizer"),
                  "graphs": ("graphs/graph", "svg .node")}
    _check_dashboards(browser, ui_base, "/admin/tb-sync/runs/tbplugins?tab=tensorboard", dashboards, set(dashboards))
