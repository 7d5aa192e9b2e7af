"""The web UI in a real browser, against the real front door (see conftest.py).

Order matters inside this module: the first test signs the admin up through the first-run page;
the others log in as that admin (or sign it up through the API when run alone).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from . import harness

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ADMIN = "admin"
PASSWORD = "ui-password-1"
PROJECT = "cnn"
N_RUNS = 40
METRICS = ["loss", "acc", "val/loss", "system/cpu"]
N_STEPS = 3000  # more than the charts' 500 samples: downsampled, with min/max bands
NAN_RUN = 1
NAN_STEPS = list(range(1000, 1100))


def shot(page: Any, name: str, full_page: bool = False) -> None:
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture(scope="module")
def admin(ui_server: Any) -> str:
    """The admin exists (signed up by the first test or here); returns the base URL."""
    harness.ensure_admin(ui_server.base_url, ADMIN, PASSWORD)
    return ui_server.base_url


@pytest.fixture(scope="module")
def seeded(ui_server: Any, admin: str) -> list[harness.SeededRun]:
    return harness.seed_project(
        ui_server.dsn, ADMIN, PROJECT, n_runs=N_RUNS, metrics=METRICS, n_steps=N_STEPS, nan_steps={NAN_RUN: NAN_STEPS}
    )


def login(page: Any, base_url: str) -> None:
    """Sign in through the API: the context's cookie jar gets the session like a browser would."""
    resp = page.context.request.post(base_url + "/api/v1/auth/login", data={"username": ADMIN, "password": PASSWORD})
    assert resp.ok, resp.text()


def test_first_run_signup_shows_the_key_once(page: Any, ui_server: Any) -> None:
    base = ui_server.base_url
    page.goto(base + "/")
    page.wait_for_selector("[data-testid=setup-form]")
    assert page.url.endswith("/setup")
    shot(page, "01-first-run")

    page.fill("input[name=password]", "short")
    page.fill("input[name=confirm]", "short")
    page.click("button[type=submit]")
    assert "at least 8" in page.inner_text("[role=alert]")

    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    page.click("button[type=submit]")
    key = page.inner_text("[data-testid=api-key]").strip()
    assert key.startswith("ry-")
    assert page.inner_text("[data-testid=login-line]").strip() == f"runyard login --host {base} {key}"
    shot(page, "02-api-key")

    # the key shown is a working key for the SDK
    status, viewer = harness.http_json("GET", base + "/api/v1/viewer", headers={"Authorization": f"Bearer {key}"})
    assert status == 200 and viewer["username"] == ADMIN and viewer["is_admin"]

    page.click("[data-testid=continue]")
    page.wait_for_selector("[data-testid=empty]")
    assert "No projects yet" in page.inner_text("[data-testid=empty]")
    assert page.inner_text("[data-testid=viewer]").startswith(ADMIN)
    shot(page, "03-no-projects")

    # the key is never shown again: the setup page now leads to the projects
    page.goto(base + "/setup")
    page.wait_for_selector("[data-testid=entity-switch]")
    assert page.locator("[data-testid=api-key]").count() == 0


def test_login_logout_and_401_redirect(page: Any, admin: str) -> None:
    harness.expect_errors(page, r"/api/v1/projects/admin/cnn")  # the project is made by a later test
    page.goto(admin + "/admin/cnn?sort=name")
    page.wait_for_selector("[data-testid=login-form]")
    assert "/login?next=" in page.url
    shot(page, "04-login")

    harness.expect_errors(page, r"401.*/api/v1/auth/login|/api/v1/auth/login.*401|auth/login\]")  # the wrong password
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "Wrong username or password" in page.inner_text("[role=alert]")

    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/cnn\?sort=name$"))  # back where the user wanted to go

    page.goto(admin + "/")
    page.click("[data-testid=user-menu]")
    page.click("[data-testid=logout]")  # POST with the X-CSRF-Token header: a 403 would keep the session
    page.wait_for_selector("[data-testid=login-form]")
    status, _ = harness.http_json("GET", admin + "/api/v1/viewer")
    assert status == 401
    page.goto(admin + "/")
    page.wait_for_selector("[data-testid=login-form]")

    # a session that ends while the app is open sends the user to the login page
    login(page, admin)
    page.goto(admin + "/")
    page.wait_for_selector("[data-testid=entity-switch]")
    page.context.clear_cookies()
    harness.expect_errors(page, r"HTTP 401|status of 401")  # the session ended under the open page
    page.click("[data-testid=entity-switch] >> text=admin")  # re-renders, next poll gets a 401
    page.wait_for_selector("[data-testid=login-form]", timeout=15000)


