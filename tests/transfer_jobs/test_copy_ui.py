"""The button in Chromium: an admin registers a remote in Settings › Remote instances, clicks "Copy to
instance…" on a run, picks the remote, sees the copy's progress and result, reloads and still sees them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.ui import harness

from .conftest import Remote, WorkerProc

pytestmark = [pytest.mark.ui, pytest.mark.slow]

PASSWORD = "ui-password-1"


@pytest.fixture(scope="module")
def ui_worker(stack: Any, ui_server: Any, remote: Remote, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProc]:
    w = WorkerProc(stack, tmp_path_factory.mktemp("ui-worker"),
                   {"RUNYARD_DATABASE_URL": ui_server.dsn, "RUNYARD_TRANSFER_SOURCE_URL": ui_server.base_url}).start()
    try:
        yield w
    finally:
        w.stop()


def test_copy_to_instance_from_the_run_page(page: Any, ui_server: Any, remote: Remote, ui_worker: WorkerProc) -> None:
    base = ui_server.base_url
    harness.ensure_admin(base, "admin", PASSWORD)
    runs = harness.seed_project(ui_server.dsn, "admin", "uicopy", n_runs=2, metrics=["loss"], n_steps=20)
    resp = page.context.request.post(base + "/api/v1/auth/login", data={"username": "admin", "password": PASSWORD})
    assert resp.ok, resp.text()

    page.goto(base + "/-/settings/admin/remotes")
    page.fill("[data-testid=remote-name]", "company")
    page.fill("[data-testid=remote-url]", remote.base_url)
    page.fill("[data-testid=remote-key]", remote.api_key)
    page.click("[data-testid=remote-add]")
    row = page.locator("[data-remote=company]")
    row.wait_for()
    assert remote.api_key not in page.content() and "ok" in row.inner_text()
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / "settings-remotes.png"))  # docs/ui.md

    run_id = runs[0].run_id
    page.goto(f"{base}/admin/uicopy/runs/{run_id}")
    page.click("[data-testid=run-menu]")
    page.click("[data-testid=action-copy-run]")
    page.wait_for_selector("[data-testid=copy-dialog]")
    page.fill("[data-testid=copy-to-project]", "from-ui")
    page.click("[data-testid=copy-start]")
    job = page.locator("[data-testid=copy-job]").first
    job.wait_for()
    page.wait_for_selector("[data-testid=copy-job][data-state=succeeded]", timeout=120_000)
    assert page.locator(f"[data-testid=copy-runs] tr[data-run='{run_id}']").get_attribute("data-status") == "copied"
    assert "1 / 1 runs" in job.locator("[data-testid=copy-counts]").inner_text()

    page.reload()
    page.wait_for_selector("[data-testid=copy-job][data-state=succeeded]")
    page.locator("[data-testid=copy-job] .card-head .link-btn").first.click()
    page.wait_for_selector(f"[data-testid=copy-runs] tr[data-run='{run_id}'][data-status=copied]")
    assert "from-ui" in page.locator("[data-testid=copy-job]").first.inner_text()
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / "copies.png"))  # docs/ui.md
    assert remote.fetch("SELECT r.run_id FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = 'from-ui'") \
        == [{"run_id": run_id}]
