"""Browser tests of the runs filter language, grouping, chart x-axes, run files (code, image, notebook), the
console log tail, the code comparer and SSE live updates (see conftest.py for the server and browser)."""

from __future__ import annotations

import json
import os
import re
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from . import harness

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ADMIN = "admin"
PASSWORD = "ui-password-1"
PROJECT = "feat"
N_RUNS = 30
METRICS = ["loss", "acc"]
N_STEPS = 400

TRAIN_A = '''import torch


def train(lr: float) -> float:
    """One epoch."""
    model = torch.nn.Linear(10, 1)
    hidden = 64
    for step in range(100):
        loss = model(torch.randn(4, 10)).pow(2).mean()
    return float(loss)
'''
TRAIN_B = TRAIN_A.replace("hidden = 64", "hidden = 128")

EVIL_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"language_info": {"name": "python"}},
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Training notes\n", "Some **bold** text.\n",
                                                             "<img src=x onerror=\"window.__pwned='md'\">"]},
        {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": ["import math\n", "print(math.pi)"],
         "outputs": [
             {"output_type": "stream", "name": "stdout", "text": ["3.141592653589793\n"]},
             {"output_type": "display_data", "metadata": {}, "data": {
                 "text/html": ["<b class='ok'>rendered html</b><script>window.__pwned='script'</script>",
                               "<img src=x onerror=\"window.__pwned='img'\">",
                               "<a href=\"javascript:window.__pwned='link'\">link</a>"],
                 "text/plain": ["<HTML>"]}},
             {"output_type": "execute_result", "execution_count": 3, "metadata": {},
              "data": {"text/plain": ["42"]}},
         ]},
        {"cell_type": "code", "execution_count": 4, "metadata": {}, "source": "1 / 0",
         "outputs": [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
                      "traceback": ["\u001b[31mZeroDivisionError\u001b[0m: division by zero"]}]},
    ],
}