def test_projects_page_lists_run_counts(page: Any, admin: str, seeded: list[harness.SeededRun]) -> None:
    login(page, admin)
    page.goto(admin + "/")
    row = page.locator(f"[data-testid=projects-table] tr[data-project={PROJECT}]")
    row.wait_for()
    assert row.locator("[data-testid=run-count]").inner_text() == str(N_RUNS)
    assert "ago" in row.inner_text() or "just now" in row.inner_text()
    shot(page, "05-projects")
    row.locator("a").click()
    page.wait_for_selector("[data-testid=runs-table][data-ready='1']")
    assert page.url.endswith(f"/{ADMIN}/{PROJECT}")


def _visible_names(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=runs-table] .rt-row",
        "rows => rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)"
        ".map(r => r.querySelector('.run-link').textContent)",
    )


def test_runs_table_sort_filter_and_columns(page: Any, admin: str, seeded: list[harness.SeededRun]) -> None:
    login(page, admin)
    page.goto(f"{admin}/{ADMIN}/{PROJECT}")
    page.wait_for_selector("[data-testid=runs-table][data-ready='1']")
    assert f"{N_RUNS} runs" in page.inner_text("[data-testid=runs-count]")

    # default order: newest first (the seeded runs were created oldest = run 0)
    names = _visible_names(page)
    assert names[0] == seeded[-1].name

    page.click(".rt-th[data-col=name]")  # first click: descending
    page.wait_for_selector(".rt-th[data-col=name] .sort-arrow:text('↓')")
    page.click(".rt-th[data-col=name]")  # then ascending
    page.wait_for_selector(".rt-th[data-col=name] .sort-arrow:text('↑')")
    names = _visible_names(page)
    assert names == sorted(r.name for r in seeded)[: len(names)]
    assert "sort=name" in page.url

    # a summary column from the picker, sorted numerically (descending first)
    page.click("[data-testid=column-picker]")
    page.click(".picker-pop .picker-item:has-text('loss') >> nth=0")
    page.mouse.click(1300, 20)
    page.click(".rt-th[data-col='summary.loss']")
    page.wait_for_selector(".rt-th[data-col='summary.loss'] .sort-arrow:text('↓')")
    names = _visible_names(page)
    expect = [r.name for r in sorted(seeded, key=lambda r: -r.summary["loss"])]
    assert names == expect[: len(names)]
    shot(page, "06-runs-sorted")

    # filter on name and tags
    page.fill("[data-testid=runs-filter]", "sweep")
    harness.wait_js(page, "document.querySelector('[data-testid=runs-count]').textContent.includes(' of ')")
    expected = {r.name for r in seeded if "sweep" in r.name or "sweep" in r.tags}
    assert set(_visible_names(page)) == expected
    shot(page, "07-runs-filtered")
    page.fill("[data-testid=runs-filter]", "no-such-run")
    page.wait_for_selector("text=No run matches the filter")


