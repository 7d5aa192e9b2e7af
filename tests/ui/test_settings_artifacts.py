"""Settings and artifacts pages as a W&B user reaches for them: an API key made (shown once, working) and
revoked (no longer working), the password page, a team with a member, an admin's users, invites and audit
log; a project's artifacts by type and collection, a version's files (image preview, download) and its
lineage as a graph, and the run's Artifacts tab. conftest.py checks the console on every page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .test_ui_features import png_bytes

pytestmark = [pytest.mark.ui]

ADMIN = "admin"
PASSWORD = "ui-password-1"
PROJECT = "vision"


def shot(page: Any, name: str) -> None:
    harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(harness.SCREENSHOTS / f"{name}.png"))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def world(ui_server: Any, tmp_path_factory: Any) -> dict[str, Any]:
    from runyard.artifacts import Artifact, log_artifact, use_artifact

    base = ui_server.base_url
    harness.ensure_admin(base, ADMIN, PASSWORD)
    key = harness.create_api_key(ui_server.dsn, ADMIN)
    runs = harness.seed_project(ui_server.dsn, ADMIN, PROJECT, n_runs=3, metrics=["loss"], n_steps=10)
    d: Path = tmp_path_factory.mktemp("art")
    (d / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (d / "sample.png").write_bytes(png_bytes(48, 32))
    (d / "config.json").write_text(json.dumps({"layers": 4, "hidden": 256}))
    for i, producer in enumerate(runs[:2]):  # two versions, each logged by a run
        art = Artifact("digits-cnn", "model", description="A small CNN for the digits set",
                       metadata={"accuracy": 0.91 + i * 0.03, "epochs": 10 * (i + 1)})
        art.add_file(str(d / "weights.bin"), name=f"weights-{i}.bin")
        art.add_file(str(d / "sample.png"), name="sample.png")
        art.add_file(str(d / "config.json"), name="config.json")
        log_artifact(base, key, ADMIN, PROJECT, producer.run_id, art, aliases=["best"] if i == 1 else [], wait=30)
    data = Artifact("digits", "dataset")
    data.add_file(str(d / "config.json"), name="split.json")
    log_artifact(base, key, ADMIN, PROJECT, runs[0].run_id, data, wait=30)
    use_artifact(base, key, ADMIN, PROJECT, runs[2].run_id, "digits-cnn:best")  # the third run used v1
    return {"base": base, "runs": runs, "key": key}


def sign_in(page: Any, world: dict[str, Any], path: str) -> None:
    resp = page.context.request.post(world["base"] + "/api/v1/auth/login", data={"username": ADMIN, "password": PASSWORD})
    assert resp.ok, resp.text()
    page.goto(world["base"] + path)


def test_api_key_made_once_and_revoked(page: Any, world: dict[str, Any]) -> None:
    sign_in(page, world, "/-/settings")
    page.wait_for_selector("[data-testid=keys-table]")
    page.fill("[data-testid=key-name]", "laptop")
    page.click("[data-testid=create-key]")
    secret = page.locator("[data-testid=new-key] [data-testid=secret]").inner_text()
    assert secret.startswith("ry-")  # the key format the wandb client accepts (docs/auth.md)
    row = page.locator("[data-testid=keys-table] tr[data-key-name=laptop]")
    row.wait_for()
    assert secret not in page.inner_text("[data-testid=keys-table]")  # only its prefix is listed
    status, viewer = harness.http_json("GET", world["base"] + "/api/v1/viewer", None, bearer(secret))
    assert status == 200 and viewer["username"] == ADMIN  # type: ignore[index]
    shot(page, "60-settings-keys")
    page.click("[data-testid=new-key] button:text('Done')")
    assert page.locator("[data-testid=new-key]").count() == 0  # shown once: gone for good
    row.locator("[data-testid=revoke-key]").click()
    row.locator("[data-testid=revoke-key-confirm]").click()
    row.wait_for(state="detached")
    status, _ = harness.http_json("GET", world["base"] + "/api/v1/viewer", None, bearer(secret))
    assert status == 401


def test_password_teams_and_admin_pages(page: Any, world: dict[str, Any]) -> None:
    sign_in(page, world, "/-/settings/password")
    page.wait_for_selector("[data-testid=password-settings]")
    assert page.locator("[data-testid=password-settings] input[type=password]").count() >= 2
    shot(page, "61-settings-password")
    # an admin makes a user (its first key shown once), then a team with that user as a viewer
    page.click("[data-testid=settings-nav] >> text=Users")
    page.wait_for_selector("[data-testid=users-table]")
    page.fill("[data-testid=new-user-name]", "carol")
    page.click("[data-testid=create-user]")
    page.wait_for_selector("[data-testid=user-secret]")
    page.wait_for_selector("[data-testid=users-table] >> text=carol")
    shot(page, "62-admin-users")
    page.click("[data-testid=settings-nav] >> text=Teams")
    page.fill("[data-testid=team-name]", "research")
    page.click("[data-testid=create-team]")
    page.click("[data-testid=teams-table] >> text=research")
    page.wait_for_selector("[data-testid=team-members]")
    page.fill("[data-testid=member-name]", "carol")
    page.select_option("[data-testid=member-role]", "viewer")
    page.click("[data-testid=add-member]")
    carol = page.locator("[data-testid=members-table] tr:has-text('carol')")
    carol.wait_for()
    assert carol.locator("[data-testid=member-role-select]").input_value() == "viewer"
    shot(page, "63-team")
    # an invite link, and the audit log naming what was just done
    page.click("[data-testid=settings-nav] >> text=Invites")
    page.click("[data-testid=create-invite]")
    link = page.locator("[data-testid=invite-link] [data-testid=secret]").inner_text()
    assert "invite=" in link, link
    shot(page, "64-admin-invites")
    page.click("[data-testid=settings-nav] >> text=Audit")
    page.wait_for_selector("[data-testid=audit-table] tbody tr")
    audit = page.inner_text("[data-testid=audit-table]")
    assert "carol" in audit and "research" in audit, audit[:500]
    shot(page, "65-admin-audit")


def test_artifacts_page_version_files_and_lineage(page: Any, world: dict[str, Any]) -> None:
    runs = world["runs"]
    sign_in(page, world, f"/{ADMIN}/{PROJECT}/artifacts")
    tree = page.locator("[data-testid=artifact-tree]")
    tree.wait_for()
    assert [t.lower() for t in tree.locator(".picker-title").all_inner_texts()] == ["dataset 1", "model 1"]  # by type
    tree.locator("[data-artifact=digits-cnn]").click()
    versions = page.locator("[data-testid=artifact-versions][data-name=digits-cnn]")
    versions.wait_for()
    assert versions.locator("tr[data-version]").evaluate_all("rows => rows.map(r => r.dataset.version)") == ["v1", "v0"]
    v1 = versions.locator("tr[data-version=v1]")
    assert "best" in v1.inner_text() and "latest" in v1.inner_text()
    page.wait_for_selector(f"[data-testid=artifact-versions] tr[data-version=v1] >> text={runs[1].run_id}")  # created by
    shot(page, "66-artifacts")

    v1.locator("a.strong-link").click()
    page.wait_for_selector("[data-testid=artifact-title]:text('digits-cnn:v1')")
    assert sorted(page.locator("[data-testid=artifact-alias]").all_inner_texts()) == ["best", "latest"]
    meta = page.inner_text("[data-testid=artifact-metadata]")
    assert "accuracy" in meta and "0.94" in meta and "epochs" in meta
    files = page.locator("[data-testid=artifact-files]")
    files.locator("[data-path='sample.png']").click()
    page.wait_for_selector("[data-testid=artifact-file][data-path='sample.png']")
    harness.wait_js(page, "document.querySelector('[data-testid=artifact-image]')?.naturalWidth === 48")
    assert page.locator("[data-testid=artifact-download]").get_attribute("href")
    # lineage: the run that logged it on the left, the run that used it on the right
    producer = page.locator("[data-testid=lineage-producer]")
    consumer = page.locator("[data-testid=lineage-consumer]")
    assert producer.count() == 1 and runs[1].run_id in (producer.text_content() or "")
    assert consumer.count() == 1 and runs[2].run_id in (consumer.text_content() or "")
    shot(page, "67-artifact-version")
    consumer.click()  # a node is a link to its run
    page.wait_for_url(f"**/runs/{runs[2].run_id}")

    # the run's Artifacts tab: what it used
    page.click("[data-testid=tab-artifacts]")
    page.wait_for_selector("[data-artifact] >> text=digits-cnn:v1")
    shot(page, "68-run-artifacts")
