"""The run page as its team uses it: a member renames, tags, annotates a run that is still running (without
touching its ingest sequence) and deletes a run after a confirmation; a viewer of the team sees the run and
its alerts but no way to change it; a new user's empty projects page shows how to install the SDK, from
this instance's own package index when it serves one (GET /pypi/install.json).

One team project is seeded once for the module; each test opens its own page (conftest.py checks the console)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import db

from . import harness

pytestmark = [pytest.mark.ui]

ADMIN = "admin"
PASSWORD = "ui-password-1"
TEAM = "crew"
PROJECT = "edits"


def shot(page: Any, name: str) -> None:
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / f"{name}.png"))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def world(ui_server: Any) -> dict[str, Any]:
    base = ui_server.base_url
    harness.ensure_admin(base, ADMIN, PASSWORD)
    admin_key = harness.create_api_key(ui_server.dsn, ADMIN)
    keys = {}
    for user in ("writer", "reader", "newbie"):
        status, body = harness.http_json("POST", base + "/api/v1/admin/users", {"username": user, "password": PASSWORD},
                                         bearer(admin_key))
        assert status == 201, body
        keys[user] = body["api_key"]  # type: ignore[index]
    status, body = harness.http_json("POST", base + "/api/v1/teams", {"name": TEAM}, bearer(admin_key))
    assert status == 201, body
    for user, role in (("writer", "member"), ("reader", "viewer")):
        status, body = harness.http_json("POST", f"{base}/api/v1/teams/{TEAM}/members", {"username": user, "role": role},
                                         bearer(admin_key))
        assert status == 200, body
    runs = harness.seed_project(ui_server.dsn, TEAM, PROJECT, n_runs=6, metrics=["loss"], n_steps=20)
    live = next(r for r in runs if r.state == "running")
    # the live process has sent seven records: an edit from the UI must leave its sequence alone
    db.execute(ui_server.dsn, "UPDATE runs SET last_seq = 7 WHERE run_id = $1", live.run_id)
    for title, text, level, step in (("loss spiked", "loss 4.2 > 3.0 at step 12", "WARN", 12),
                                     ("NaN in gradients", "step 15: grad norm is NaN", "ERROR", 15)):
        status, body = harness.http_json("POST", f"{base}/api/v1/runs/{TEAM}/{PROJECT}/{live.run_id}/alerts",
                                         {"title": title, "text": text, "level": level, "step": step}, bearer(keys["writer"]))
        assert status == 201, body
    return {"base": base, "runs": runs, "live": live, "keys": keys, "dsn": ui_server.dsn}


def sign_in(page: Any, world: dict[str, Any], user: str) -> None:
    resp = page.context.request.post(world["base"] + "/api/v1/auth/login", data={"username": user, "password": PASSWORD})
    assert resp.ok, resp.text()


def open_run(page: Any, world: dict[str, Any], user: str, run_id: str) -> None:
    sign_in(page, world, user)
    page.goto(f"{world['base']}/{TEAM}/{PROJECT}/runs/{run_id}")
    page.wait_for_selector("[data-testid=run-name]")


def test_member_renames_tags_and_annotates_a_live_run(page: Any, world: dict[str, Any]) -> None:
    live = world["live"]
    open_run(page, world, "writer", live.run_id)
    assert page.locator(".run-head [data-state=running]").is_visible()
    page.click("[data-testid=run-edit]")
    dialog = page.locator("[data-testid=edit-run]")
    dialog.wait_for()
    assert dialog.locator("[data-testid=edit-name]").input_value() == live.name
    assert "The run is live" in dialog.inner_text()
    dialog.locator("[data-testid=edit-name]").fill("lr-warmup-fixed")
    for tag in live.tags:  # remove what the run had, add two of ours
        dialog.locator(f"[aria-label='remove tag {tag}']").click()
    dialog.locator("[data-testid=edit-tag-input]").fill("keep")
    dialog.locator("[data-testid=edit-tag-input]").press("Enter")
    dialog.locator("[data-testid=edit-tag-input]").fill("paper-fig-3,")
    dialog.locator("[data-testid=edit-notes]").fill("Warm-up fixed: loss no longer spikes at step 12.")
    assert dialog.locator("[data-testid=edit-tag]").all_inner_texts() == ["keep", "paper-fig-3"]
    shot(page, "55-run-edit")
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.status == 200):
        dialog.locator("[data-testid=edit-save]").click()
    dialog.wait_for(state="detached")
    # the page shows the change at once, and again after a reload: it is stored
    for _ in range(2):
        page.wait_for_selector("[data-testid=run-name]:text('lr-warmup-fixed')")
        assert page.locator("[data-testid=run-tag]").all_inner_texts() == ["keep", "paper-fig-3"]
        assert page.inner_text("[data-testid=run-notes]") == "Warm-up fixed: loss no longer spikes at step 12."
        page.reload()
    page.wait_for_selector("[data-testid=run-name]:text('lr-warmup-fixed')")
    # edited outside the ingest stream: the live process' sequence, state and heartbeat are untouched
    row = db.fetch(world["dsn"], "SELECT last_seq, state FROM runs WHERE run_id = $1", live.run_id)[0]
    assert (row["last_seq"], row["state"]) == (7, "running")
    # the workspace lists the run under its new name
    page.goto(f"{world['base']}/{TEAM}/{PROJECT}")
    page.wait_for_selector(f".rt-row[data-run-id={live.run_id}]:has-text('lr-warmup-fixed')")


def test_member_deletes_a_run_after_confirming(page: Any, world: dict[str, Any]) -> None:
    gone = next(r for r in world["runs"] if r.state == "finished")
    open_run(page, world, "writer", gone.run_id)
    page.click("[data-testid=run-menu]")
    page.click("[data-testid=menu-delete-run]")
    dialog = page.locator("[data-testid=delete-run]")
    dialog.wait_for()
    assert "cannot be undone" in dialog.inner_text()
    confirm = dialog.locator("[data-testid=delete-run-confirm]")
    assert confirm.is_disabled()  # nothing is deleted by one stray click
    dialog.locator("[data-testid=delete-confirm-name]").fill(gone.name[:-1])
    assert confirm.is_disabled()
    dialog.locator("[data-testid=delete-confirm-name]").fill(gone.name)
    shot(page, "56-run-delete")
    # Escape cancels: the run is still there
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    status, _ = harness.http_json("GET", f"{world['base']}/api/v1/runs/{TEAM}/{PROJECT}/{gone.run_id}", None,
                                  bearer(world["keys"]["writer"]))
    assert status == 200
    page.click("[data-testid=run-menu]")
    page.click("[data-testid=menu-delete-run]")
    dialog.locator("[data-testid=delete-confirm-name]").fill(gone.name)
    with page.expect_response(lambda r: r.request.method == "DELETE" and r.status == 204):
        dialog.locator("[data-testid=delete-run-confirm]").click()
    # back on the project's workspace, without the run
    page.wait_for_url(f"**/{TEAM}/{PROJECT}")
    page.wait_for_selector("[data-testid=runs-table][data-ready='1']")
    assert page.locator(f".rt-row[data-run-id={gone.run_id}]").count() == 0
    status, _ = harness.http_json("GET", f"{world['base']}/api/v1/runs/{TEAM}/{PROJECT}/{gone.run_id}", None,
                                  bearer(world["keys"]["writer"]))
    assert status == 404


def test_viewer_sees_alerts_but_cannot_edit(page: Any, world: dict[str, Any]) -> None:
    live = world["live"]
    open_run(page, world, "reader", live.run_id)
    alerts = page.locator("[data-testid=run-alerts]")
    alerts.wait_for()
    items = alerts.locator("[data-testid=run-alert]")
    assert items.count() == 2
    assert items.locator("[data-testid=alert-title]").all_inner_texts() == ["NaN in gradients", "loss spiked"]  # newest first
    assert [items.nth(i).get_attribute("data-level") for i in range(2)] == ["ERROR", "WARN"]
    assert "step 15" in items.first.inner_text() and "grad norm is NaN" in items.first.inner_text()
    assert alerts.locator("[data-testid=alerts-count]").inner_text() == "2"
    shot(page, "57-run-alerts")
    # a viewer of the team: no Edit button, no edit or delete in the menu
    assert page.locator("[data-testid=run-edit]").count() == 0
    page.click("[data-testid=run-menu]")
    page.wait_for_selector("[data-testid=run-menu-pop]")
    assert page.locator("[data-testid=menu-edit-run]").count() == 0
    assert page.locator("[data-testid=menu-delete-run]").count() == 0
    page.keyboard.press("Escape")
    # and the server agrees: the viewer's own edit is refused
    status, body = harness.http_json("PATCH", f"{world['base']}/api/v1/runs/{TEAM}/{PROJECT}/{live.run_id}",
                                     {"name": "hijacked"}, bearer(world["keys"]["reader"]))
    assert status == 403, body
    # a run without alerts shows no alerts card
    quiet = next(r for r in world["runs"] if r.state == "failed")
    page.goto(f"{world['base']}/{TEAM}/{PROJECT}/runs/{quiet.run_id}")
    page.wait_for_selector("[data-testid=run-overview]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=run-alerts]").count() == 0


def _tiny_sdk_wheel(folder: Path) -> None:
    """A wheel named and described like the SDK's, with no dependencies: what the index needs to offer the
    one-line install (the real wheels come from `runyard-server build-sdk-wheels`)."""
    name = "runyard-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(folder / name, "w") as zf:
        zf.writestr("runyard/__init__.py", "")
        zf.writestr("runyard-9.9.9.dist-info/METADATA", "Metadata-Version: 2.1\nName: runyard\nVersion: 9.9.9\n"
                    "Requires-Python: >=3.9\n")
        zf.writestr("runyard-9.9.9.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("runyard-9.9.9.dist-info/RECORD", "")


@pytest.fixture(scope="module")
def wheels_frontdoor(ui_server: Any, web_dist: Any, tmp_path_factory: Any) -> Iterator[str]:
    """A second front door on the same database, serving the SDK at /pypi/simple/."""
    folder = tmp_path_factory.mktemp("wheels")
    _tiny_sdk_wheel(folder)
    env = {**ui_server.service_env, "RUNYARD_SDK_WHEELS_DIR": str(folder)}
    with harness.frontdoor(env, ui_server.dsn, web_dist, ui_server.logs_dir) as base:
        yield base


def test_empty_state_shows_the_sdk_install_line(page: Any, world: dict[str, Any], wheels_frontdoor: str) -> None:
    # an instance without its own index: the public one
    sign_in(page, world, "newbie")
    page.goto(world["base"] + "/")
    page.wait_for_selector("text=No projects yet")
    assert page.inner_text("[data-testid=sdk-install]") == "pip install runyard"
    # an instance that serves the SDK: its own index, the command /pypi/install.json gives
    base = wheels_frontdoor
    resp = page.context.request.post(base + "/api/v1/auth/login", data={"username": "newbie", "password": PASSWORD})
    assert resp.ok, resp.text()
    page.goto(base + "/")
    page.wait_for_selector("text=No projects yet")
    harness.wait_js(page, "document.querySelector('[data-testid=sdk-install]')?.textContent.includes('/pypi/simple')")
    assert page.inner_text("[data-testid=sdk-install]") == f"pip install --index-url {base}/pypi/simple runyard"
    assert "runyard login --host " + base in page.inner_text(".sdk-snippet")
    shot(page, "58-empty-sdk-install")
