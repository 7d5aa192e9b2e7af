"""The workspace as a W&B user works it (see conftest.py for the server, browser and console check): charts
read in one batched request, legends, lone points, the runs charted chosen by the table's sort and filter
(top N, all, ticked), grouped means with bands, system charts against time with units, image / table /
histogram panels across runs, panels added, edited, moved and resized with the layout saved per user and
shared by a link, the drag handle between table and charts, pop-ups that stay on screen.

One project is seeded once for the module; each test opens its own page."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from . import harness
from .test_ui_features import png_bytes

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ADMIN = "admin"
PASSWORD = "ui-password-1"
PROJECT = "panels"
N_RUNS = 24
N_STEPS = 300
BLUE = (37, 99, 235)  # the first run's colour (data/colors.ts)


def shot(page: Any, name: str) -> None:
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / f"{name}.png"))


@pytest.fixture(scope="module")
def world(ui_server: Any, tmp_path_factory: Any) -> dict[str, Any]:
    from runyard.artifacts import upload_run_files

    base = ui_server.base_url
    harness.ensure_admin(base, ADMIN, PASSWORD)
    dsn = ui_server.dsn
    runs = harness.seed_project(dsn, ADMIN, PROJECT, n_runs=N_RUNS, metrics=["loss", "acc", "val/loss"], n_steps=N_STEPS)
    newest, second = runs[-1], runs[-2]
    # system metrics are stored against unix milliseconds: 40 samples, 15 s apart
    ms = 1.7e12 + np.arange(40) * 15_000
    for r in (newest, second):
        harness.put_history(dsn, ADMIN, PROJECT, r.run_id, "system/cpu", ms, 40 + 10 * np.sin(np.arange(40)))
        harness.put_history(dsn, ADMIN, PROJECT, r.run_id, "system/memory.process_mb", ms, 900 + np.arange(40.0))
    # a key with a single point: a first epoch's value
    harness.put_history(dsn, ADMIN, PROJECT, newest.run_id, "epoch_acc", np.array([0]), np.array([0.42]))
    # images at three steps in two runs, a table with images in its cells, histograms over ten steps
    key = harness.create_api_key(dsn, ADMIN)
    d = tmp_path_factory.mktemp("media")
    (d / "a.png").write_bytes(png_bytes(48, 32))
    (d / "b.png").write_bytes(png_bytes(32, 48))
    table = {"columns": ["id", "image", "pred", "true"],
             "data": [[0, {"_type": "image-file", "path": "media/images/cell0.png", "width": 48, "height": 32}, "cat", "cat"],
                      [1, {"_type": "image-file", "path": "media/images/cell1.png", "width": 32, "height": 48}, "dog", "cat"],
                      [2, None, "bird", "bird"]]}
    (d / "t.json").write_text(json.dumps(table))
    for r, img in ((newest, "a.png"), (second, "b.png")):
        files = {f"media/images/s{s}.png": d / img for s in (0, 100, 200)}
        files.update({"media/images/cell0.png": d / "a.png", "media/images/cell1.png": d / "b.png",
                      "media/tables/preds.table.json": d / "t.json"})
        upload_run_files(base, key, ADMIN, PROJECT, r.run_id, files)
        harness.put_json_history(dsn, ADMIN, PROJECT, r.run_id, "samples", [
            (s, {"_type": "image-file", "path": f"media/images/s{s}.png", "width": 48, "height": 32,
                 "caption": f"{r.name} at {s}"}) for s in (0, 100, 200)])
        harness.put_json_history(dsn, ADMIN, PROJECT, r.run_id, "predictions", [
            (200, {"_type": "table-file", "path": "media/tables/preds.table.json", "ncols": 4, "nrows": 3})])
        rng = np.random.default_rng(len(r.name))
        harness.put_json_history(dsn, ADMIN, PROJECT, r.run_id, "weights", [
            (s, {"_type": "histogram", "values": np.histogram(rng.normal(s / 100, 1, 400), bins=20, range=(-4, 6))[0].tolist(),
                 "bins": np.linspace(-4, 6, 21).tolist()}) for s in range(0, 300, 30)])
    return {"base": base, "runs": runs, "dsn": dsn}


def open_ws(page: Any, world: dict[str, Any], query: str = "", ready: str = "[data-testid=runs-table][data-ready='1']") -> None:
    resp = page.context.request.post(world["base"] + "/api/v1/auth/login", data={"username": ADMIN, "password": PASSWORD})
    assert resp.ok, resp.text()
    page.goto(f"{world['base']}/{ADMIN}/{PROJECT}{query}")
    page.wait_for_selector(ready)


def into_view(locator: Any) -> None:
    """Scroll a panel into view; the workspace may re-render it once while its saved layout arrives."""
    for attempt in range(5):
        try:
            locator.scroll_into_view_if_needed(timeout=10_000)
            return
        except Exception:
            if attempt == 4:
                raise
            locator.page.wait_for_timeout(200)


def chart(page: Any, metric: str) -> Any:
    return page.locator(f"[data-testid=chart-card][data-metric='{metric}']")


def drawn(page: Any, metric: str, lines: int) -> Any:
    loc = chart(page, metric).locator(f".chart-canvas[data-drawn][data-lines='{lines}']")
    loc.wait_for(timeout=30_000)
    return loc


def colored_pixels(locator: Any, rgb: tuple[int, int, int]) -> int:
    """Pixels of the chart's canvas drawn in (about) this colour: what a user sees of a line or a dot."""
    return int(locator.locator("canvas").evaluate("""(c, rgb) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4)
            if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 40 && Math.abs(d[i + 1] - rgb[1]) < 40 && Math.abs(d[i + 2] - rgb[2]) < 40) n++;
        return n; }""", list(rgb)))