def png_bytes(width: int = 48, height: int = 32) -> bytes:
    """A small RGB gradient PNG, written by hand (no imaging library needed)."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 5 % 256, y * 8 % 256, 160)) for y in range(height)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def shot(page: Any, name: str, full_page: bool = False) -> None:
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / f"{name}.png"), full_page=full_page)


def login(page: Any, base_url: str) -> None:
    resp = page.context.request.post(base_url + "/api/v1/auth/login", data={"username": ADMIN, "password": PASSWORD})
    assert resp.ok, resp.text()


@pytest.fixture(scope="module")
def admin(ui_server: Any) -> str:
    harness.ensure_admin(ui_server.base_url, ADMIN, PASSWORD)
    return ui_server.base_url


@pytest.fixture(scope="module")
def key(ui_server: Any, admin: str) -> str:
    return harness.create_api_key(ui_server.dsn, ADMIN)


@pytest.fixture(scope="module")
def seeded(ui_server: Any, admin: str) -> list[harness.SeededRun]:
    runs = harness.seed_project(ui_server.dsn, ADMIN, PROJECT, n_runs=N_RUNS, metrics=METRICS, n_steps=N_STEPS)
    steps = np.arange(N_STEPS)
    # run 0 also has wall-clock times (one step every 2 s) for the time x-axes
    harness.put_history(ui_server.dsn, ADMIN, PROJECT, runs[0].run_id, "_timestamp", steps, 1.7e9 + 2.0 * steps)
    return runs


@pytest.fixture(scope="module")
def files(ui_server: Any, admin: str, key: str, seeded: list[harness.SeededRun], tmp_path_factory: Any) -> dict[str, str]:
    """Run files uploaded through the artifact REST API (the SDK's upload helper): code, an image, a notebook."""
    from runyard.artifacts import upload_run_files

    d = tmp_path_factory.mktemp("runfiles")
    (d / "a.py").write_text(TRAIN_A)
    (d / "b.py").write_text(TRAIN_B)
    (d / "sample.png").write_bytes(png_bytes())
    (d / "nb.ipynb").write_text(json.dumps(EVIL_NOTEBOOK))
    (d / "req.txt").write_text("numpy==2.1.0\ntorch==2.5.1\n")
    a, b = seeded[0].run_id, seeded[1].run_id
    upload_run_files(admin, key, ADMIN, PROJECT, a, {
        "code/train.py": d / "a.py", "media/images/sample.png": d / "sample.png", "code/notes.ipynb": d / "nb.ipynb",
        "requirements.txt": d / "req.txt"})
    upload_run_files(admin, key, ADMIN, PROJECT, b, {"code/train.py": d / "b.py", "code/notes.ipynb": d / "nb.ipynb"})
    return {"a": a, "b": b}


def open_workspace(page: Any, base: str, query: str = "", ready: str = "[data-testid=runs-table][data-ready='1']") -> None:
    login(page, base)
    page.goto(f"{base}/{ADMIN}/{PROJECT}{query}")
    page.wait_for_selector(ready)


# ---------------------------------------------------------------- runs table

def test_filter_expression_and_its_errors(page: Any, admin: str, seeded: list[harness.SeededRun]) -> None:
    open_workspace(page, admin)
    expr = 'config.lr < 0.01 and (state = finished or tags contains "sweep")'
    expected = [r for r in seeded if r.config["lr"] < 0.01 and (r.state == "finished" or "sweep" in r.tags)]
    assert 0 < len(expected) < N_RUNS
    page.fill("[data-testid=runs-expr]", expr)
    page.press("[data-testid=runs-expr]", "Enter")
    harness.wait_js(page,
        f"document.querySelector('[data-testid=runs-count]').textContent.startsWith('{len(expected)} runs')")
    shown = set(page.eval_on_selector_all(".rt-row", "rows => rows.map(r => r.dataset.runId)"))
    assert shown == {r.run_id for r in expected}
    assert "filter=" in page.url  # shareable
    shot(page, "20-runs-filter-expression")

    # the same URL in a fresh page gives the same table
    page.goto(page.url)
    page.wait_for_selector("[data-testid=runs-table][data-ready='1']")
    assert page.input_value("[data-testid=runs-expr]") == expr

    page.fill("[data-testid=runs-expr]", "config.lr < and state = finished")
    page.press("[data-testid=runs-expr]", "Enter")
    err = page.wait_for_selector("[data-testid=runs-expr-error]")
    text = err.inner_text()
    assert "position 13" in text and "expected a value" in text
    shot(page, "21-runs-filter-error")


def test_group_by_config_key(page: Any, admin: str, seeded: list[harness.SeededRun]) -> None:
    open_workspace(page, admin, "?groupby=config.optimizer.name&gmetric=summary.loss", ready="[data-testid=groups-view]")
    rows = page.locator("[data-testid=group-row]")
    assert rows.count() == 2
    text = page.inner_text("[data-testid=groups-view]")
    assert "adam" in text and "sgd" in text and "mean" in text
    adam = [r.summary["loss"] for r in seeded if r.config["optimizer"]["name"] == "adam"]
    assert f"{len(adam)}" in rows.nth(0).inner_text() or f"{len(adam)}" in rows.nth(1).inner_text()
    shot(page, "22-runs-grouped")


def test_ten_thousand_runs_sort_by_summary_on_the_server(page: Any, admin: str, ui_server: Any) -> None:
    """`order=-summary.loss` is applied by PostgreSQL (checked through the API the table uses)."""
    login(page, admin)
    r = page.context.request.get(f"{admin}/api/v1/projects/{ADMIN}/{PROJECT}/runs?order=-summary.loss&limit=5"
                                 "&fields=name,summary")
    losses = [x["summary"]["loss"] for x in r.json()["runs"]]
    assert losses == sorted(losses, reverse=True)


# ---------------------------------------------------------------- charts

def test_chart_x_axis_switch(page: Any, admin: str, seeded: list[harness.SeededRun]) -> None:
    run = seeded[0]
    open_workspace(page, admin, f"?sel={run.run_id}")
    chart = page.locator("[data-testid=chart-card][data-metric=loss]")
    chart.locator(".chart-canvas[data-drawn]").wait_for()
    with page.expect_request(re.compile(r"/history\?.*x=_timestamp")):
        page.select_option("[data-testid=x-axis]", "relative")
    assert "x=relative" in page.url
    chart.locator(".chart-canvas[data-drawn]").wait_for()
    box = chart.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    hover = chart.locator("[data-testid=chart-hover]").inner_text()
    assert re.search(r"\d+m(\d+s)?", hover), hover  # ~400 s in: shown as minutes
    shot(page, "23-chart-x-relative")
    page.mouse.move(0, 0)
    with page.expect_request(re.compile(r"/history\?.*x=acc")):
        page.select_option("[data-testid=x-axis]", "acc")
    chart.locator(".chart-canvas[data-drawn]").wait_for()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    assert "acc" in chart.locator("[data-testid=chart-hover]").inner_text()
    shot(page, "24-chart-x-metric")
    page.select_option("[data-testid=x-axis]", "wall")
    chart.locator(".chart-canvas[data-drawn]").wait_for()
    page.select_option("[data-testid=x-axis]", "step")
    assert "x=" not in page.url


# ---------------------------------------------------------------- run page

def test_file_viewer_code_and_image(page: Any, admin: str, files: dict[str, str]) -> None:
    login(page, admin)
    page.goto(f"{admin}/{ADMIN}/{PROJECT}/runs/{files['a']}?tab=files&file=code/train.py")
    view = page.wait_for_selector("[data-testid=file-viewer][data-path='code/train.py'] [data-testid=code-view]")
    assert "def train(lr: float)" in view.inner_text()
    assert page.locator("[data-testid=code-view] .hljs-keyword").count() > 3  # highlighted
    assert page.locator("[data-testid=file-tree] [data-path='media/images/sample.png']").count() == 1
    shot(page, "25-file-viewer-code")
    page.click("[data-testid=file-tree] [data-path='media/images/sample.png']")
    img = page.wait_for_selector("[data-testid=image-view]")
    harness.wait_js(page, "document.querySelector('[data-testid=image-view]').naturalWidth === 48")
    assert img.get_attribute("src").endswith("sample.png?redirect=true")
    assert "file=media" in page.url
    shot(page, "26-file-viewer-image")


def test_notebook_renders_sanitized(page: Any, admin: str, files: dict[str, str]) -> None:
    login(page, admin)
    page.goto(f"{admin}/{ADMIN}/{PROJECT}/runs/{files['a']}?tab=files&file=code/notes.ipynb")
    nb = page.wait_for_selector("[data-testid=notebook]")
    page.wait_for_selector("[data-testid=notebook] .nb-html b.ok")
    page.wait_for_timeout(800)  # give any injected handler the chance to fire
    assert page.evaluate("window.__pwned") is None
    assert page.locator("[data-testid=notebook] script").count() == 0
    assert page.locator("[data-testid=notebook] [onerror]").count() == 0
    assert page.locator("[data-testid=notebook] a[href^='javascript']").count() == 0
    text = nb.inner_text()
    assert "Training notes" in text and "[3]:" in text and "3.141592653589793" in text and "Out[3]:" in text
    assert "ZeroDivisionError: division by zero" in text and "\u001b" not in text
    assert page.locator("[data-testid=notebook] h1").inner_text() == "Training notes"
    shot(page, "27-notebook", full_page=True)
    # DOMPurify parses the hostile HTML in an inert document, where Chromium still tries the two `onerror`
    # handlers; the Content-Security-Policy blocks them (and reports it): expected, and nothing ran
    handlers = [v for v in page.csp_violations if "inline event handler" in v]
    assert len(handlers) <= 2
    page.csp_violations[:] = [v for v in page.csp_violations if v not in handlers]


def test_console_log_tail(page: Any, admin: str, ui_server: Any, seeded: list[harness.SeededRun]) -> None:
    run = next(r for r in seeded if r.state == "running")
    harness.put_output(ui_server.dsn, ADMIN, PROJECT, run.run_id,
                       [("stdout", f"epoch {i} loss={1 / (i + 1):.4f}") for i in range(60)]
                       + [("stderr", "warning: learning rate is high")], first=0)
    login(page, admin)
    page.goto(f"{admin}/{ADMIN}/{PROJECT}/runs/{run.run_id}?tab=logs")
    body = page.wait_for_selector("[data-testid=console-body]")
    assert "warning: learning rate is high" in body.inner_text()
    assert page.locator(".console-line.stderr").count() == 1
    page.wait_for_selector("[data-testid=live-mode], .run-head")  # the page is up
    # new lines: the stream tells the page, which asks only for the lines after the last one it has
    harness.put_output(ui_server.dsn, ADMIN, PROJECT, run.run_id, [("stdout", "epoch 60 loss=0.0164 (new)")], first=61)
    with page.expect_request(re.compile(r"/output\?after=60")):
        harness.publish_run_change(ui_server.service_env, ui_server.dsn, ADMIN, PROJECT, run.run_id)
    harness.wait_js(page,
        "document.querySelector('[data-testid=console-body]').textContent.includes('epoch 60 loss=0.0164 (new)')",
        timeout=5000)
    # scrolled to the end
    assert page.evaluate(
        "(() => { const e = document.querySelector('[data-testid=console-body]'); "
        "return e.scrollTop + e.clientHeight >= e.scrollHeight - 5; })()")
    shot(page, "28-console-log")


def test_run_overview_code_and_media(page: Any, admin: str, ui_server: Any, key: str, files: dict[str, str],
                                     tmp_path: Path) -> None:
    from runyard.artifacts import upload_run_files

    run_id = files["a"]
    meta = {"program": "train.py", "args": ["--lr", "0.01"], "python": "3.11.9",
            "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "branch": "main", "dirty": True,
                    "remote": "git@github.com:acme/cnn.git"}}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    (tmp_path / "diff.patch").write_text("--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-hidden = 64\n+hidden = 128\n")
    upload_run_files(admin, key, ADMIN, PROJECT, run_id, {"metadata.json": tmp_path / "metadata.json",
                                                          "diff.patch": tmp_path / "diff.patch"})
    login(page, admin)
    page.goto(f"{admin}/{ADMIN}/{PROJECT}/runs/{run_id}")
    info = page.wait_for_selector("[data-testid=run-command]")
    assert info.inner_text() == "python train.py --lr 0.01"
    assert page.inner_text("[data-testid=run-commit]").startswith("0123456789ab")
    page.click("[data-testid=toggle-diff]")
    assert "+hidden = 128" in page.inner_text("[data-testid=run-diff]")
    shot(page, "29-run-overview-code", full_page=True)