def test_charts_hover_zoom_and_selection(page: Any, admin: str, seeded: list[harness.SeededRun]) -> None:
    login(page, admin)
    picked = [seeded[NAN_RUN], seeded[5], seeded[6]]
    page.goto(f"{admin}/{ADMIN}/{PROJECT}?sel={','.join(r.run_id for r in picked)}")
    page.wait_for_selector("[data-testid=runs-table][data-ready='1']")
    chart = page.locator("[data-testid=chart-card][data-metric=loss]")
    chart.locator(".chart-canvas[data-drawn]").wait_for()
    # system/* charts live in their own, folded section in the workspace
    assert page.locator("[data-section=System]").count() == 1
    assert page.locator("[data-testid=chart-card][data-metric='system/cpu']").count() == 0

    box = chart.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    hover = chart.locator("[data-testid=chart-hover]")
    hover.wait_for()
    text = hover.inner_text()
    assert text.startswith("step ")
    for r in picked:
        assert r.name in text
    values = re.findall(r"\d+\.\d+|—", text)
    assert len(values) == len(picked)
    shot(page, "08-chart-hover")

    # drag to zoom: the chart refetches that step range (exact points) and offers a reset
    with page.expect_request(lambda r: r.url.endswith("/history") and r.method == "POST" and "min_step" in (r.post_data or "")):
        page.mouse.move(box["x"] + box["width"] * 0.30, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.36, box["y"] + 40, steps=6)
        page.mouse.up()
    chart.locator("text=reset zoom").wait_for()
    chart.locator(".chart-canvas[data-drawn]").wait_for()
    shot(page, "09-chart-zoomed")
    chart.locator("text=reset zoom").click()

    # smoothing and log scale redraw without errors; deselecting a run removes its line
    page.fill("[data-testid=smoothing]", "0.8")
    page.check("[data-testid=log-scale]")
    assert "smooth=0.8" in page.url and "log=1" in page.url
    chart.locator(".chart-canvas[data-drawn]").wait_for()
    page.locator(f".rt-row[data-run-id={picked[2].run_id}] input[type=checkbox]").uncheck()
    assert "2 in charts" in page.inner_text("[data-testid=runs-count]")
    shot(page, "10-workspace-smoothed")


def test_run_page(page: Any, admin: str, seeded: list[harness.SeededRun]) -> None:
    login(page, admin)
    run = seeded[NAN_RUN]
    page.goto(f"{admin}/{ADMIN}/{PROJECT}")
    page.wait_for_selector("[data-testid=runs-table][data-ready='1']")
    page.fill("[data-testid=runs-filter]", run.name)
    page.click(f".rt-row[data-run-id={run.run_id}] .run-link")
    page.wait_for_selector("[data-testid=run-overview]")
    assert page.inner_text("[data-testid=run-name]") == run.name
    overview = page.inner_text("[data-testid=run-overview]")
    assert run.state in overview.lower() and "host-1" in overview
    config = page.inner_text("[data-testid=config-table]")
    assert "optimizer.name" in config and "batch_size" in config
    assert "loss" in page.inner_text("[data-testid=summary-table]")
    shot(page, "11a-run-overview", full_page=True)
    # metrics and, in their own section, system charts; the NaN gap does not break the chart
    page.click("[data-testid=tab-charts]")
    assert "tab=charts" in page.url
    page.locator("[data-testid=chart-card][data-metric=loss] .chart-canvas[data-drawn]").wait_for()
    assert page.locator("[data-section=System]").count() == 0  # system metrics have their own tab
    shot(page, "11-run-page", full_page=True)
    page.click("[data-testid=tab-system]")
    page.locator("[data-section=System] [data-testid=chart-card][data-metric='system/cpu'] .chart-canvas[data-drawn]").wait_for()
    shot(page, "11b-run-system")


def test_a_short_run_ticks_at_whole_steps(page: Any, admin: str, ui_server: Any) -> None:
    """Three steps across a chart: uPlot alone would tick every 0.5 step; steps are whole numbers."""
    login(page, admin)
    [run] = harness.seed_project(ui_server.dsn, ADMIN, "short-runs", n_runs=1, metrics=["loss"], n_steps=3)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{admin}/{ADMIN}/short-runs/runs/{run.run_id}?tab=charts")
    canvas = page.locator("[data-testid=chart-card][data-metric=loss] .chart-canvas[data-drawn]")
    canvas.wait_for()
    ticks = (canvas.get_attribute("data-x-ticks") or "").split()
    assert ticks == ["0", "1", "2"], ticks
    shot(page, "11c-short-run")