def visible_run_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=runs-table] .rt-row",
        "rows => rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map(r => r.dataset.runId)")


def test_charts_read_in_one_request_with_legend_and_lone_points(page: Any, world: dict[str, Any]) -> None:
    runs = world["runs"]
    history: list[str] = []
    page.on("request", lambda r: history.append(f"{r.method} {r.url}") if "/history" in r.url else None)
    open_ws(page, world)
    loss = drawn(page, "loss", 10)  # the table's first 10 runs (newest first)
    assert page.inner_text("[data-testid=runs-total]") == f"{N_RUNS} runs"
    assert page.inner_text("[data-testid=charted-count]") == "10 in charts"
    # every chart in view came from one POST for all ten runs; no request per run
    assert history and all(h.startswith("POST ") and h.endswith(f"/projects/{ADMIN}/{PROJECT}/history") for h in history)
    assert len(history) <= 2, history
    legend = chart(page, "loss").locator("[data-testid=chart-legend]").inner_text()
    assert runs[-1].name in legend and runs[-2].name in legend and "more" in legend
    assert colored_pixels(loss, BLUE) > 50  # the newest run's line
    # a key with one point only (a first epoch) is a dot, not an empty chart
    dot = drawn(page, "epoch_acc", 1)
    assert 8 <= colored_pixels(dot, BLUE) <= 200
    # media keys get their own panels, never an empty line chart
    assert chart(page, "samples").get_attribute("data-type") == "images"
    assert chart(page, "weights").get_attribute("data-type") == "histogram"
    assert page.locator("[data-testid=chart-card][data-type=line][data-metric=samples]").count() == 0
    shot(page, "40-workspace")


IN_VIEW_LINE_CHARTS = """[...document.querySelectorAll('[data-testid=chart-card][data-type=line]')].filter(c => {
    const r = c.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
}).map(c => [c.dataset.metric, !!c.querySelector('.chart-canvas[data-drawn]')])"""


def test_charts_coming_into_view_read_each_series_once(page: Any, world: dict[str, Any]) -> None:
    """Only the charts in view read their history, each (run, key) once: a chart drawing (or still loading)
    keeps its height, so the charts below never flash into view and read theirs for nothing, and scrolling
    reads only what the newly shown charts need."""
    metrics = [f"m{i:02d}" for i in range(16)]
    runs = harness.seed_project(world["dsn"], ADMIN, "scrolling", n_runs=6, metrics=metrics, n_steps=50)
    bodies: list[dict[str, Any]] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data or "{}")) if r.url.endswith("/history") else None)
    resp = page.context.request.post(world["base"] + "/api/v1/auth/login", data={"username": ADMIN, "password": PASSWORD})
    assert resp.ok, resp.text()
    page.goto(f"{world['base']}/{ADMIN}/scrolling")

    def settled() -> list[str]:
        """The line charts in view once every one of them is drawn."""
        harness.wait_js(page, f"(() => {{ const c = {IN_VIEW_LINE_CHARTS}; return c.length > 0 && c.every(x => x[1]); }})()")
        page.wait_for_timeout(300)  # a request a late layout change would send has left by now
        return [m for m, _ in page.evaluate(IN_VIEW_LINE_CHARTS)]

    def pairs() -> list[tuple[str, str]]:
        return [(r, k) for b in bodies for r in b["runs"] for k in b["keys"]]

    in_view = settled()
    assert 0 < len(in_view) < len(metrics)  # the test needs charts below the fold
    assert {k for b in bodies for k in b["keys"]} == set(in_view), (in_view, bodies)
    assert sorted(pairs()) == sorted({(r.run_id, k) for r in runs for k in in_view})  # each once
    seen = set(in_view)
    # scroll the charts down screen by screen: each chart shown reads its keys once, nothing is read again
    for _ in range(8):
        page.locator(".ws-charts").evaluate("el => el.scrollBy(0, el.clientHeight * 0.8)")
        seen.update(settled())
    last = chart(page, metrics[-1])
    assert last.locator(".chart-canvas[data-drawn][data-lines='6']").count() == 1
    assert {k for b in bodies for k in b["keys"]} == seen
    got = pairs()
    assert len(got) == len(set(got)), f"a series was read twice: {bodies}"
    assert len(bodies) <= 9, bodies