# ---------------------------------------------------------------- code comparer

def test_compare_code_highlights_the_changed_line(page: Any, admin: str, files: dict[str, str]) -> None:
    open_workspace(page, admin, f"?sel={files['a']},{files['b']}")
    page.click("[data-testid=compare-code]")
    page.wait_for_url(re.compile(rf"/compare\?a={files['a']}&b={files['b']}"))
    diff = page.wait_for_selector("[data-testid=file-diff][data-path='code/train.py']")
    changed = page.locator(".diff-row[data-kind=changed]")
    assert changed.count() == 1
    row = changed.first.inner_text()
    assert "hidden = 64" in row and "hidden = 128" in row
    assert "1 changed line" in diff.inner_text()
    # the config diff sits next to it
    cfg = page.inner_text("[data-testid=config-diff]")
    assert "lr" in cfg
    shot(page, "30-compare-code", full_page=True)
    # notebooks are compared by their code cells
    page.click("[data-testid=compare-files] >> text=notes.ipynb")
    nb = page.wait_for_selector("[data-testid=file-diff][data-path='code/notes.ipynb']")
    assert "identical" in nb.inner_text() and "print(math.pi)" in nb.inner_text()


# ---------------------------------------------------------------- live

def test_sse_live_update_without_polling(page: Any, admin: str, ui_server: Any, seeded: list[harness.SeededRun],
                                         tmp_path: Any, monkeypatch: Any) -> None:
    """A run logged by the SDK appears in the open table within 2 s, through SSE, with no polling requests."""
    import runyard

    for k in [k for k in os.environ if k.startswith("RUNYARD_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path / "config"))
    key = harness.create_api_key(ui_server.dsn, ADMIN)
    requests: list[tuple[float, str]] = []
    with harness.ingest(ui_server.service_env, ui_server.dsn, ui_server.ingest_port, ui_server.logs_dir):
        open_workspace(page, admin)
        page.wait_for_selector("[data-testid=live-mode][data-mode=live]")
        page.on("request", lambda r: requests.append((time.time(), r.url)) if "/api/" in r.url else None)
        page.wait_for_timeout(5000)  # longer than the polling interval: a poller would have asked by now
        assert requests == [], f"the idle page made requests: {requests}"

        run = runyard.init(project=PROJECT, entity=ADMIN, config={"lr": 0.5}, dir=str(tmp_path),
                           settings={"base_url": admin, "api_key": key, "system_metrics": False})
        try:
            t_log = time.time()
            run.log({"loss": 1.0, "acc": 0.1})
            page.wait_for_selector(f".rt-row[data-run-id='{run.id}']", timeout=10000)
            appeared = time.time() - t_log
            assert appeared < 2.0, f"the new run showed after {appeared:.2f} s"
            shot(page, "31-live-sse-new-run")
            # its chart moves: logging more steps makes the page refetch its history
            for step in range(1, 30):
                run.log({"loss": 1.0 / (step + 1), "acc": step / 30})
            harness.wait_js(page,
                "[...document.querySelectorAll('[data-testid=chart-card][data-metric=loss]')].length > 0", timeout=10000)
            deadline = time.time() + 10
            while time.time() < deadline:
                if any(f"/runs/{ADMIN}/{PROJECT}/{run.id}/history" in u for _, u in requests):
                    break
                page.wait_for_timeout(100)
        finally:
            run.finish()
        page.wait_for_selector(f".rt-row[data-run-id='{run.id}'] [data-state=finished]", timeout=10000)
    api = [u for _, u in requests]
    # every runs-list request was an event-driven incremental refresh, never a full reload or a timer
    runs_calls = [u for u in api if re.search(r"/projects/[^/]+/[^/]+/runs\?", u)]
    assert runs_calls and all("updated_since=" in u for u in runs_calls), runs_calls
    assert any(f"/{run.id}/history" in u for u in api)
    assert page.get_attribute("[data-testid=live-mode]", "data-mode") == "live"


def test_media_panels(page: Any, admin: str, ui_server: Any, key: str, files: dict[str, str], tmp_path: Path) -> None:
    """Images per step with captions and a step slider, a table-file as a table, a histogram as bars."""
    from runyard.artifacts import upload_run_files

    run_id = files["a"]
    table = {"columns": ["id", "pred", "true"], "data": [[0, "cat", "cat"], [1, "dog", "cat"]]}
    (tmp_path / "t.table.json").write_text(json.dumps(table))
    (tmp_path / "other.png").write_bytes(png_bytes(28, 28))
    upload_run_files(admin, key, ADMIN, PROJECT, run_id, {"media/tables/preds_5.table.json": tmp_path / "t.table.json",
                                                          "media/images/samples_5.png": tmp_path / "other.png"})
    harness.put_json_history(ui_server.dsn, ADMIN, PROJECT, run_id, "samples", [
        (0, {"_type": "image-file", "format": "png", "path": "media/images/sample.png", "width": 48, "height": 32,
             "caption": "pred 3 / true 3"}),
        (5, {"_type": "image-file", "format": "png", "path": "media/images/samples_5.png", "width": 28, "height": 28,
             "caption": "pred 1 / true 7",
             "boxes": {"pred": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.6, "minY": 0.2, "maxY": 0.7},
                                               "class_id": 1}], "class_labels": {"1": "digit"}}}}),
    ])
    harness.put_json_history(ui_server.dsn, ADMIN, PROJECT, run_id, "preds", [
        (5, {"_type": "table-file", "ncols": 3, "nrows": 2, "path": "media/tables/preds_5.table.json"})])
    harness.put_json_history(ui_server.dsn, ADMIN, PROJECT, run_id, "weights", [
        (5, {"_type": "histogram", "values": [1, 4, 9, 4, 1], "bins": [-1.0, -0.6, -0.2, 0.2, 0.6, 1.0]})])
    login(page, admin)
    page.goto(f"{admin}/{ADMIN}/{PROJECT}/runs/{run_id}?tab=media")
    panel = page.wait_for_selector("[data-testid=media-panel][data-key=samples]")
    assert "pred 1 / true 7" in panel.inner_text()  # the latest step first
    harness.wait_js(page,
        "[...document.querySelectorAll('[data-key=samples] img')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("[data-key=samples] svg.media-boxes rect").count() == 1
    page.fill("[data-key=samples] [data-testid=media-step]", "0")
    harness.wait_js(page,
        "document.querySelector('[data-key=samples]').textContent.includes('pred 3 / true 3')")
    table_el = page.wait_for_selector("[data-testid=media-table]")
    assert "dog" in table_el.inner_text()
    assert page.locator("[data-testid=media-histogram] .hist-bar").count() == 5
    shot(page, "32-media", full_page=True)