def test_missing_project_and_run_explain_themselves(page: Any, admin: str) -> None:
    login(page, admin)
    harness.expect_errors(page, r"404")  # asked for on purpose
    page.goto(f"{admin}/{ADMIN}/no-such-project")
    page.wait_for_selector("[data-testid=error]")
    assert "Not found" in page.inner_text("[data-testid=error]")
    page.goto(f"{admin}/{ADMIN}/{PROJECT}/runs/no-such-run")
    page.wait_for_selector("[data-testid=error]")
    shot(page, "12-not-found")


def test_new_runs_appear_live(page: Any, admin: str, ui_server: Any, seeded: list[harness.SeededRun]) -> None:
    login(page, admin)
    page.goto(f"{admin}/{ADMIN}/{PROJECT}")
    page.wait_for_selector("[data-testid=runs-table][data-ready='1']")
    total = int(re.search(r"(\d+) runs", page.inner_text("[data-testid=runs-count]")).group(1))  # type: ignore[union-attr]
    page.wait_for_selector("[data-testid=live-mode][data-mode=live]")
    harness.add_run(ui_server.dsn, ADMIN, PROJECT, "live-run-1", "live-wave-99")
    # what the ingest service publishes after a commit reaches the page over SSE; no reload
    harness.publish_run_change(ui_server.service_env, ui_server.dsn, ADMIN, PROJECT, "live-run-1")
    page.wait_for_selector(".rt-row[data-run-id=live-run-1]", timeout=5000)
    assert f"{total + 1} runs" in page.inner_text("[data-testid=runs-count]")
    assert page.locator(".rt-row[data-run-id=live-run-1] .badge").inner_text().lower() == "running"


def test_sdk_run_updates_live(page: Any, admin: str, ui_server: Any, tmp_path: Any, monkeypatch: Any) -> None:
    """A script logs through the SDK (real ingest); the open run page follows it without a reload."""
    import runyard

    for k in [k for k in __import__("os").environ if k.startswith("RUNYARD_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path / "config"))
    key = harness.create_api_key(ui_server.dsn, ADMIN)
    with harness.ingest(ui_server.service_env, ui_server.dsn, ui_server.ingest_port, ui_server.logs_dir):
        run = runyard.init(project="sdk-live", config={"lr": 0.01, "epochs": 3}, dir=str(tmp_path),
                           settings={"base_url": admin, "api_key": key})
        try:
            for step in range(50):
                run.log({"loss": 1.0 / (step + 1), "acc": step / 50})
            login(page, admin)
            page.goto(f"{admin}/{ADMIN}/sdk-live")
            page.wait_for_selector("[data-testid=runs-table][data-ready='1']", timeout=20000)
            page.click(f".rt-row[data-run-id='{run.id}'] .run-link")
            page.wait_for_selector("[data-testid=run-overview]")
            assert "running" in page.inner_text("[data-testid=run-overview]").lower()
            assert "lr" in page.inner_text("[data-testid=config-table]")
            page.click("[data-testid=tab-charts]")
            loss = page.locator("[data-testid=chart-card][data-metric=loss]")
            loss.locator(".chart-canvas[data-drawn]").wait_for(timeout=20000)
            for step in range(50, 120):
                run.log({"loss": 1.0 / (step + 1), "acc": step / 120})
        finally:
            run.finish()
        # finished: the page follows the run and shows the new state and its summary, no reload
        page.wait_for_selector(".run-head [data-state=finished]", timeout=20000)
        page.click("[data-testid=tab-overview]")
        harness.wait_js(page,
            "document.querySelector('[data-testid=summary-table]').textContent.includes('loss')", timeout=20000
        )
        page.click("[data-testid=tab-charts]")
        loss.locator(".chart-canvas[data-drawn]").wait_for(timeout=20000)
        # the chart was first drawn with steps 0-49; it comes to hold the points logged afterwards too
        hovered = 0
        for _ in range(60):
            box = loss.locator(".u-over").bounding_box()
            page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
            text = loss.locator("[data-testid=chart-hover]").inner_text()
            hovered = int(re.search(r"step (\d+)", text).group(1))  # type: ignore[union-attr]
            if hovered > 110:
                break
            page.mouse.move(0, 0)
            page.wait_for_timeout(500)
        assert hovered > 110
        shot(page, "13-sdk-run-finished", full_page=True)