def test_sort_and_filter_choose_the_charted_runs(page: Any, world: dict[str, Any]) -> None:
    runs = world["runs"]
    open_ws(page, world, "?cols=summary.loss&sort=summary.loss&top=5")
    by_loss = sorted(runs, key=lambda r: r.summary["loss"])
    assert visible_run_ids(page)[:5] == [r.run_id for r in by_loss[:5]]
    drawn(page, "loss", 5)
    legend = chart(page, "loss").locator(".legend-label").all_inner_texts()
    assert len(legend) >= 2 and legend == [r.name for r in by_loss[:len(legend)]]  # the charts follow the table's order
    # reversing the sort charts the other end of the table
    page.click(".rt-th[data-col='summary.loss']")
    page.wait_for_selector(".rt-th[data-col='summary.loss'] .sort-arrow:text('↓')")
    drawn(page, "loss", 5)
    harness.wait_js(page, f"document.querySelector('[data-metric=loss] .legend-label')?.textContent === '{by_loss[-1].name}'")
    # a filter narrows the table and so the charts; one run left reads "1 run"
    best = by_loss[0]
    page.fill("[data-testid=runs-expr]", f'name = "{best.name}"')
    page.press("[data-testid=runs-expr]", "Enter")
    harness.wait_js(page, "document.querySelector('[data-testid=runs-total]')?.textContent === '1 run'")
    drawn(page, "loss", 1)
    assert page.inner_text("[data-testid=charted-count]") == "1 in charts"
    page.click("text=Clear")
    drawn(page, "loss", 5)
    # select all: the header box charts every row; again: none
    page.click("[data-testid=select-all]")
    drawn(page, "loss", N_RUNS)
    assert page.inner_text("[data-testid=charted-count]") == f"{N_RUNS} in charts" and "top=all" in page.url
    page.click("[data-testid=select-all]")
    page.wait_for_selector("text=No run in the charts")
    # ticking rows charts exactly those
    page.locator(f".rt-row[data-run-id={runs[3].run_id}] input[type=checkbox]").check()
    drawn(page, "loss", 1)
    assert page.input_value("[data-testid=chart-top]") == "ticked"
    shot(page, "41-workspace-top-n")


def test_grouped_runs_show_a_mean_with_a_band(page: Any, world: dict[str, Any]) -> None:
    open_ws(page, world, "?groupby=config.optimizer.name&band=std", ready="[data-testid=groups-view] [data-testid=group-row]")
    loss = drawn(page, "loss", 2)  # adam and sgd: one line each
    assert chart(page, "loss").locator(".legend-label").all_inner_texts() == ["adam", "sgd"] or \
        chart(page, "loss").locator(".legend-label").all_inner_texts() == ["sgd", "adam"]
    assert page.input_value("[data-testid=band-mode]") == "std"
    box = loss.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)
    hover = chart(page, "loss").locator("[data-testid=chart-hover]").inner_text()
    assert "mean of 12 runs, ±1 std" in hover, hover
    shot(page, "42-workspace-grouped")
    page.select_option("[data-testid=band-mode]", "minmax")
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] / 2)
    harness.wait_js(page, "document.querySelector('[data-metric=loss] [data-testid=chart-hover]')?.textContent.includes('min–max')")


def test_system_charts_show_time_and_units(page: Any, world: dict[str, Any]) -> None:
    runs = world["runs"]
    open_ws(page, world, f"?sel={runs[-1].run_id},{runs[-2].run_id}")
    head = page.locator("[data-section=System] .section-head")  # folded by default in the workspace
    drawn(page, "loss", 2)  # the saved layout has arrived: the section's state is the user's from here on
    if head.get_attribute("aria-expanded") != "true":
        head.click()
    page.wait_for_selector("[data-section=System] .section-head[aria-expanded=true]")
    cpu = drawn(page, "system/cpu", 2)
    assert "(%)" in chart(page, "system/cpu").locator(".chart-title").inner_text()
    assert "(MB)" in chart(page, "system/memory.process_mb").locator(".chart-title").inner_text()
    box = cpu.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    hover = chart(page, "system/cpu").locator("[data-testid=chart-hover]").inner_text()
    first = hover.splitlines()[0]
    assert re.fullmatch(r"\d+m(\d+s)?", first), first  # minutes since the run's first sample, not unix ms
    assert "%" in hover
    shot(page, "43-workspace-system")


def test_image_table_and_histogram_panels(page: Any, world: dict[str, Any]) -> None:
    runs = world["runs"]
    open_ws(page, world, f"?sel={runs[-1].run_id},{runs[-2].run_id}")
    images = chart(page, "samples")
    into_view(images)
    rows = images.locator(".images-row")
    rows.first.wait_for()
    assert rows.count() == 2  # both runs side by side
    harness.wait_js(page, "[...document.querySelectorAll('[data-metric=samples] img')].every(i => i.complete && i.naturalWidth > 0)")
    assert images.locator("[data-testid=media-step-value]").inner_text() == "step 200"
    assert images.locator("figcaption").first.inner_text() == f"{runs[-1].name} at 200"
    images.locator("[data-testid=media-step]").fill("1")
    assert images.locator("[data-testid=media-step-value]").inner_text() == "step 100"
    assert images.locator("figcaption").first.inner_text() == f"{runs[-1].name} at 100"
    shot(page, "44-panel-images")

    table = chart(page, "predictions")
    into_view(table)
    table.locator("[data-testid=media-table] tbody tr").first.wait_for()
    assert table.locator("[data-testid=table-count]").inner_text() == "3 rows"
    harness.wait_js(page, "[...document.querySelectorAll('[data-metric=predictions] td img')].filter(i => i.naturalWidth > 0).length === 2")
    table.locator("th[data-col=pred]").click()
    assert table.locator("tbody tr").first.inner_text().split("\t")[2].strip() == "bird"
    table.locator("th[data-col=pred]").click()
    assert table.locator("tbody tr").first.inner_text().split("\t")[2].strip() == "dog"
    table.locator("[data-testid=table-filter]").fill("cat")
    assert table.locator("[data-testid=table-count]").inner_text() == "2 of 3 rows"
    shot(page, "45-panel-table")

    hist = chart(page, "weights")
    into_view(hist)
    hist.locator("[data-testid=histogram-heatmap] canvas[data-drawn]").first.wait_for()
    assert hist.locator("[data-testid=histogram-heatmap]").count() == 2
    assert "step 0" in hist.inner_text() and "step 270" in hist.inner_text()
    shot(page, "46-panel-histogram")


def _drag(page: Any, source: Any, dx: float, dy: float) -> None:
    box = source.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()


def test_panels_added_edited_moved_resized_saved_and_shared(page: Any, world: dict[str, Any], browser: Any) -> None:
    open_ws(page, world)
    page.click("[data-testid=layout-menu]")
    page.click("[data-testid=reset-layout]")  # start from the automatic layout
    drawn(page, "loss", 10)
    charts = page.locator("[data-section=Charts]")
    # add a chart of two metrics on a log scale
    charts.locator("[data-testid=add-panel]").click()
    editor = page.locator("[data-testid=panel-editor]")
    editor.locator("[data-testid=editor-title]").fill("loss and acc")
    editor.locator(".picker-item:has-text('acc') input").first.check()
    editor.locator(".picker-item:has-text('loss') input").first.check()
    editor.locator("[data-testid=editor-log]").select_option("on")
    with page.expect_request(lambda r: r.method == "PUT" and r.url.endswith("/workspace")):
        editor.locator("[data-testid=editor-save]").click()
    added = charts.locator("[data-testid=chart-card]:has(.chart-title:text('loss and acc'))")
    added.locator(".chart-canvas[data-drawn][data-lines='20']").wait_for()  # 10 runs x 2 metrics
    # resize the loss chart to two columns with its corner handle
    loss = chart(page, "loss")
    with page.expect_request(lambda r: r.method == "PUT" and r.url.endswith("/workspace")):
        _drag(page, loss.locator("[data-testid=panel-resize]"), loss.bounding_box()["width"] * 0.9, 0)
    page.wait_for_selector("[data-testid=chart-card][data-metric=loss][data-w='2']")
    # move the new chart first: drag its grip onto the left half of the first card
    first = charts.locator("[data-testid=chart-card]").first
    with page.expect_request(lambda r: r.method == "PUT" and r.url.endswith("/workspace")):
        added.locator("[data-testid=panel-grip]").drag_to(first, target_position={"x": 10, "y": 40})
    order = charts.locator("[data-testid=chart-card] .chart-title").all_inner_texts()
    assert order[0] == "loss and acc", order
    shot(page, "47-panels-arranged")

    # the arrangement is saved for this user and project: a reload shows it again
    page.reload()
    page.wait_for_selector("[data-section=Charts] [data-testid=chart-card]")
    assert page.locator("[data-section=Charts] [data-testid=chart-card] .chart-title").first.inner_text() == "loss and acc"
    page.wait_for_selector("[data-testid=chart-card][data-metric=loss][data-w='2']")

    # shared by a link: another page opens the same arrangement, read-only until adopted
    page.click("[data-testid=share-view]")
    link = page.locator("[data-testid=share-link]")
    link.wait_for()
    url = link.input_value()
    assert "view=" in url
    other = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        p2 = other.new_page()
        harness.watch_console(p2)
        assert other.request.post(world["base"] + "/api/v1/auth/login", data={"username": ADMIN, "password": PASSWORD}).ok
        p2.goto(url)
        p2.wait_for_selector("[data-testid=shared-banner]")
        assert "shared by admin" in " ".join(p2.inner_text("[data-testid=shared-banner]").split())
        p2.wait_for_selector("[data-section=Charts] [data-testid=chart-card]")
        assert p2.locator("[data-section=Charts] [data-testid=chart-card] .chart-title").first.inner_text() == "loss and acc"
        shot(p2, "48-shared-view")
        assert not harness.unexpected_errors(p2), harness.unexpected_errors(p2)
        assert not p2.csp_violations, p2.csp_violations
    finally:
        other.close()

    # back to the automatic layout: the added chart is gone, the loss chart one column again
    page.click("[data-testid=layout-menu]")
    page.click("[data-testid=reset-layout]")
    page.wait_for_selector("[data-testid=chart-card][data-metric=loss][data-w='1']")
    assert page.locator(".chart-title:text('loss and acc')").count() == 0


def test_drag_handle_popups_on_screen_and_user_menu(page: Any, world: dict[str, Any]) -> None:
    open_ws(page, world)
    pane = page.locator("[data-testid=runs-pane]")
    before = pane.bounding_box()["width"]
    splitter = page.locator("[data-testid=splitter]")
    assert splitter.is_visible() and splitter.bounding_box()["width"] >= 6  # a handle one can see and grab
    _drag(page, splitter, 180, 0)
    after = pane.bounding_box()["width"]
    assert 160 < after - before < 200
    # the Columns pop-up opens inside the window and lets a config column be added
    page.click("[data-testid=column-picker]")
    pop = page.locator("[data-testid=column-pop]")
    pop.wait_for()
    harness.wait_js(page, "getComputedStyle(document.querySelector('[data-testid=column-pop]')).visibility !== 'hidden'")
    box = pop.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1440 and box["y"] + box["height"] <= 900
    pop.locator(".picker-item:has-text('batch_size')").click()
    page.wait_for_selector(".rt-th[data-col='config.batch_size']")
    shot(page, "49-columns-popup")
    page.keyboard.press("Escape")
    # the user menu names the user and its role
    page.click("[data-testid=user-menu]")
    menu = page.inner_text("[data-testid=user-pop]")
    assert "admin" in menu and "Instance admin" in menu
    assert page.inner_text("[data-testid=viewer-role]") == "admin"
    shot(page, "50-user-menu")
    # the table's width is part of the saved layout
    page.keyboard.press("Escape")
    page.reload()
    page.wait_for_selector("[data-testid=runs-table][data-ready='1']")
    assert abs(page.locator("[data-testid=runs-pane]").bounding_box()["width"] - after) < 3
